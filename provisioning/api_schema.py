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


RESOURCE_PREFIX = "/api/v1/resources/{resource_id}/"
# Operations on one resource that are not actions of provisioning.policy (any live resource will do for them).
ANY_LIVE = "any"


def _action_of(path: str) -> str:
    rest = path[len(RESOURCE_PREFIX) :].strip("/")
    return rest or ANY_LIVE


def _resource_examples(paths: dict, user) -> None:
    """Each operation on one resource gets, as the example of its `resource_id`, one of the caller's resources in a
    state where that operation applies now (approve: one awaiting approval, start: a stopped one...), a different
    resource for each action where there are enough. Clients and fuzzers then reach them with real ids.
    Nothing when the caller has none (the create's links and the list's ids are the way in then)."""
    from provisioning.policy import allowed_actions
    from provisioning.selectors import resource_list
    from provisioning.states import State

    wanted = {_action_of(path) for path in paths if path.startswith(RESOURCE_PREFIX)}
    if not wanted:
        return
    live = list(resource_list(user=user).exclude(state=State.DELETING)[:100])
    chosen: dict[str, str] = {}
    used: set[str] = set()
    candidates_of = {
        action: [
            str(resource.pk)
            for resource in live
            if action == ANY_LIVE or action in allowed_actions(resource, user) or _applies(action, resource, user)
        ]
        for action in wanted
    }
    # The actions with the fewest resources to choose from first (retry may have one failed job, delete has all of
    # them), any resource last: an action that deletes (delete, forget) then gets a resource no other action needs.
    for action in sorted(wanted, key=lambda name: (name == ANY_LIVE, len(candidates_of[name]), name)):
        candidates = candidates_of[action]
        fresh = [pk for pk in candidates if pk not in used] or candidates
        if fresh:
            chosen[action] = fresh[0]
            used.add(fresh[0])
    # Deleting one: a resource no other operation's example uses (examples run in any order), or none.
    spare = next((str(r.pk) for r in live if str(r.pk) not in used), None)
    for path, item in paths.items():
        if not path.startswith(RESOURCE_PREFIX) or (example := chosen.get(_action_of(path))) is None:
            continue
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            value = spare if method == "delete" and _action_of(path) == ANY_LIVE else example
            if value is None:
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") == "resource_id":
                    parameter["example"] = value


KEEP_RUNNING = "/api/v1/notifications/keep-running/{resource_id}/"


def _keep_running_example(paths: dict, user) -> None:
    """Keep running: one of the caller's ready notebooks (the only ones with an idle clock to reset)."""
    from provisioning.selectors import resource_list
    from provisioning.states import State

    operation = paths.get(KEEP_RUNNING, {}).get("post")
    notebook = resource_list(user=user).filter(kind="notebook", state=State.READY).first() if operation else None
    if notebook is None:
        return
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path" and parameter.get("name") == "resource_id":
            parameter["example"] = str(notebook.pk)


def _applies(action: str, resource, user) -> bool:
    """Operations beside the policy's actions: which resources they answer for."""
    from provisioning.policy import can_manage

    if action in ("credentials", "rotate", "rotation"):
        return resource.has_secrets and can_manage(user, resource)
    if action == "open":
        return resource.kind == "notebook" and resource.state == "ready"
    return action in ("logs",)


def postprocess(result, generator, request, public):
    from portal.models import Team
    from provisioning.selectors import template_list

    schemas = result.get("components", {}).get("schemas", {})
    if COMPONENT not in schemas:
        return result
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        _resource_examples(result.get("paths", {}), user)
        _keep_running_example(result.get("paths", {}), user)
    teams = None
    if user is not None and user.is_authenticated:
        teams = list(Team.objects.filter(memberships__user=user).order_by("slug").values_list("slug", flat=True))
    variants = [_variant(template, teams) for template in template_list()]
    if variants:
        description = schemas[COMPONENT].get("description", "")
        schemas[COMPONENT] = {"oneOf": variants, "description": description}
    return result
