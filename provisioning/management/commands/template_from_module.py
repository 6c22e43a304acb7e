import json

from django.core.management import BaseCommand, CommandError

from catalog.models import ResourceKind
from provisioning.drivers.terraform.engine import TerraformError
from provisioning.drivers.terraform.templates import template_from_module


class Command(BaseCommand):
    help = "Make (or update) a self-service template from a Terraform module: its variables become the form."

    def add_arguments(self, parser):
        parser.add_argument(
            "path", help="module folder (under provisioning/drivers/terraform/modules or TERRAFORM_MODULE_PATHS)"
        )
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", default="")
        parser.add_argument("--kind", default="terraform", choices=ResourceKind.values)
        parser.add_argument(
            "--fixed", default="{}", help='JSON of variables the Keeper fixes, e.g. {"region": "eu-west-1"}'
        )

    def handle(self, *args, path, slug, name, kind, fixed, **options):
        try:
            template = template_from_module(path=path, slug=slug, name=name, kind=kind, fixed=json.loads(fixed))
        except (TerraformError, ValueError) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from exc
        fields = ", ".join(template.parameters_schema.get("properties", {})) or "none"
        self.stdout.write(f"Template '{template.slug}' (version {template.version}) asks for: {fields}.")
