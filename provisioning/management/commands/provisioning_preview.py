import json

from django.core.management import BaseCommand, CommandError

from catalog.models import Template
from portal.models import Team
from provisioning.services import resource_preview


class Command(BaseCommand):
    help = "Show what a template would make with these parameters, without making it (Terraform: the plan)."

    def add_arguments(self, parser):
        parser.add_argument("template")
        parser.add_argument("--parameters", default="{}", help="JSON object of parameters")
        parser.add_argument("--team", default="demo")
        parser.add_argument("--name", default="preview")

    def handle(self, *args, template, parameters, team, name, **options):
        found = Template.objects.filter(slug=template).first()
        if found is None:
            raise CommandError(f"No template '{template}'.")
        # The team only names things in a preview; one that does not exist yet is fine.
        team_obj = Team.objects.filter(slug=team).first() or Team(slug=team, name=team)
        try:
            values = json.loads(parameters)
        except ValueError as exc:
            raise CommandError(f"--parameters is not JSON: {exc}") from exc
        self.stdout.write(resource_preview(template=found, team=team_obj, name=name, parameters=values))
