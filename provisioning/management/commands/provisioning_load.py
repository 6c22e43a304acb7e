"""Create or update the default templates (idempotent)."""

from pathlib import Path

import yaml
from django.core.management import BaseCommand

from catalog.models import Template
from provisioning.drivers.terraform.engine import module_path
from provisioning.drivers.terraform.schema import module_schema

DEFAULTS = Path(__file__).resolve().parents[2] / "default_templates.yaml"
KUBE_PROFILES = Path(__file__).resolve().parents[2] / "kube_profiles.yaml"


def with_profiles(fields: dict) -> dict:
    """`config: {profiles: default}` takes the bundled Kubernetes profiles."""
    config = dict(fields.get("config") or {})
    if config.get("profiles") == "default":
        config["profiles"] = yaml.safe_load(KUBE_PROFILES.read_text())
    return {**fields, "config": config}  # Template.save() makes the form's choices follow the profiles


class Command(BaseCommand):
    help = "Load the default provisioning templates; keeps Keepers' edits unless the file has a newer version."

    def handle(self, *args, **options):
        created = updated = 0
        for item in yaml.safe_load(DEFAULTS.read_text()):
            fields = {k: v for k, v in item.items() if k not in ("slug", "from_module")}
            if item.get("from_module"):  # the form comes from the module's variables
                module = module_path(item["from_module"])
                fields["parameters_schema"] = module_schema(module)
                fields["config"] = {**fields.get("config", {}), "module": item["from_module"]}
            fields = with_profiles(fields)
            template = Template.objects.filter(slug=item["slug"]).first()
            if template is None:
                Template.objects.create(slug=item["slug"], **fields)
                created += 1
            elif template.version < fields.get("version", 1):
                for key, value in fields.items():
                    setattr(template, key, value)
                template.save()
                updated += 1
        if options["verbosity"]:
            self.stdout.write(f"Templates: {created} created, {updated} updated.")
