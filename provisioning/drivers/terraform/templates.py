"""Templates made from modules (used by the command and the Keepers' page)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from catalog.models import Template
from provisioning.drivers.terraform.engine import module_path
from provisioning.drivers.terraform.schema import module_schema


def template_from_module(
    *, path: str, slug: str, name: str = "", kind: str = "terraform", fixed: dict | None = None, user=None
) -> Template:
    """Create or update the template `slug` from the module at `path`; `fixed` variables are not asked."""
    module = module_path(path)
    schema = module_schema(module, fixed=fixed)
    readme = module / "README.md"
    try:
        reference = str(module.relative_to(settings.BASE_DIR))
    except ValueError:
        reference = str(module)
    template = Template.objects.filter(slug=slug).first() or Template(slug=slug)
    template.name = name or template.name or module.name.replace("-", " ").capitalize()
    template.driver, template.resource_kind = "terraform", kind
    template.parameters_schema, template.defaults = schema, fixed or {}
    template.config = {**(template.config or {}), "module": reference}
    template.body = template.body or (readme.read_text() if readme.exists() else "")
    template.summary = template.summary or f"Made by the Terraform module {module.name}."
    template.version = (template.version or 0) + 1 if template.pk else 1
    template.updated_by = user
    template.save()
    return template


def available_modules() -> list[Path]:
    from provisioning.drivers.terraform.engine import MODULES_DIR

    roots = [MODULES_DIR, *(Path(p) for p in settings.TERRAFORM_MODULE_PATHS)]
    return sorted(p for root in roots if root.is_dir() for p in root.iterdir() if p.is_dir() and list(p.glob("*.tf")))
