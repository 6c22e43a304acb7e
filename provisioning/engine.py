"""The engine: claim an operation, execute it with its driver, keep its log and heartbeat, record how it ended.

Runs in a worker (queue `operations`). A driver never waits here for long: what takes time it starts and reports
"in progress" (`Outputs.resource_state == IN_PROGRESS`); the control loop (control.py) polls it on.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from provisioning import doorbell, gpus
from provisioning.doorbell import enqueue
from provisioning.drivers import DriverError, Queued, get_driver
from provisioning.drivers.base import IN_PROGRESS
from provisioning.models import Event, Operation, OperationState, Resource
from provisioning.overhead import driver_call_started, overhead_record
from provisioning.states import (
    DONE_STATE,
    GPU_HOLDING_STATES,
    RUNNING_STATE,
    TERMINAL_OPERATION_STATES,
    Action,
    State,
)

logger = logging.getLogger(__name__)

MAX_RETRYABLE_ATTEMPTS = 4
DOING = {
    Action.CREATE: "Creating",
    Action.APPLY: "Applying changes to",
    Action.START: "Starting",
    Action.STOP: "Stopping",
    Action.DELETE: "Deleting",
}


def event(resource, message, *, level=Event.Level.INFO, operation=None):
    Event.objects.create(resource=resource, operation=operation, level=level, message=message[:1000])


def new_operation(resource, action, user) -> Operation:
    """Write an operation in state queued and ring the doorbell after commit."""
    operation = Operation.objects.create(resource=resource, action=action, requested_by=user)
    enqueue(operation)
    return operation


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


def heartbeat_stale(operation) -> bool:
    limit = timezone.now() - timedelta(seconds=settings.OPERATION_HEARTBEAT_TIMEOUT_SECONDS)
    return operation.heartbeat_at is None or operation.heartbeat_at < limit


SUPERSEDED = "the resource is being deleted, and the delete stops whatever it was doing."


def superseded(operation, resource) -> bool:
    """A delete came after this operation (a stop, start or create whose worker died, or that is still running):
    the delete decides the resource's end, not this operation."""
    return resource.state in (State.DELETING, State.DELETED) and operation.action != Action.DELETE


def claim(operation_id: int, worker: str):
    """Lock and start the operation. Returns (operation, resource) or a string saying why not."""
    with transaction.atomic():
        operation = Operation.objects.select_for_update(skip_locked=True).filter(pk=operation_id).first()
        if operation is None:
            return "busy" if Operation.objects.filter(pk=operation_id).exists() else "gone"
        if operation.is_terminal:
            return "done"
        if operation.state == OperationState.RUNNING and not heartbeat_stale(operation):
            return "running-elsewhere"
        earlier = Operation.objects.filter(resource_id=operation.resource_id, id__lt=operation.id).exclude(
            state__in=TERMINAL_OPERATION_STATES
        )
        if earlier.exists():
            return "wait"
        taking_over = operation.state == OperationState.RUNNING
        # Only the resource's row (not its team's or template's: a start locks the team first, then the resource).
        resource = (
            Resource.objects.select_for_update(of=("self",))
            .select_related("team", "template")
            .get(pk=operation.resource_id)
        )
        if superseded(operation, resource):
            operation.cancel(SUPERSEDED)
            event(resource, f"{DOING[operation.action]} was not finished: {SUPERSEDED}", operation=operation)
            return "superseded"
        operation.start(worker=worker)
        if resource.state != State.QUEUED:  # a queued resource keeps its place in the queue while it tries again
            resource.state = RUNNING_STATE[operation.action]
            resource.status_message = f"{DOING[operation.action]} {resource.get_kind_display().lower()}..."
            resource.save(update_fields=["state", "status_message", "updated_at"])
        if taking_over:
            operation.append_log(
                f"[{timezone.now():%H:%M:%S}] The previous worker stopped answering; "
                f"{worker} takes over (attempt {operation.attempt})."
            )
            event(
                resource,
                "A worker stopped answering; another one took over.",
                level=Event.Level.WARNING,
                operation=operation,
            )
        elif operation.attempt == 1:
            event(resource, f"{DOING[operation.action]} started.", operation=operation)
    return operation, resource


def operation_execute(*, operation_id: int, worker: str) -> str:
    """Run one operation to its end. Idempotent: a second call, or one after a crash half-way, ends the same.

    Returns what happened: done, succeeded, failed, errored, retry, wait, busy, running-elsewhere, gone, superseded.
    """
    claimed = claim(operation_id, worker)
    if isinstance(claimed, str):
        return claimed
    operation, resource = claimed
    driver = get_driver(resource.driver, resource.kind)
    log = OperationLog(operation, resource.secrets)
    log(
        f"{DOING[operation.action]} {resource.name} ({driver.label or driver.name}; "
        f"attempt {operation.attempt}, worker {worker})."
    )
    try:
        with Heartbeat(operation):
            result = None
            driver_called_at = driver_call_started()  # issue 19: the engine's overhead, see provisioning/overhead.py
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
    driver_returned = time.perf_counter()
    if result is not None:
        log.add_secrets(result.secrets)
    outcome = _operation_succeeded(operation, resource, log, result, driver)
    overhead_record(operation, driver_called_at=driver_called_at, driver_returned=driver_returned)
    return outcome


def _operation_queued(operation, resource, log, exc: Queued) -> str:
    """The resource waits for capacity: the operation goes back to the queue, no worker is held."""
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        if superseded(operation, resource):
            return _operation_superseded(operation, resource, log)
        Operation.objects.filter(pk=operation.pk).update(
            state=OperationState.QUEUED, attempt=operation.attempt - 1, enqueued_at=timezone.now()
        )
        first_time = resource.state != State.QUEUED
        resource.state, resource.status_message = State.QUEUED, exc.message
        if resource.queued_at is None:  # its place in line: kept until it leaves the queue
            resource.queued_at = timezone.now()
        resource.save(update_fields=["state", "status_message", "queued_at", "updated_at"])
        if first_time:
            log(exc.message)
            event(resource, exc.message, operation=operation)
    return "queued"


def after_transition(resource) -> None:
    """Give back the GPUs of a resource that no longer needs them, and let the queue move."""
    if resource.state != State.QUEUED and resource.queued_at is not None:
        Resource.objects.filter(pk=resource.pk).update(queued_at=None)
        resource.queued_at = None
    if resource.state not in GPU_HOLDING_STATES and gpus.release(resource):
        transaction.on_commit(gpus.queue_advance)


def _operation_superseded(operation, resource, log) -> str:
    """Locked: the operation ended after a delete was asked for; the resource's state is the delete's."""
    operation.cancel(SUPERSEDED)
    log(f"Ended, but {SUPERSEDED}")
    return "superseded"


def _operation_succeeded(operation, resource, log, result, driver) -> str:
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        if superseded(operation, resource):
            return _operation_superseded(operation, resource, log)
        now = timezone.now()
        if operation.action == Action.DELETE:
            resource.state, resource.status_message, resource.deleted_at = State.DELETED, "Deleted.", now
            resource.outputs, resource.secrets = {}, {}
            resource.driver_state = {**resource.driver_state, "deleted": True}
        else:
            state = result.resource_state if result and result.resource_state else DONE_STATE[operation.action]
            if state == IN_PROGRESS:  # started; the control loop polls it on (nothing waits in a worker)
                state = RUNNING_STATE[operation.action]
                doorbell.follow(resource.pk, since=time.time())
            if operation.action == Action.STOP and driver.can_cancel and not driver.can_stop:
                state = State.CANCELLED  # a job's stop is a cancel: it ends for good
            resource.state = state
            resource.status_message = (
                result.message
                if result and result.message
                else {
                    State.READY: "Ready to use.",
                    State.STOPPED: "Stopped; start it again any time.",
                    State.RUNNING: "Running.",
                    State.CANCELLED: "Cancelled; its log and working folder are kept. Retry runs it again.",
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
        after_transition(resource)
        log(f"Done: {resource.get_state_display().lower()}.")
        event(
            resource,
            resource.status_message
            if resource.state == RUNNING_STATE.get(operation.action)
            else {
                Action.DELETE: "Deleted. Everything it held is gone.",
                Action.STOP: "Cancelled." if resource.state == State.CANCELLED else "Stopped.",
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
        if superseded(operation, resource):
            return _operation_superseded(operation, resource, log)
        operation.fail(message, errored=errored)
        log(f"Failed: {message}")
        resource.state = state or State.FAILED
        verb = {Action.DELETE: "Delete", Action.STOP: "Stop", Action.START: "Start"}.get(operation.action, "Create")
        resource.status_message = f"{verb} failed: {message}"[:500]
        resource.save(update_fields=["state", "status_message", "updated_at"])
        event(resource, resource.status_message, level=Event.Level.ERROR, operation=operation)
        after_transition(resource)
    return "errored" if errored else "failed"
