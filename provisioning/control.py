"""The control loop: what moves resources on without anyone asking. Runs on the `control` queue, from beat.

- `reconcile` (every RECONCILE_INTERVAL_SECONDS): re-ring lost doorbells, take over dead workers' operations,
  end expired resources, poll what is ready or running.
- `poll_running` (every POLL_INTERVAL_SECONDS): poll resources in motion (being created, starting, running),
  so a job's end or a pod becoming ready shows within seconds; stop idle notebooks.
- `drift_check` (every DRIFT_CHECK_INTERVAL_SECONDS): compare Terraform resources with the real infrastructure.
- The GPU queue moves in the engine (engine.after_transition -> gpus.queue_advance); reconcile never polls a
  queued resource, so waiting never loses its place.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from portal.locks import advisory_try_lock
from portal.signals import resource_warning, send_after_commit
from provisioning import doorbell, services
from provisioning.doorbell import enqueue
from provisioning.drivers import DriverError, get_driver
from provisioning.engine import after_transition, event
from provisioning.models import Event, Operation, OperationState, Resource
from provisioning.states import TERMINAL_OPERATION_STATES, State

logger = logging.getLogger(__name__)

# What a driver's poll says, as a resource state.
POLLED_STATE = {
    "missing": State.FAILED,
    "failed": State.FAILED,
    "stopped": State.STOPPED,
    "cancelled": State.CANCELLED,
    "succeeded": State.SUCCEEDED,
    "running": State.RUNNING,
    "ready": State.READY,
}
# Being created or started by a driver that returned "in progress", or running to an end (jobs).
POLLED_IN_MOTION = [State.PROVISIONING, State.STARTING, State.RUNNING]


def reconcile(*, poll_limit: int = 200) -> dict:
    """Postgres is the truth: re-ring lost doorbells, take over dead workers' operations, poll, expire."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.OPERATION_HEARTBEAT_TIMEOUT_SECONDS)
    report = {"requeued": 0, "taken_over": 0, "polled": 0, "changed": 0, "expired": 0}
    for operation in Operation.objects.filter(state=OperationState.RUNNING, heartbeat_at__lt=stale):
        operation.append_log(
            f"[{now:%H:%M:%S}] No heartbeat from {operation.worker} since "
            f"{operation.heartbeat_at:%H:%M:%S}; queued again."
        )
        enqueue(operation)
        report["taken_over"] += 1
    for operation in Operation.objects.filter(state=OperationState.QUEUED, enqueued_at__lt=stale):
        enqueue(operation)
        report["requeued"] += 1
    for resource in Resource.objects.filter(expires_at__lt=now).exclude(
        state__in=[State.DELETED, State.DELETING, State.REJECTED]
    ):
        services.resource_delete(resource=resource, reason="it reached its expiry date")
        report["expired"] += 1
    report["warned"] = expiry_warn()
    # Never QUEUED: a resource waiting for GPUs has not started, and its place in line must not be lost.
    polled = (
        Resource.objects.filter(state__in=[State.READY, *POLLED_IN_MOTION])
        .select_related("team", "template")
        .order_by("updated_at")[:poll_limit]
    )
    for resource in polled:
        report["polled"] += 1
        if poll_one(resource):
            report["changed"] += 1
    return report


EXPIRY_WARNING_START = "This resource reaches its expiry date"


def expiry_warn() -> int:
    """Warn owners a day (EXPIRY_WARNING_HOURS) before their resource reaches its expiry date; once per resource."""
    hours = getattr(settings, "EXPIRY_WARNING_HOURS", 24)
    soon = timezone.now() + timedelta(hours=hours)
    count = 0
    candidates = (
        Resource.objects.filter(expires_at__lte=soon, expires_at__gt=timezone.now(), warning="")
        .exclude(state__in=[State.DELETED, State.DELETING, State.REJECTED])
        .exclude(events__message__startswith=EXPIRY_WARNING_START)  # warned already (a warning may be cleared since)
        .distinct()
    )
    for resource in candidates:
        at = timezone.localtime(resource.expires_at)
        warning = f"{EXPIRY_WARNING_START} on {at:%Y-%m-%d %H:%M} and will then be deleted."
        with transaction.atomic():
            if not Resource.objects.filter(pk=resource.pk, warning="").update(warning=warning):
                continue
            event(resource, warning, level=Event.Level.WARNING)
            send_after_commit(
                resource_warning, sender=Resource, resource=resource, warning="expiry", message=warning, at=at
            )
        count += 1
    return count


def _busy(resource) -> bool:
    """Whether an operation of the resource is queued or running: then the engine, not the loop, moves it."""
    return resource.operations.exclude(state__in=TERMINAL_OPERATION_STATES).exists()


def poll_one(resource) -> bool:
    """Ask the driver for the real state; record what changed. Returns whether it changed."""
    if resource.state in (State.PROVISIONING, State.STARTING) and _busy(resource):
        return False  # an operation is still on it
    try:
        status = get_driver(resource.driver, resource.kind).poll(resource)
    except SoftTimeLimitExceeded:
        raise  # the task's time is up: stop polling, never swallow it
    except DriverError as exc:
        logger.warning("poll of %s failed: %s", resource.pk, exc.message)
        return False
    except Exception:
        logger.exception("poll of %s errored", resource.pk)
        return False
    with transaction.atomic():
        current = Resource.objects.select_for_update(skip_locked=True).filter(pk=resource.pk).first()
        if current is None or current.state != resource.state:
            return False  # something else is changing it now
        changed = False
        if status.last_activity_at and status.last_activity_at != current.last_activity_at:
            current.last_activity_at = status.last_activity_at
        if status.outputs is not None and status.outputs != current.outputs:
            current.outputs, changed = status.outputs, True
        new_state = POLLED_STATE.get(status.state)
        if new_state and new_state != current.state:
            current.state, changed = new_state, True
            current.status_message = status.message or {State.READY: "Ready to use."}.get(new_state, "")
            level = Event.Level.ERROR if new_state == State.FAILED else Event.Level.INFO
            event(current, status.message or f"Now {current.get_state_display().lower()}.", level=level)
            current.warning = ""
        elif status.message and status.message != current.status_message:
            current.status_message, changed = status.message, True
        current.save()
        after_transition(current)
    if changed and current.state == State.FAILED:
        with contextlib.suppress(DriverError):
            get_driver(current.driver, current.kind).end_failed(current, lambda text: logger.info("%s", text))
    if current.state == State.READY and current.kind == "notebook":
        cull_idle(current)
    close_old_connections()
    return changed


def cull_idle(resource) -> None:
    """Stop a notebook idle past its timeout; warn its owner a few minutes before."""
    minutes = resource.parameters.get("idle_timeout_minutes")
    if not minutes or not resource.last_activity_at:
        return
    idle = timezone.now() - resource.last_activity_at
    limit = timedelta(minutes=minutes)
    warn_at = limit - timedelta(minutes=settings.NOTEBOOK_CULL_WARNING_MINUTES)
    if idle >= limit:
        services.resource_stop(
            resource=resource,
            user=None,
            message=f"Stopping: unused for {minutes} minutes. Your files are kept; start it again any time.",
        )
    elif idle >= warn_at and not resource.warning:
        stop_at = timezone.localtime(resource.last_activity_at + limit)
        warning = (
            f"Unused since {timezone.localtime(resource.last_activity_at):%H:%M}: it will be stopped at "
            f"{stop_at:%H:%M} unless you use it. Your files are kept either way."
        )
        Resource.objects.filter(pk=resource.pk).update(warning=warning)
        event(resource, warning, level=Event.Level.WARNING)
        send_after_commit(
            resource_warning,
            sender=Resource,
            resource=resource,
            warning="idle",
            message=warning,
            at=resource.last_activity_at + limit,
        )
    elif idle < warn_at and resource.warning:
        Resource.objects.filter(pk=resource.pk).update(warning="")


def poll_running() -> int:
    """Quick check of what is in motion (being created, starting, running) and of ready notebooks, so a job's end
    or a pod becoming ready shows within seconds. On beat every POLL_INTERVAL_SECONDS."""
    count = 0
    resources = Resource.objects.filter(state__in=POLLED_IN_MOTION) | Resource.objects.filter(
        state=State.READY, kind="notebook"
    )
    for resource in resources.select_related("team", "template"):
        poll_one(resource)
        count += 1
    return count


# How long a start is followed closely (as long as a local notebook may take to answer, so a start is always judged
# even where no beat runs); after that the poller on beat carries on alone.
FOLLOW_SECONDS = 130


def follow_delay(elapsed: float) -> float:
    """How soon to look again at something that started `elapsed` seconds ago: often at first (a notebook answers
    within a second or two), then at the poller's pace."""
    if elapsed < 5:
        return 0.1
    if elapsed < 30:
        return 0.5
    return float(settings.POLL_INTERVAL_SECONDS)


def follow(resource_id: int, since: float) -> str:
    """One look at a resource that a driver left starting (it returned "in progress"): poll it once and, while it is
    still starting, ring for the next look. Between looks no worker is held. The beat poller is the safety net."""
    resource = Resource.objects.select_related("team", "template").filter(pk=resource_id).first()
    if resource is None or resource.state not in (State.PROVISIONING, State.STARTING):
        return "done"
    poll_one(resource)
    state = Resource.objects.filter(pk=resource_id).values_list("state", flat=True).first()
    elapsed = time.time() - since
    if state not in (State.PROVISIONING, State.STARTING):
        return "done"
    if elapsed > FOLLOW_SECONDS:
        return "left to the poller"
    doorbell.follow(resource_id, since=since, countdown=follow_delay(elapsed))
    return "following"


DRIFT_LOCK = 0x13D1F7  # advisory lock key of the drift check
DRIFT_WARNING = {
    "infrastructure": "Drift: the real infrastructure changed outside the portal ({summary}). Re-apply to put it back.",
    "template": "The template changed since this was made ({summary}). Re-apply to bring it up to date.",
}


def drift_check() -> dict:
    """Compare each ready resource that supports it with its real infrastructure (a refresh-only plan) and with its
    template (a plan without refresh); record what changed as a warning. On beat every DRIFT_CHECK_INTERVAL_SECONDS."""
    report = {"checked": 0, "drifted": 0, "template_changed": 0}
    with advisory_try_lock(DRIFT_LOCK) as got:  # one drift check at a time: two would share Terraform's folders
        if not got:
            return {**report, "skipped": 1}
        _drift_check(report)
    return report


def _drift_check(report: dict) -> None:
    for resource in Resource.objects.filter(state=State.READY).select_related("team", "template"):
        try:
            driver = get_driver(resource.driver, resource.kind)
        except DriverError:
            continue
        if not driver.can_reapply:
            continue
        report["checked"] += 1
        try:
            kind, summary = driver.drift(resource)
        except DriverError as exc:
            logger.warning("drift check of %s failed: %s", resource.pk, exc.message)
            continue
        kind = {True: "infrastructure", False: ""}.get(kind, kind)
        warning = DRIFT_WARNING[kind].format(summary=summary or "see the plan") if kind else ""
        if warning != resource.warning:
            Resource.objects.filter(pk=resource.pk).update(warning=warning[:300])
            if kind:
                event(resource, warning, level=Event.Level.WARNING)
        report["drifted"] += int(kind == "infrastructure")
        report["template_changed"] += int(kind == "template")
