"""The states of resources and operations, and the table of allowed moves between them.

A leaf module: it imports nothing of the portal, so every layer may read it. `Resource.save()` checks every state
write against `TRANSITIONS` (see `check_transition`), so no code path can move a resource where the table says no.
"""

from __future__ import annotations

from django.db import models


class State(models.TextChoices):
    REQUESTED = "requested", "Requested"
    AWAITING_APPROVAL = "awaiting_approval", "Waiting for approval"
    REJECTED = "rejected", "Rejected"
    QUEUED = "queued", "Queued"
    PROVISIONING = "provisioning", "Being created"
    READY = "ready", "Ready"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    CANCELLED = "cancelled", "Cancelled"
    STOPPING = "stopping", "Stopping"
    STOPPED = "stopped", "Stopped"
    STARTING = "starting", "Starting"
    FAILED = "failed", "Failed"
    DELETING = "deleting", "Being deleted"
    DELETED = "deleted", "Deleted"


class Action(models.TextChoices):
    CREATE = "create", "Create"
    STOP = "stop", "Stop"
    START = "start", "Start"
    DELETE = "delete", "Delete"
    APPLY = "apply", "Re-apply"


class OperationState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ERRORED = "errored", "Errored"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_OPERATION_STATES = {
    OperationState.SUCCEEDED,
    OperationState.FAILED,
    OperationState.ERRORED,
    OperationState.CANCELLED,
}

S = State
# Where a resource may go from each state. Staying in the same state is always allowed (a new message).
# Every state but `deleted` has a way out: delete (see tests/provisioning/test_states.py).
TRANSITIONS: dict[str, frozenset[str]] = {
    S.REQUESTED: frozenset({S.QUEUED, S.PROVISIONING, S.READY, S.RUNNING, S.FAILED, S.DELETING}),
    S.AWAITING_APPROVAL: frozenset({S.REQUESTED, S.REJECTED, S.DELETING}),
    S.REJECTED: frozenset({S.DELETING, S.DELETED}),
    S.QUEUED: frozenset(
        {S.PROVISIONING, S.STARTING, S.READY, S.RUNNING, S.SUCCEEDED, S.FAILED, S.CANCELLED, S.STOPPED, S.DELETING}
    ),
    S.PROVISIONING: frozenset(
        {S.QUEUED, S.READY, S.RUNNING, S.SUCCEEDED, S.FAILED, S.STOPPING, S.STOPPED, S.CANCELLED, S.DELETING}
    ),
    S.READY: frozenset({S.PROVISIONING, S.RUNNING, S.SUCCEEDED, S.STOPPING, S.STOPPED, S.FAILED, S.DELETING}),
    S.RUNNING: frozenset({S.READY, S.SUCCEEDED, S.FAILED, S.STOPPING, S.STOPPED, S.CANCELLED, S.DELETING}),
    S.SUCCEEDED: frozenset({S.PROVISIONING, S.DELETING}),
    S.CANCELLED: frozenset({S.PROVISIONING, S.DELETING}),
    S.STOPPING: frozenset({S.STOPPED, S.CANCELLED, S.FAILED, S.READY, S.DELETING}),
    S.STOPPED: frozenset({S.STARTING, S.QUEUED, S.DELETING}),
    S.STARTING: frozenset({S.QUEUED, S.READY, S.RUNNING, S.FAILED, S.STOPPING, S.STOPPED, S.DELETING}),
    S.FAILED: frozenset(
        {S.PROVISIONING, S.STARTING, S.STOPPING, S.QUEUED, S.READY, S.RUNNING, S.DELETING, S.DELETED, S.STOPPED}
    ),
    S.DELETING: frozenset({S.DELETED, S.FAILED}),
    S.DELETED: frozenset(),
}


class InvalidTransition(Exception):
    """A write tried to move a resource where the table does not allow: a bug in the caller, never user input."""


def can_transition(old: str | None, new: str) -> bool:
    return old is None or old == new or new in TRANSITIONS.get(old, frozenset())


def check_transition(old: str | None, new: str) -> None:
    if not can_transition(old, new):
        raise InvalidTransition(f"A resource cannot go from {old} to {new}.")


# States in which something is happening and the page should keep refreshing; the control loop polls the ones a
# driver reported "in progress" (no operation running) every POLL_INTERVAL_SECONDS.
BUSY_STATES = {
    State.REQUESTED,
    State.QUEUED,
    State.PROVISIONING,
    State.RUNNING,
    State.STOPPING,
    State.STARTING,
    State.DELETING,
}
IN_MOTION_STATES = {State.PROVISIONING, State.STARTING, State.RUNNING, State.STOPPING, State.DELETING}
# States in which the resource holds capacity (counted against quotas).
ACTIVE_STATES = {
    State.REQUESTED,
    State.AWAITING_APPROVAL,
    State.QUEUED,
    State.PROVISIONING,
    State.READY,
    State.RUNNING,
    State.STOPPING,
    State.STARTING,
    State.FAILED,
    State.STOPPED,
    State.CANCELLED,
}
# GPUs are held only while something runs; stopped notebooks and ended jobs give them back.
GPU_HOLDING_STATES = {
    State.REQUESTED,
    State.AWAITING_APPROVAL,
    State.QUEUED,
    State.PROVISIONING,
    State.READY,
    State.RUNNING,
    State.STARTING,
}
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
