"""One map of the actions pages and the API offer by name, one idempotency rule and one team rule for both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from portal.errors import NotAllowed, PortalError
from portal.models import Team
from portal.permissions import teams_visible_to
from provisioning import services
from provisioning.models import Resource


@dataclass(frozen=True)
class ResourceAction:
    service: Callable
    done: str  # what the page says after it, with {name}
    doc: str  # what the API's schema says
    with_reason: bool = False


ACTIONS: dict[str, ResourceAction] = {
    "stop": ResourceAction(
        services.resource_stop, "Stopping '{name}'. Your files are kept.", "Stop the resource, keeping its data."
    ),
    "start": ResourceAction(services.resource_start, "Starting '{name}' again.", "Start a stopped resource again."),
    "cancel": ResourceAction(
        services.resource_cancel, "Cancelling '{name}'.", "End a running or queued job; its log and folder are kept."
    ),
    "retry": ResourceAction(
        services.resource_retry, "Trying '{name}' again.", "Run the action that failed (or the cancelled job) again."
    ),
    "reapply": ResourceAction(
        services.resource_reapply,
        "Applying '{name}' again.",
        "Apply the template again (Terraform), e.g. to undo drift.",
    ),
    "delete": ResourceAction(services.resource_delete, "Deleting '{name}'.", "Delete the resource."),
    "forget": ResourceAction(
        services.resource_forget,
        "The portal forgot '{name}'. Check the warning on its timeline for what may be left behind.",
        "Keepers: stop tracking a failed resource whose infrastructure cannot be reached (audited).",
    ),
    "approve": ResourceAction(
        services.resource_approve,
        "Approved '{name}'; it is being created.",
        "Keepers: approve a request that waits for approval.",
        with_reason=True,
    ),
    "reject": ResourceAction(
        services.resource_reject,
        "Rejected '{name}'; the requester sees your reason.",
        "Keepers: reject a request, with a reason the requester sees.",
        with_reason=True,
    ),
}


def action_run(*, action: str, resource, user, request=None, reason: str = "") -> Resource:
    """Run a named action through its service (the caller has checked `action in ACTIONS`)."""
    entry = ACTIONS[action]
    kwargs = {"resource": resource, "user": user, "request": request}
    if entry.with_reason:
        kwargs["reason"] = reason
    return entry.service(**kwargs)


def resource_by_idempotency_key(
    *, owner, key: str, template: str, name: str, team: str | None = None, parameters: dict | None = None
) -> Resource | None:
    """The resource this owner already asked for with this key (pages send a form key, the API a header), when the
    request is the same one again; a 409 when the key was used for a different request (another template, name or
    team, or a parameter with another value), like any API with idempotency keys."""
    if not key:
        return None
    found = Resource.objects.filter(owner=owner, idempotency_key=key[:100]).select_related("template", "team")
    existing = found.first()
    if existing is None:
        return None
    same = existing.template.slug == template and existing.name == name and (not team or existing.team.slug == team)
    given = parameters if isinstance(parameters, dict) else {}
    if not same or any(existing.parameters.get(k, object()) != v for k, v in given.items()):
        raise PortalError(
            "This Idempotency-Key was already used for a different request; use a new key.",
            code="idempotency_conflict",
            status_code=409,
        )
    return existing


def request_team(user, *, slug: str | None = None, current: Team | None = None) -> Team:
    """The team a request is for: the one named (must be one of the user's), else the page's current team, else the
    user's only team. A clear 400 otherwise."""
    if slug:
        team = teams_visible_to(user).filter(slug=slug).first()
        if team is None:
            raise PortalError(
                f"You are not a member of a team '{slug}'.",
                code="unknown_team",
                fields={"team": "Not one of your teams."},
            )
        return team
    if current is not None:
        return current
    mine = list(Team.objects.filter(memberships__user=user)[:2])
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise NotAllowed("You are in no team yet, so you cannot ask for resources. Ask to join a team first.")
    raise PortalError(
        'Say which team this is for: add "team": "<slug>" (GET /api/v1/me/ lists yours).',
        code="team_required",
        fields={"team": "Required when you are in several teams (or none)."},
    )


def preview_enqueue(*, template, team, user, name: str, parameters: dict) -> str:
    """Ask a worker for a slow preview (a Terraform plan) on the `previews` queue; returns the task id to poll."""
    from celery import current_app

    result = current_app.send_task("provisioning.preview", args=[template.id, team.id, user.id, name, parameters])
    return result.id
