"""Notifications from what the engine reports (portal.signals), connected in PortalConfig.ready.

The engine sends these after its transaction commits; each receiver writes inbox rows (quick) and leaves the
sending to the delivery task.
"""

from __future__ import annotations

import logging

from django.conf import settings

from portal.notifications.models import Kind
from portal.notifications.services import notify, notify_keepers, notify_team_admins
from portal.signals import operation_finished, resource_state_changed, resource_warning

logger = logging.getLogger(__name__)


def _resource_url(resource) -> str:
    return f"/resources/{resource.pk}/"


def _runtime(seconds) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return (
        f"{hours} h {minutes} min {seconds} s"
        if hours
        else (f"{minutes} min {seconds} s" if minutes else f"{seconds} s")
    )


def on_state_changed(sender, *, resource, old_state, new_state, message="", **kwargs):
    """Ready, failed, job finished, approval needed and decided; then the team's quota use."""
    name, url, team, owner = resource.name, _resource_url(resource), resource.team, resource.owner
    key = f"{resource.pk}:{new_state}:{int(resource.updated_at.timestamp())}" if resource.updated_at else ""
    if resource.kind == "training_job" and new_state in ("succeeded", "failed") and old_state != "deleting":
        outputs = resource.outputs or {}
        code = outputs.get("exit_code")
        runtime = _runtime(outputs.get("runtime_seconds"))
        ended = "finished" if new_state == "succeeded" else "failed"
        notify(
            user=owner,
            kind=Kind.JOB_FINISHED,
            team=team,
            title=f"Job {name} {ended} (exit code {code if code is not None else 'unknown'})",
            body=f"Exit code: {code if code is not None else 'unknown'}. Runtime: {runtime}. {message}".strip(),
            url=url,
            dedupe_key=f"job:{key}",
        )
    elif new_state == "ready" and old_state in ("provisioning", "starting", "queued", "requested"):
        notify(
            user=owner,
            kind=Kind.RESOURCE_READY,
            team=team,
            title=f"{resource} is ready",
            body=message or "It is ready to use; the page shows how to connect.",
            url=url,
            dedupe_key=f"ready:{key}",
        )
    elif new_state == "failed":
        notify(
            user=owner,
            kind=Kind.RESOURCE_FAILED,
            team=team,
            title=f"{resource} failed",
            body=message or "Open it to see why and to retry.",
            url=url,
            dedupe_key=f"failed:{key}",
        )
    if new_state == "awaiting_approval":
        notify_keepers(
            Kind.APPROVAL_NEEDED,
            title=f"{team.name} asks for {resource}: approval needed",
            body=f"{owner.get_username()} asked for it. {message}".strip(),
            url=url,
            team=team,
            dedupe_key=f"approval:{resource.pk}",
        )
    elif old_state == "awaiting_approval" and new_state in ("queued", "provisioning", "rejected", "requested"):
        approved = new_state != "rejected"
        reason = getattr(resource, "decision_reason", "") or ""
        notify(
            user=owner,
            kind=Kind.APPROVAL_DECIDED,
            team=team,
            title=f"{resource} was {'approved' if approved else 'declined'}",
            body=(reason or ("It is being created now." if approved else "")).strip(),
            url=url,
            dedupe_key=f"decided:{resource.pk}",
        )
    if new_state in ("requested", "ready", "running"):
        quota_check(team)


def quota_check(team) -> None:
    """Tell the team's admins once a day when a quota reaches QUOTA_WARNING_PERCENT of its limit."""
    from django.utils import timezone

    from provisioning.quotas import quota_summary

    threshold = settings.QUOTA_WARNING_PERCENT
    for line in quota_summary(team):
        if line.limit and line.used * 100 >= threshold * line.limit:
            notify_team_admins(
                team,
                kind=Kind.QUOTA_NEARLY_USED,
                title=f"{team.name} uses {line.used} of {line.limit} {line.label}",
                body=f"That is {line.percent} % of the quota. Ask the Keepers for more on the team page if needed.",
                url=f"/teams/{team.slug}/",
                dedupe_key=f"quota:{team.pk}:{line.key}:{timezone.now():%Y-%m-%d}",
            )


def on_warning(sender, *, resource, warning, message, at=None, **kwargs):
    """An idle notebook about to be stopped (with "keep it running"), or a resource about to expire."""
    if warning == "idle":
        notify(
            user=resource.owner,
            kind=Kind.NOTEBOOK_IDLE,
            team=resource.team,
            title=f"Notebook {resource.name} will be stopped soon",
            body=message,
            url=_resource_url(resource),
            action="keep_running",
            action_target=str(resource.pk),
            dedupe_key=f"idle:{resource.pk}:{at:%Y%m%d%H%M}" if at else "",
        )
    elif warning == "expiry":
        notify(
            user=resource.owner,
            kind=Kind.EXPIRY_SOON,
            team=resource.team,
            title=f"{resource} expires soon",
            body=message,
            url=_resource_url(resource),
            dedupe_key=f"expiry:{resource.pk}:{at:%Y%m%d}" if at else "",
        )
    else:
        notify(
            user=resource.owner,
            kind=Kind.EXPIRY_SOON if warning == "walltime" else Kind.RESOURCE_FAILED,
            team=resource.team,
            title=f"{resource}: {warning}",
            body=message,
            url=_resource_url(resource),
        )


def on_operation_finished(sender, *, operation, resource, outcome, duration_seconds=None, **kwargs):
    """A delete or stop that failed tells its owner (state changes cover the rest)."""
    if outcome in ("failed", "errored") and operation.action in ("delete", "stop", "start"):
        notify(
            user=resource.owner,
            kind=Kind.RESOURCE_FAILED,
            team=resource.team,
            title=f"Could not {operation.action} {resource}",
            body=(operation.error or "")[:1000],
            url=_resource_url(resource),
            dedupe_key=f"op:{operation.pk}",
        )


def on_service_changed(sender, *, check, up: bool, message: str = "", at=None, **kwargs):
    """A catalog service went down or came back: its owners (the owning team's admins) and the Keepers are told."""
    entry = check.entry
    title = f"{entry.name} is back up" if up else f"{entry.name} is down"
    body = message if up else f"{message} The Keepers are told too; /status shows every service."
    key = f"service:{check.pk}:{'up' if up else 'down'}:{at.isoformat() if at else ''}"
    url = f"/catalog/{entry.slug}/"
    notify_keepers(Kind.SERVICE_DOWN, title=title, body=body, url=url, dedupe_key=key)
    if entry.owner_team_id:
        notify_team_admins(entry.owner_team, kind=Kind.SERVICE_DOWN, title=title, body=body, url=url, dedupe_key=key)


def connect() -> None:
    from catalog.signals import service_state_changed

    service_state_changed.connect(on_service_changed, dispatch_uid="notifications-service")
    resource_state_changed.connect(on_state_changed, dispatch_uid="notifications-state")
    resource_warning.connect(on_warning, dispatch_uid="notifications-warning")
    operation_finished.connect(on_operation_finished, dispatch_uid="notifications-operation")
