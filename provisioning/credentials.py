"""Credential rotation and the credentials overview.

A rotation replaces a database's password or a bucket's keys: the request side checks who and when and records a
`CredentialRotation`; a worker then asks the driver (`rotate(resource, log)`) to make the new secret and revoke the
old one, and stores the new secret (encrypted) on the resource, so the reveal shows it. Every step is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from portal.audit import audit_record
from portal.errors import NotAllowed, PortalError
from portal.permissions import is_keeper
from provisioning.drivers import get_driver
from provisioning.drivers.base import DriverError
from provisioning.models import (
    TERMINAL_OPERATION_STATES,
    CredentialPolicy,
    CredentialRotation,
    Event,
    Operation,
    Resource,
    State,
)
from provisioning.services import can_manage

ROTATABLE_KINDS = ("database", "bucket")
UNFINISHED = (CredentialRotation.State.QUEUED, CredentialRotation.State.RUNNING)


def can_rotate(resource) -> bool:
    """Whether the resource's driver can replace its secrets (folder buckets have none)."""
    if resource.kind not in ROTATABLE_KINDS or not resource.has_secrets:
        return False
    try:
        driver = get_driver(resource.driver, resource.kind)
    except DriverError:
        return False
    return hasattr(driver, "rotate")


def credential_rotate(*, resource: Resource, user, request=None, reason: str = "") -> CredentialRotation:
    """Ask for new credentials for `resource`; the old ones stop working when the worker is done."""
    if not can_manage(user, resource):
        raise NotAllowed("Only the owner, a team admin or a Keeper can rotate these credentials.")
    if not can_rotate(resource):
        raise PortalError(
            "This resource has no password or keys the portal can rotate.", code="not_rotatable", status_code=409
        )
    with transaction.atomic():
        locked = Resource.objects.select_for_update().get(pk=resource.pk)
        if locked.state != State.READY:
            raise PortalError(
                f"Credentials can be rotated when the resource is ready; it is {locked.get_state_display().lower()}.",
                code="wrong_state",
                status_code=409,
            )
        busy = Operation.objects.filter(resource=locked).exclude(state__in=TERMINAL_OPERATION_STATES).exists()
        # A rotation whose worker died stays unfinished; after ten minutes a new one may replace it.
        recent = timezone.now() - timedelta(minutes=10)
        if (
            busy
            or CredentialRotation.objects.filter(resource=locked, state__in=UNFINISHED, created_at__gt=recent).exists()
        ):
            raise PortalError(
                "Something is already being done to this resource; rotate when it has finished.",
                code="busy",
                status_code=409,
            )
        rotation = CredentialRotation.objects.create(resource=locked, requested_by=user, reason=reason[:200])
        audit_record(
            actor=user, action="resource.rotate_requested", target=locked, request=request, data={"reason": reason}
        )
        Event.objects.create(resource=locked, message=f"New credentials requested by {user.get_username()}.")
        rotation_id = rotation.pk  # rung by task name: this module imports no tasks (tasks import it)
        transaction.on_commit(lambda: current_app.send_task("provisioning.rotate_credentials", args=[rotation_id]))
    return rotation


def team_credentials_rotate(*, team, user, request=None) -> list[CredentialRotation]:
    """A Keeper replaces every rotatable credential of a team at once (someone left); skips what is busy."""
    if not is_keeper(user):
        raise NotAllowed("Only Keepers can rotate a whole team's credentials.")
    rotations = []
    resources = Resource.objects.filter(team=team, state=State.READY, kind__in=ROTATABLE_KINDS).select_related(
        "team", "owner"
    )
    for resource in resources:
        if not can_rotate(resource):
            continue
        try:
            rotations.append(credential_rotate(resource=resource, user=user, request=request, reason="team sweep"))
        except PortalError:
            continue  # busy or changed state: shown on the credentials page as not rotated
    audit_record(
        actor=user, action="team.rotate_credentials", team=team, request=request, data={"count": len(rotations)}
    )
    return rotations


def credential_rotation_run(rotation_id: int) -> str:
    """The worker's half: claim the rotation, let the driver replace the secret, store it. Idempotent."""
    with transaction.atomic():
        rotation = (
            CredentialRotation.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=rotation_id, state=CredentialRotation.State.QUEUED)
            .select_related("resource__team", "requested_by")
            .first()
        )
        if rotation is None:
            return "not queued"
        rotation.state = CredentialRotation.State.RUNNING
        rotation.save(update_fields=["state"])
    resource = rotation.resource
    lines: list[str] = []
    try:
        secrets = get_driver(resource.driver, resource.kind).rotate(resource, lines.append)
    except DriverError as exc:
        _rotation_end(rotation, ok=False, message=exc.message)
        return "failed"
    except Exception as exc:  # unexpected: end the rotation (so it can be asked again), keep the traceback in the log
        _rotation_end(rotation, ok=False, message=f"The rotation failed unexpectedly ({exc.__class__.__name__}).")
        raise
    with transaction.atomic():
        locked = Resource.objects.select_for_update().get(pk=resource.pk)
        locked.secrets = {**locked.secrets, **secrets}
        locked.save(update_fields=["secrets_encrypted", "updated_at"])
    _rotation_end(rotation, ok=True, message="New credentials are active; the old ones no longer work.")
    return "done"


def _rotation_end(rotation: CredentialRotation, *, ok: bool, message: str) -> None:
    rotation.state = CredentialRotation.State.DONE if ok else CredentialRotation.State.FAILED
    rotation.error = "" if ok else message
    rotation.finished_at = timezone.now()
    rotation.save(update_fields=["state", "error", "finished_at"])
    Event.objects.create(
        resource=rotation.resource, level=Event.Level.INFO if ok else Event.Level.ERROR, message=message[:1000]
    )
    audit_record(
        actor=rotation.requested_by,
        action="resource.rotate" if ok else "resource.rotate_failed",
        target=rotation.resource,
        data={"error": rotation.error} if not ok else {},
    )


@dataclass
class CredentialRow:
    resource: Resource
    since: datetime
    age_days: int
    too_old: bool
    rotating: bool
    rotatable: bool


def credential_list(*, user) -> tuple[list[CredentialRow], CredentialPolicy]:
    """Every credential the user can see (resources with secrets in their teams; Keepers: all), with its age."""
    from provisioning.selectors import resource_list

    policy = CredentialPolicy.current()
    resources = (
        resource_list(user=user)
        .exclude(secrets_encrypted="")
        .exclude(state__in=[State.DELETING, State.REJECTED])
        .annotate(
            rotated_at=Max("rotations__finished_at", filter=Q(rotations__state=CredentialRotation.State.DONE)),
            rotating=Max("rotations__id", filter=Q(rotations__state__in=UNFINISHED)),
        )
    )
    now = timezone.now()
    rows = []
    for resource in resources:
        since = resource.rotated_at or resource.created_at
        age = (now - since).days
        rows.append(
            CredentialRow(
                resource=resource,
                since=since,
                age_days=age,
                too_old=age > policy.max_age_days,
                rotating=resource.rotating is not None,
                rotatable=resource.kind in ROTATABLE_KINDS and can_manage(user, resource),
            )
        )
    return rows, policy


def credential_policy_set(*, user, max_age_days: int, request=None) -> CredentialPolicy:
    if not is_keeper(user):
        raise NotAllowed("Only Keepers set the credential age limit.")
    if not 1 <= max_age_days <= 3650:
        raise PortalError(
            "The age limit is between 1 and 3650 days.", code="invalid", fields={"max_age_days": "1-3650"}
        )
    policy = CredentialPolicy.objects.order_by("pk").first() or CredentialPolicy()
    policy.max_age_days, policy.updated_by = max_age_days, user
    policy.save()
    audit_record(actor=user, action="credentials.policy", request=request, data={"max_age_days": max_age_days})
    return policy
