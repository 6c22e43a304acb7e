import json
import uuid

import yaml
from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError

from catalog.models import Template
from portal.models import Team
from provisioning.drivers import DriverError, get_driver
from provisioning.models import Resource
from provisioning.parameters import parameters_validate


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
        clean, errors = parameters_validate(found.parameters_schema, json.loads(parameters))
        if errors:
            raise CommandError("; ".join(f"{k}: {v}" for k, v in errors.items()))
        team_obj = Team.objects.filter(slug=team).first() or Team(slug=team, name=team)
        resource = Resource(
            id=uuid.uuid4(),
            team=team_obj,
            owner=get_user_model()(username="preview"),
            template=found,
            kind=found.resource_kind,
            driver=found.driver,
            name=name,
            parameters={**found.defaults, **clean},
        )
        try:
            result = get_driver(found.driver, found.resource_kind).preview(resource)
        except DriverError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(result if isinstance(result, str) else yaml.safe_dump_all(result, sort_keys=False))
