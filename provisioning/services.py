"""Every write with rules: request, approve, stop, start, retry, delete, reveal; running operations; reconcile.

Pages, the API, the admin and Celery tasks call these functions; they hold no rules of their own.
"""

from __future__ import annotations

import logging
import threading
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from catalog.models import Template
from portal.audit import audit_record
from portal.errors import NotAllowed, PortalError
from portal.models import Team
from portal.permissions import can_admin_team, can_use_team, is_keeper
from portal.signals import resource_warning, send_after_commit
from provisioning import gpus
from provisioning.drivers import DriverError, Queued, get_driver
from provisioning.models import (
    TERMINAL_OPERATION_STATES,
    Action,
    Event,
    Operation,
    OperationState,
    Resource,
    State,
)
from provisioning.parameters import name_error, parameters_validate
from provisioning.quotas import GPU_HOLDING_STATES, quota_excess, resource_usage

logger = logging.getLogger(__name__)

MAX_RETRYABLE_ATTEMPTS = 4
# The state a resource is in while an action runs, and after it succeeds.
RUNNING_STATE = {
    Action.CREATE: State.PROVISIONING,
    Action.APPLY: State.PROVISIONING,
    Action.START: State.STARTING,
    Action.STOP: State.STOPPING,
    Action.DELETE: State.DELETING,
}
DONE_STATE = {
    Action.CREATE: State.READY,
    Action.APPLY: State.READY,
    Action.START: State.READY,
    Action.STOP: State.STOPPED,
    Action.DELETE: State.DELETED,
}
DOING = {
    Action.CREATE: "Creating",
    Action.APPLY: "Applying changes to",
    Action.START: "Starting",
    Action.STOP: "Stopping",
    Action.DELETE: "Deleting",
}


def _event(resource, message, *, level=Event.Level.INFO, operation=None):
    Event.objects.create(resource=resource, operation=operation, level=level, message=message[:1000])


def _enqueue(operation: Operation) -> None:
    """Ring the doorbell once the transaction that wrote the operation commits."""
    from provisioning.tasks import operation_run

    Operation.objects.filter(pk=operation.pk).update(enqueued_at=timezone.now())
    transaction.on_commit(lambda: operation_run.delay(operation.pk))


def _new_operation(resource, action, user) -> Operation:
    operation = Operation.objects.create(resource=resource, action=action, requested_by=user)
    _enqueue(operation)
    return operation


# Who may do what -------------------------------------------------------------------------------------------------


def can_manage(user, resource) -> bool:
    """The owner, an admin of the resource's team, or a Keeper may change a resource and see its secrets."""
    return resource.owner_id == user.id or can_admin_team(user, resource.team)


def allowed_actions(resource, user) -> set[str]:
    """The buttons a user sees for a resource in its current state."""
    actions: set[str] = set()
    if resource.state in (State.DELETED, State.REJECTED):
        return actions
    if is_keeper(user) and resource.state == State.AWAITING_APPROVAL:
        actions |= {"approve", "reject"}
    if not can_manage(user, resource):
        return actions
    try:
        driver = get_driver(resource.driver, resource.kind)
    except DriverError:
        driver = None
    if driver and driver.can_stop and resource.state == State.READY:
        actions.add("stop")
    if driver and driver.can_stop and resource.state in (State.STOPPED, State.FAILED):
        actions.add("start")
    if driver and driver.can_cancel and resource.state in (State.RUNNING, State.QUEUED, State.PROVISIONING):
        actions.add("cancel")
    if resource.state == State.FAILED and not (driver and driver.can_stop):
        actions.add("retry")
    if driver and driver.can_reapply and resource.state == State.READY:
        actions.add("reapply")
    if resource.state != State.DELETING:
        actions.add("delete")
    if resource.has_secrets and resource.state not in (State.DELETING,):
        actions.add("reveal")
    return actions


def _require_action(resource, user, action: str) -> None:
    if action not in allowed_actions(resource, user):
        if not can_manage(user, resource) and action not in ("approve", "reject"):
            raise NotAllowed("Only the owner, a team admin or a Keeper can do this.")
        raise PortalError(
            f"You cannot {action} this resource while it is {resource.get_state_display().lower()}.",
            code="invalid_state",
            status_code=409,
        )


# Requests ---------------------------------------------------------------------------------------------------------


def resource_request(
    *, template: Template, team: Team, owner, name: str, parameters: dict, idempotency_key: str = "", request=None
) -> Resource:
    """Validate a request, check quotas and approval, write the resource and its first operation."""
    if idempotency_key:
        existing = Resource.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
        if existing:
            return _same_request(existing, template, team, name)
    if not template.enabled:
        raise PortalError(
            f"The template '{template.name}' is switched off; pick another one.", code="template_disabled"
        )
    driver = get_driver(template.driver, template.resource_kind)
    if not driver.available():
        raise PortalError(
            f"'{template.name}' is not offered here: the portal has no {template.driver} cluster configured.",
            code="template_unavailable",
        )
    if not can_use_team(owner, team):
        raise NotAllowed(f"You are not a member of the team '{team.name}'.")
    errors = {}
    if problem := name_error(name):
        errors["name"] = problem
    clean, parameter_errors = parameters_validate(template.parameters_schema, parameters)
    errors.update(parameter_errors)
    if not errors:
        errors.update(driver.validate(clean, team=team, config=template.config))
    if errors:
        raise PortalError(next(iter(errors.values())), code="invalid", fields=errors)

    needs_approval = template.needs_approval(clean)
    try:
        with transaction.atomic():
            Team.objects.select_for_update().get(pk=team.pk)  # one quota check at a time per team
            if Resource.objects.visible().filter(team=team, name=name).exclude(state=State.REJECTED).exists():
                raise PortalError(
                    f"Your team already has a resource named '{name}'. Pick another name, or delete the old one first.",
                    code="duplicate_name",
                    fields={"name": f"'{name}' is taken in your team."},
                    status_code=409,
                )
            if excess := quota_excess(
                team, resource_usage(template.driver, template.resource_kind, clean, State.REQUESTED, template.config)
            ):
                raise PortalError(excess, code="over_quota", status_code=409)
            inputs = _secret_inputs(template, clean)
            resource = Resource(
                team=team,
                owner=owner,
                template=template,
                template_version=template.version,
                kind=template.resource_kind,
                driver=template.driver,
                name=name,
                parameters={**(template.defaults or {}), **clean},
                idempotency_key=idempotency_key,
                state=State.AWAITING_APPROVAL if needs_approval else State.REQUESTED,
                status_message="Waiting for a Keeper to approve this request."
                if needs_approval
                else "Waiting for a worker to start.",
                expires_at=_expiry(clean),
            )
            resource.secrets = inputs
            resource.save()
            _event(resource, f"Requested by {owner.get_username()} from the template '{template.name}'.")
            if needs_approval:
                _event(resource, "This request needs a Keeper's approval; you will see the decision here.")
            else:
                _new_operation(resource, Action.CREATE, owner)
            audit_record(
                actor=owner,
                action="resource.request",
                target=resource,
                request=request,
                data={"template": template.slug, "parameters": clean, "secret_inputs": sorted(inputs)},
            )
    except IntegrityError:
        if idempotency_key:
            existing = Resource.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
            if existing:
                return _same_request(existing, template, team, name)
        raise PortalError(
            f"Your team already has a resource named '{name}'. Pick another name.",
            code="duplicate_name",
            fields={"name": f"'{name}' is taken in your team."},
            status_code=409,
        ) from None
    return resource


def _secret_inputs(template, parameters: dict) -> dict:
    """Take the values of write-only (sensitive) parameters out of `parameters`, as secrets named var:<name>."""
    hidden = {
        key for key, spec in (template.parameters_schema or {}).get("properties", {}).items() if spec.get("writeOnly")
    }
    return {f"var:{key}": parameters.pop(key) for key in list(parameters) if key in hidden}


def _expiry(parameters):
    days = parameters.get("expires_in_days")
    return timezone.now() + timedelta(days=days) if days else None


def _same_request(existing, template, team, name) -> Resource:
    if existing.template_id != template.id or existing.team_id != team.id or existing.name != name:
        raise PortalError(
            "This Idempotency-Key was already used for a different request; use a new key.",
            code="idempotency_conflict",
            status_code=409,
        )
    return existing


def resource_approve(*, resource: Resource, user, reason: str = "", request=None) -> Resource:
    """A Keeper approves a waiting request: it is queued for creation."""
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        if not is_keeper(user):
            raise NotAllowed("Only Keepers approve requests.")
        _require_action(resource, user, "approve")
        resource.state, resource.status_message = State.REQUESTED, "Approved; waiting for a worker to start."
        resource.approved_by, resource.decided_at, resource.decision_reason = user, timezone.now(), reason[:500]
        resource.save(
            update_fields=["state", "status_message", "approved_by", "decided_at", "decision_reason", "updated_at"]
        )
        _event(resource, f"Approved by {user.get_username()}" + (f": {reason}" if reason else "."))
        _new_operation(resource, Action.CREATE, user)
        audit_record(actor=user, action="resource.approve", target=resource, request=request, data={"reason": reason})
    return resource


def resource_reject(*, resource: Resource, user, reason: str, request=None) -> Resource:
    if not reason.strip():
        raise PortalError(
            "Say why the request is rejected, so the scientist knows what to change.",
            code="invalid",
            fields={"reason": "A reason is required."},
        )
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        if not is_keeper(user):
            raise NotAllowed("Only Keepers reject requests.")
        _require_action(resource, user, "reject")
        resource.state, resource.status_message = State.REJECTED, f"Rejected: {reason}"[:500]
        resource.approved_by, resource.decided_at, resource.decision_reason = user, timezone.now(), reason[:500]
        resource.save(
            update_fields=["state", "status_message", "approved_by", "decided_at", "decision_reason", "updated_at"]
        )
        _event(resource, f"Rejected by {user.get_username()}: {reason}", level=Event.Level.WARNING)
        audit_record(actor=user, action="resource.reject", target=resource, request=request, data={"reason": reason})
    return resource


def _simple_action(resource, user, action: str, op_action: str, state: str, message: str, request):
    """`user` None means the portal itself (reconcile), which may act in any state where the action applies."""
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        if user is not None:
            _require_action(resource, user, action)
        resource.state, resource.status_message, resource.warning = state, message, ""
        resource.save(update_fields=["state", "status_message", "warning", "updated_at"])
        _event(resource, f"{action.capitalize()} requested by {user.get_username()}." if user else message)
        _new_operation(resource, op_action, user)
        audit_record(actor=user, action=f"resource.{action}", target=resource, request=request)
    return resource


def resource_stop(*, resource, user, request=None) -> Resource:
    """Stop without losing data (notebooks); start brings it back."""
    return _simple_action(resource, user, "stop", Action.STOP, State.STOPPING, "Stopping...", request)


def resource_start(*, resource, user, request=None) -> Resource:
    return _simple_action(resource, user, "start", Action.START, State.STARTING, "Starting...", request)


def resource_cancel(*, resource, user, request=None) -> Resource:
    """End a running or queued job for good; its log and folder are kept until it is deleted."""
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        _require_action(resource, user, "cancel")
        queued = list(resource.operations.filter(state=OperationState.QUEUED))
        for operation in queued:
            operation.cancel(f"Cancelled by {user.get_username()}.")
        if resource.state == State.QUEUED:  # it never started: nothing to stop
            resource.state, resource.status_message = State.STOPPED, "Cancelled before it started."
            resource.save(update_fields=["state", "status_message", "updated_at"])
            _event(resource, f"Cancelled by {user.get_username()} while waiting.")
            _after_transition(resource)
        else:
            resource.state, resource.status_message = State.STOPPING, "Cancelling..."
            resource.save(update_fields=["state", "status_message", "updated_at"])
            _event(resource, f"Cancel requested by {user.get_username()}.")
            _new_operation(resource, Action.STOP, user)
        audit_record(actor=user, action="resource.cancel", target=resource, request=request)
    return resource


def resource_open_url(*, resource, user, request=None) -> str:
    """The address that opens a notebook, token included; for those who may manage it, and recorded."""
    if not can_manage(user, resource):
        raise NotAllowed("Only the owner, a team admin or a Keeper can open this notebook.")
    url = resource.secrets.get("url_with_token")
    if resource.state != State.READY or not url:
        raise PortalError("This notebook is not running; start it first.", code="not_running", status_code=409)
    audit_record(actor=user, action="resource.open", target=resource, request=request)
    return url


def resource_reapply(*, resource, user, request=None) -> Resource:
    """Apply the template again, bringing drifted infrastructure back to what it should be."""
    return _simple_action(resource, user, "reapply", Action.APPLY, State.PROVISIONING, "Applying again...", request)


def drift_check() -> dict:
    """Compare each ready resource that supports it with its real infrastructure; record drift as a warning."""
    report = {"checked": 0, "drifted": 0}
    for resource in Resource.objects.filter(state=State.READY).select_related("team", "template"):
        try:
            driver = get_driver(resource.driver, resource.kind)
        except DriverError:
            continue
        if not driver.can_reapply:
            continue
        report["checked"] += 1
        try:
            drifted, summary = driver.drift(resource)
        except DriverError as exc:
            logger.warning("drift check of %s failed: %s", resource.pk, exc.message)
            continue
        warning = (
            f"Drift: the real infrastructure no longer matches ({summary}). Re-apply to put it back." if drifted else ""
        )
        if warning != resource.warning:
            Resource.objects.filter(pk=resource.pk).update(warning=warning)
            if drifted:
                _event(resource, warning, level=Event.Level.WARNING)
        report["drifted"] += int(drifted)
    return report


def resource_preview(*, template: Template, team: Team, name: str, parameters: dict) -> str:
    """What a request with these parameters would make, without making anything."""
    import uuid

    clean, errors = parameters_validate(template.parameters_schema, parameters)
    if errors:
        return "Fix the form first: " + "; ".join(errors.values())
    resource = Resource(
        id=uuid.uuid4(),
        team=team,
        template=template,
        kind=template.resource_kind,
        driver=template.driver,
        name=name,
        parameters={**(template.defaults or {}), **clean},
    )
    resource.secrets = _secret_inputs(template, resource.parameters)
    try:
        return get_driver(template.driver, template.resource_kind).preview(resource) or "Nothing to show."
    except DriverError as exc:
        return f"The preview failed: {exc.message}"


def resource_retry(*, resource, user, request=None) -> Resource:
    """Run the action that failed again (create, start, stop or delete)."""
    last = resource.operations.order_by("-created_at", "-id").first()
    action = last.action if last else Action.CREATE
    return _simple_action(
        resource, user, "retry", action, RUNNING_STATE.get(action, State.REQUESTED), "Retrying...", request
    )


def resource_delete(*, resource, user=None, request=None, reason: str = "") -> Resource:
    """Delete from any state: queued work is cancelled, then the driver removes what exists."""
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        if user is not None:
            _require_action(resource, user, "delete")
        elif resource.state in (State.DELETED, State.DELETING, State.REJECTED):
            return resource
        for operation in resource.operations.filter(state=OperationState.QUEUED):
            operation.cancel("Cancelled: the resource is being deleted.")
        resource.state, resource.status_message = State.DELETING, "Deleting..."
        resource.save(update_fields=["state", "status_message", "updated_at"])
        who = user.get_username() if user else "the portal"
        _event(resource, f"Delete requested by {who}" + (f": {reason}" if reason else "."))
        _new_operation(resource, Action.DELETE, user)
        audit_record(
            actor=user,
            action="resource.delete",
            target=resource,
            request=request,
            data={"reason": reason} if reason else None,
        )
    return resource


def resource_reveal_secrets(*, resource, user, request=None) -> dict:
    """The resource's secrets, for the owner, a team admin or a Keeper; every reveal is audited."""
    if not can_manage(user, resource):
        raise NotAllowed("Only the owner, a team admin or a Keeper can see these credentials.")
    if resource.state in (State.DELETED, State.DELETING) or not resource.has_secrets:
        raise PortalError("This resource has no credentials to show.", code="no_secrets", status_code=404)
    audit_record(
        actor=user,
        action="resource.reveal",
        target=resource,
        request=request,
        data={"fields": sorted(resource.secrets)},
    )
    _event(resource, f"Credentials shown to {user.get_username()}.")
    return resource.secrets


# Running operations -------------------------------------------------------------------------------------------------


class OperationLog:
    """The `log` callable given to drivers: appends timestamped lines, with known secrets masked."""

    def __init__(self, operation: Operation, secrets: dict):
        self.operation = operation
        self.mask = [str(v) for v in secrets.values() if v and len(str(v)) >= 4]

    def add_secrets(self, secrets: dict) -> None:
        self.mask += [str(v) for v in secrets.values() if v and len(str(v)) >= 4]

    def progress(self, text: str) -> None:
        """Say where a long step is, on the resource's page (and in the log): "Pulling the image..."."""
        self(text)
        Resource.objects.filter(pk=self.operation.resource_id).update(status_message=self._masked(text)[:500])

    def _masked(self, text: str) -> str:
        for secret in self.mask:
            text = text.replace(secret, "********")
        return text

    def __call__(self, text: str) -> None:
        text = self._masked(text)
        stamp = timezone.now().strftime("%H:%M:%S")
        self.operation.append_log("\n".join(f"[{stamp}] {line}" for line in text.rstrip("\n").splitlines()))


class Heartbeat:
    """Writes the operation's heartbeat every few seconds from a thread while the driver works."""

    def __init__(self, operation: Operation):
        self.operation, self.stopped = operation, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{operation.pk}")

    def _run(self):
        try:
            # Four beats per timeout: a live worker is never mistaken for a dead one.
            interval = max(0.5, settings.OPERATION_HEARTBEAT_TIMEOUT_SECONDS / 4)
            while not self.stopped.wait(interval):
                self.operation.heartbeat()
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(5)


def _heartbeat_stale(operation) -> bool:
    limit = timezone.now() - timedelta(seconds=settings.OPERATION_HEARTBEAT_TIMEOUT_SECONDS)
    return operation.heartbeat_at is None or operation.heartbeat_at < limit


def _claim(operation_id: int, worker: str):
    """Lock and start the operation. Returns (operation, resource) or a string saying why not."""
    with transaction.atomic():
        operation = Operation.objects.select_for_update(skip_locked=True).filter(pk=operation_id).first()
        if operation is None:
            return "busy" if Operation.objects.filter(pk=operation_id).exists() else "gone"
        if operation.is_terminal:
            return "done"
        if operation.state == OperationState.RUNNING and not _heartbeat_stale(operation):
            return "running-elsewhere"
        earlier = Operation.objects.filter(resource_id=operation.resource_id, id__lt=operation.id).exclude(
            state__in=TERMINAL_OPERATION_STATES
        )
        if earlier.exists():
            return "wait"
        taking_over = operation.state == OperationState.RUNNING
        operation.start(worker=worker)
        resource = Resource.objects.select_for_update().select_related("team", "template").get(pk=operation.resource_id)
        if resource.state != State.QUEUED:  # a queued resource keeps its place in the queue while it tries again
            resource.state = RUNNING_STATE[operation.action]
            resource.status_message = f"{DOING[operation.action]} {resource.get_kind_display().lower()}..."
            resource.save(update_fields=["state", "status_message", "updated_at"])
        if taking_over:
            operation.append_log(
                f"[{timezone.now():%H:%M:%S}] The previous worker stopped answering; "
                f"{worker} takes over (attempt {operation.attempt})."
            )
            _event(
                resource,
                "A worker stopped answering; another one took over.",
                level=Event.Level.WARNING,
                operation=operation,
            )
        elif operation.attempt == 1:
            _event(resource, f"{DOING[operation.action]} started.", operation=operation)
    return operation, resource


def operation_execute(*, operation_id: int, worker: str) -> str:
    """Run one operation to its end. Idempotent: a second call, or one after a crash half-way, ends the same.

    Returns what happened: done, succeeded, failed, errored, retry, wait, busy, running-elsewhere, gone.
    """
    claimed = _claim(operation_id, worker)
    if isinstance(claimed, str):
        return claimed
    operation, resource = claimed
    driver = get_driver(resource.driver, resource.kind)
    log = OperationLog(operation, resource.secrets)
    log(
        f"{DOING[operation.action]} {resource.name} with the {driver.label or driver.name} driver "
        f"(attempt {operation.attempt}, worker {worker})."
    )
    try:
        with Heartbeat(operation):
            result = None
            if operation.action in (Action.CREATE, Action.APPLY):
                result = driver.apply(resource, log)
            elif operation.action == Action.START:
                result = driver.start(resource, log)
            elif operation.action == Action.STOP:
                driver.stop(resource, log)
            elif operation.action == Action.DELETE:
                driver.destroy(resource, log)
    except Queued as exc:
        return _operation_queued(operation, resource, log, exc)
    except DriverError as exc:
        return _operation_failed(
            operation,
            resource,
            log,
            exc.message,
            retryable=exc.retryable,
            reason=exc.reason,
            state=getattr(exc, "state", None),
        )
    except Exception as exc:
        from celery.exceptions import SoftTimeLimitExceeded

        if isinstance(exc, SoftTimeLimitExceeded):
            return _operation_failed(
                operation, resource, log, "This took longer than its time limit and was stopped.", reason="timeout"
            )
        log("Unexpected error:\n" + traceback.format_exc())
        logger.exception("operation %s errored", operation.pk)
        return _operation_failed(
            operation,
            resource,
            log,
            "Something unexpected went wrong; the Keepers can see the details in the log. Retry, or delete it.",
            errored=True,
            reason="error",
        )
    if result is not None:
        log.add_secrets(result.secrets)
    return _operation_succeeded(operation, resource, log, result, driver)


def _operation_queued(operation, resource, log, exc: Queued) -> str:
    """The resource waits for capacity: the operation goes back to the queue, no worker is held."""
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        Operation.objects.filter(pk=operation.pk).update(
            state=OperationState.QUEUED, attempt=operation.attempt - 1, enqueued_at=timezone.now()
        )
        first_time = resource.state != State.QUEUED
        resource.state, resource.status_message = State.QUEUED, exc.message
        resource.save(update_fields=["state", "status_message", "updated_at"])
        if first_time:
            log(exc.message)
            _event(resource, exc.message, operation=operation)
    return "queued"


def gpu_queue_advance() -> int:
    """Give waiting resources another try, oldest first (each keeps its place: see gpus.allocate)."""
    waiting = Operation.objects.filter(state=OperationState.QUEUED, resource__state=State.QUEUED).order_by(
        "resource__created_at", "id"
    )
    count = 0
    for operation in waiting:
        _enqueue(operation)
        count += 1
    return count


def _after_transition(resource) -> None:
    """Give back the GPUs of a resource that no longer needs them, and let the queue move."""
    if resource.state not in GPU_HOLDING_STATES and gpus.release(resource):
        transaction.on_commit(gpu_queue_advance)


def _operation_succeeded(operation, resource, log, result, driver) -> str:
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        now = timezone.now()
        if operation.action == Action.DELETE:
            resource.state, resource.status_message, resource.deleted_at = State.DELETED, "Deleted.", now
            resource.outputs, resource.secrets = {}, {}
            resource.driver_state = {**resource.driver_state, "deleted": True}
        else:
            state = result.resource_state if result and result.resource_state else DONE_STATE[operation.action]
            resource.state = state
            resource.status_message = (
                result.message
                if result and result.message
                else {
                    State.READY: "Ready to use.",
                    State.STOPPED: "Stopped; start it again any time.",
                    State.RUNNING: "Running.",
                }.get(state, "")
            )
            if result is not None:
                resource.outputs = result.outputs
                if result.secrets:
                    resource.secrets = result.secrets
                resource.driver_state = result.state
            resource.last_activity_at = now
        resource.warning = ""
        resource.save()
        operation.finish()
        _after_transition(resource)
        log(f"Done: {resource.get_state_display().lower()}.")
        _event(
            resource,
            {
                Action.DELETE: "Deleted. Everything it held is gone.",
                Action.STOP: "Stopped.",
                Action.START: "Started again; ready to use.",
            }.get(operation.action, resource.status_message),
            operation=operation,
        )
    return "succeeded"


def _operation_failed(
    operation, resource, log, message, *, retryable=False, errored=False, reason="error", state=None
) -> str:
    if retryable and operation.attempt < MAX_RETRYABLE_ATTEMPTS:
        log(f"{message} Trying again shortly (attempt {operation.attempt} of {MAX_RETRYABLE_ATTEMPTS}).")
        Operation.objects.filter(pk=operation.pk).update(state=OperationState.QUEUED)
        Resource.objects.filter(pk=resource.pk).update(status_message=f"{message} Retrying...")
        return "retry"
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        operation.fail(message, errored=errored)
        log(f"Failed: {message}")
        resource.state = state or State.FAILED
        verb = {Action.DELETE: "Delete", Action.STOP: "Stop", Action.START: "Start"}.get(operation.action, "Create")
        resource.status_message = f"{verb} failed: {message}"[:500]
        resource.save(update_fields=["state", "status_message", "updated_at"])
        _event(resource, resource.status_message, level=Event.Level.ERROR, operation=operation)
        _after_transition(resource)
    return "errored" if errored else "failed"


# Reconcile ---------------------------------------------------------------------------------------------------------


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
        _enqueue(operation)
        report["taken_over"] += 1
    for operation in Operation.objects.filter(state=OperationState.QUEUED, enqueued_at__lt=stale):
        _enqueue(operation)
        report["requeued"] += 1
    for resource in Resource.objects.filter(expires_at__lt=now).exclude(
        state__in=[State.DELETED, State.DELETING, State.REJECTED]
    ):
        resource_delete(resource=resource, reason="it reached its expiry date")
        report["expired"] += 1
    polled = (
        Resource.objects.filter(state__in=[State.READY, State.RUNNING, State.QUEUED])
        .select_related("team")
        .order_by("updated_at")[:poll_limit]
    )
    for resource in polled:
        report["polled"] += 1
        if _poll_one(resource):
            report["changed"] += 1
    return report


def _poll_one(resource) -> bool:
    """Ask the driver for the real state; record what changed. Returns whether it changed."""
    try:
        status = get_driver(resource.driver, resource.kind).poll(resource)
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
        new_state = {
            "missing": State.FAILED,
            "failed": State.FAILED,
            "stopped": State.STOPPED,
            "succeeded": State.SUCCEEDED,
            "running": State.RUNNING,
            "ready": State.READY,
        }.get(status.state)
        if new_state and new_state != current.state:
            current.state, changed = new_state, True
            current.status_message = status.message or current.status_message
            level = Event.Level.ERROR if new_state == State.FAILED else Event.Level.INFO
            _event(current, status.message or f"Now {current.get_state_display().lower()}.", level=level)
            current.warning = ""
        elif status.message and status.message != current.status_message and new_state == current.state:
            current.status_message, changed = status.message, True
        current.save()
        _after_transition(current)
    if current.state == State.READY and current.kind == "notebook":
        _cull_idle(current)
    close_old_connections()
    return changed


def _cull_idle(resource) -> None:
    """Stop a notebook idle past its timeout; warn its owner a few minutes before."""
    minutes = resource.parameters.get("idle_timeout_minutes")
    if not minutes or not resource.last_activity_at:
        return
    idle = timezone.now() - resource.last_activity_at
    limit = timedelta(minutes=minutes)
    warn_at = limit - timedelta(minutes=settings.NOTEBOOK_CULL_WARNING_MINUTES)
    if idle >= limit:
        _simple_action(
            resource,
            None,
            "stop",
            Action.STOP,
            State.STOPPING,
            f"Stopping: unused for {minutes} minutes. Your files are kept; start it again any time.",
            None,
        )
    elif idle >= warn_at and not resource.warning:
        stop_at = timezone.localtime(resource.last_activity_at + limit)
        warning = (
            f"Unused since {timezone.localtime(resource.last_activity_at):%H:%M}: it will be stopped at "
            f"{stop_at:%H:%M} unless you use it. Your files are kept either way."
        )
        Resource.objects.filter(pk=resource.pk).update(warning=warning)
        _event(resource, warning, level=Event.Level.WARNING)
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
    """Quick check of running jobs and notebooks, so endings show within seconds."""
    count = 0
    for resource in Resource.objects.filter(
        state__in=[State.RUNNING, State.READY], kind__in=["training_job", "notebook"]
    ).select_related("team"):
        _poll_one(resource)
        count += 1
    return count
