"""Idempotent initial data: the keepers group, the demo team, the `keeper` account, then each app's own data."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import BaseCommand, call_command, get_commands
from django.db import transaction

from portal.models import Membership, Team
from portal.permissions import KEEPERS_GROUP

# Commands of the apps that load their initial data; each is idempotent. Run in this order when present.
APP_LOADERS = ["provisioning_load", "catalog_load", "guides_sync", "radar_load", "projects_load"]


class Command(BaseCommand):
    help = "Create the initial data (safe to run any number of times)."

    def handle(self, *args, **options):
        with transaction.atomic():
            keepers, _ = Group.objects.get_or_create(name=KEEPERS_GROUP)
            team, _ = Team.objects.get_or_create(
                slug="demo",
                defaults={"name": "Demo team", "description": "A team to try the portal with."},
            )
            platform, _ = Team.objects.get_or_create(
                slug="keepers",
                defaults={"name": "Keepers (platform team)", "description": "The people who run the platform."},
            )
            keeper = self._ensure_keeper(keepers)
            Membership.objects.get_or_create(user=keeper, team=team, defaults={"role": Membership.Role.ADMIN})
            Membership.objects.get_or_create(user=keeper, team=platform, defaults={"role": Membership.Role.ADMIN})
        available = get_commands()
        for name in APP_LOADERS:
            if name in available:
                call_command(name, verbosity=options["verbosity"])

    def _ensure_keeper(self, keepers):
        User = get_user_model()
        user = User.objects.filter(username="keeper").first()
        if user is None:
            password = settings.PORTAL_ADMIN_PASSWORD or secrets.token_urlsafe(12)
            user = User.objects.create_user(
                "keeper", email="keeper@localhost", password=password, is_staff=True, is_superuser=True
            )
            if settings.PORTAL_ADMIN_PASSWORD:
                self.stdout.write("Created the Keeper account 'keeper' with the password from PORTAL_ADMIN_PASSWORD.")
            else:
                self.stdout.write(
                    self.style.WARNING(
                        f"Created the Keeper account 'keeper' with password: {password}\n"
                        "It is shown only this once; set PORTAL_ADMIN_PASSWORD to choose your own."
                    )
                )
        elif settings.PORTAL_ADMIN_PASSWORD and not user.check_password(settings.PORTAL_ADMIN_PASSWORD):
            user.set_password(settings.PORTAL_ADMIN_PASSWORD)
            user.save(update_fields=["password"])
            self.stdout.write("Set the password of 'keeper' from PORTAL_ADMIN_PASSWORD.")
        user.groups.add(keepers)
        return user
