"""The OpenAPI body of POST /api/v1/resources/, as the server checks it: one variant per template offered now.

Each variant names its template, the name's pattern, the teams the caller may ask for (when the schema is read
signed in) and the template's own parameter schema, which the server validates the parameters with
(provisioning.parameters). A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]).
"""

from __future__ import annotations

import copy

from provisioning.parameters import NAME_RE

COMPONENT = "ResourceCreateRequest"


def _parameters_schema(template) -> dict:
    schema = copy.deepcopy(template.parameters_schema or {})
    gpus_field = schema.get("properties", {}).get("gpus")
    if template.driver == "local" and isinstance(gpus_field, dict):
        from provisioning import gpus

        # On this machine a local program gets at most the GPUs it has (the driver refuses more).
        gpus_field["maximum"] = min(gpus_field.get("maximum", 1 << 31), len(gpus.inventory()))
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    schema.setdefault("additionalProperties", False)
    schema.pop("$schema", None)
    return schema


def _variant(template, teams: list[str] | None) -> dict:
    parameters = _parameters_schema(template)
    properties = {
        "template": {"type": "string", "enum": [template.slug], "description": template.name},
        "name": {
            "type": "string",
            "pattern": NAME_RE.pattern,
            "description": "2 to 40 lowercase letters, digits and dashes; unique in the team.",
        },
        "parameters": parameters,
    }
    required = ["template", "name"]
    if parameters.get("required"):
        required.append("parameters")
    if teams is None:
        properties["team"] = {"type": "string", "pattern": r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$"}
    elif teams:
        properties["team"] = {"type": "string", "enum": teams, "description": "One of your teams."}
        if len(teams) > 1:
            required.append("team")
    return {
        "type": "object",
        "title": template.slug,
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def postprocess(result, generator, request, public):
    from portal.models import Team
    from provisioning.selectors import template_list

    schemas = result.get("components", {}).get("schemas", {})
    if COMPONENT not in schemas:
        return result
    user = getattr(request, "user", None)
    teams = None
    if user is not None and user.is_authenticated:
        teams = list(Team.objects.filter(memberships__user=user).order_by("slug").values_list("slug", flat=True))
    variants = [_variant(template, teams) for template in template_list()]
    if variants:
        description = schemas[COMPONENT].get("description", "")
        schemas[COMPONENT] = {"oneOf": variants, "description": description}
    return result
