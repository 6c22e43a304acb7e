"""Resources as code: make a team's resources match a declared list (`portal apply`), show what that would do
(`portal diff`), and write a team's resources in the same format (`portal export`).

A declaration is `{"team": slug, "resources": [{"name", "template", "parameters"}]}`. Apply creates what is missing,
changes parameters the template lists in `config.updatable_parameters` (the driver applies them again), refuses
other changes with the reason, and deletes resources that are not declared only with `prune`.
"""

from __future__ import annotations

import json
import re
from collections import Counter

from catalog.models import Template
from portal.audit import audit_record
from portal.errors import NotAllowed, PortalError
from portal.permissions import can_use_team, teams_visible_to
from provisioning import services
from provisioning.models import Resource, State
from provisioning.parameters import parameters_validate

GONE = (State.DELETED, State.DELETING, State.REJECTED)
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")


def _team(user, slug):
    slug = str(slug or "")
    team = teams_visible_to(user).filter(slug=slug).first() if SLUG.fullmatch(slug) else None
    if team is None:
        raise PortalError(f"No team '{slug[:60]}' among your teams.", code="invalid", fields={"team": "Unknown."})
    if not can_use_team(user, team):
        raise NotAllowed(f"You are not a member of the team '{team.name}'.")
    return team


def _declared(resources) -> list[dict]:
    """The declared items, well formed; a name declared more than once is kept each time (the plan refuses it)."""
    if not isinstance(resources, list):
        raise PortalError("`resources` is a list of {name, template, parameters}.", code="invalid")
    items = []
    for index, item in enumerate(resources):
        if not isinstance(item, dict) or not item.get("name") or not item.get("template"):
            raise PortalError(f"Resource #{index + 1} needs a name and a template.", code="invalid")
        parameters = item.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise PortalError(f"The parameters of '{item['name']}' are a mapping of name to value.", code="invalid")
        if "\\u0000" in json.dumps(item):
            raise PortalError(f"Resource #{index + 1} contains a NUL character; remove it.", code="invalid")
        items.append({"name": str(item["name"]), "template": str(item["template"]), "parameters": parameters})
    return items


def _wanted_parameters(template: Template, parameters: dict) -> tuple[dict, dict]:
    clean, errors = parameters_validate(template.parameters_schema, parameters)
    return {**(template.defaults or {}), **clean}, errors


def declaration_plan(*, user, team_slug: str, resources, prune: bool = False) -> tuple[object, list[dict]]:
    """What apply would do, item by item; changes nothing."""
    team = _team(user, team_slug)
    declared = _declared(resources)
    existing = {
        r.name: r for r in Resource.objects.filter(team=team).exclude(state__in=GONE).select_related("template")
    }
    templates = {t.slug: t for t in Template.objects.filter(slug__in={d["template"] for d in declared})}
    counts = Counter(d["name"] for d in declared)
    plan = []
    for item in declared:
        name, template = item["name"], templates.get(item["template"])
        step = {"name": name, "template": item["template"], "changes": {}, "message": ""}
        plan.append(step)
        if counts[name] > 1:  # which one was meant is unknowable: neither is applied, the resource is left as it is
            step.update(action="refused", message=f"'{name}' is declared {counts[name]} times; declare it once.")
            continue
        if template is None:
            step.update(action="refused", message=f"No template '{item['template']}'; `portal templates` lists them.")
            continue
        wanted, errors = _wanted_parameters(template, item["parameters"])
        if errors:
            field, problem = next(iter(errors.items()))
            step.update(action="refused", message=f"{field}: {problem}")
            continue
        current = existing.get(name)
        if current is None:
            step.update(action="create", parameters=wanted)
            continue
        if current.template.slug != template.slug:
            step.update(
                action="refused",
                message=f"'{name}' was made from '{current.template.slug}'; a template cannot change. Delete it first.",
            )
            continue
        changes = {
            key: {"from": current.parameters.get(key), "to": wanted.get(key)}
            for key in sorted(set(wanted) | set(current.parameters))
            if current.parameters.get(key) != wanted.get(key)
        }
        step["changes"] = changes
        if not changes:
            step["action"] = "unchanged"
            continue
        updatable = set((template.config or {}).get("updatable_parameters") or [])
        fixed = sorted(set(changes) - updatable)
        if fixed:
            step.update(
                action="refused",
                message=f"The template does not allow changing {', '.join(fixed)} of an existing resource.",
            )
        elif not services.can_manage(user, current):
            step.update(action="refused", message="Only the owner, a team admin or a Keeper can change it.")
        elif current.state != State.READY:
            step.update(
                action="refused", message=f"'{name}' is {current.get_state_display().lower()}; change it when ready."
            )
        else:
            step.update(action="update", parameters=wanted)
    declared_names = {d["name"] for d in declared}
    for name, current in sorted(existing.items()):
        if name in declared_names:
            continue
        step = {"name": name, "template": current.template.slug, "changes": {}, "message": ""}
        if not prune:
            step.update(action="kept", message="Not declared; kept (apply with prune to delete it).")
        elif not services.can_manage(user, current):
            step.update(action="refused", message="Only the owner, a team admin or a Keeper can delete it.")
        else:
            step["action"] = "delete"
        plan.append(step)
    return team, plan


def declaration_apply(*, user, team_slug: str, resources, prune: bool = False, dry_run: bool = False, request=None):
    """Make the team's resources match the declaration; returns the plan with each step's outcome."""
    team, plan = declaration_plan(user=user, team_slug=team_slug, resources=resources, prune=prune)
    if dry_run:
        return plan
    existing = {r.name: r for r in Resource.objects.filter(team=team).exclude(state__in=GONE)}
    templates = {t.slug: t for t in Template.objects.filter(slug__in={s["template"] for s in plan})}
    for step in plan:
        try:
            if step["action"] == "create":
                resource = services.resource_request(
                    template=templates[step["template"]],
                    team=team,
                    owner=user,
                    name=step["name"],
                    parameters=step["parameters"],
                    request=request,
                )
                step["id"] = str(resource.id)
            elif step["action"] == "update":
                step["id"] = str(_update(existing[step["name"]], step["parameters"], user, request).id)
            elif step["action"] == "delete":
                step["id"] = str(
                    services.resource_delete(resource=existing[step["name"]], user=user, request=request).id
                )
        except PortalError as exc:
            step.update(action="refused", message=exc.message)
    audit_record(
        actor=user,
        action="resources.apply",
        team=team,
        request=request,
        data={"steps": [{k: s[k] for k in ("name", "action")} for s in plan if s["action"] != "unchanged"]},
    )
    return plan


def _update(resource: Resource, parameters: dict, user, request) -> Resource:
    """New parameters, made real by the driver's apply (an APPLY operation on a worker)."""
    return services.resource_update(resource=resource, parameters=parameters, user=user, request=request)


def declaration_export(*, user, team_slug: str) -> dict:
    """The team's resources as a declaration (parameters without the template's fixed defaults)."""
    team = _team(user, team_slug)
    resources = Resource.objects.filter(team=team).exclude(state__in=GONE).select_related("template").order_by("name")
    items = []
    for resource in resources:
        fixed = resource.template.defaults or {}
        parameters = {k: v for k, v in sorted(resource.parameters.items()) if k not in fixed}
        items.append({"name": resource.name, "template": resource.template.slug, "parameters": parameters})
    return {"team": team.slug, "resources": items}
