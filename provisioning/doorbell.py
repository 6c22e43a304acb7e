"""Ringing the queue: Postgres holds the work, a Celery message only wakes a worker. Sent by task name, so this
module imports no tasks (tasks import the engine, never the other way round)."""

from __future__ import annotations

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from provisioning.models import Operation

OPERATION_TASK = "provisioning.operation_run"


def time_limits(operation: Operation) -> tuple[int, int]:
    """The task's soft and hard time limits: the settings' defaults, raised to the template's own limit (a
    Terraform template may allow longer than a worker's default), so the driver's limit, not Celery's, ends it."""
    minutes = (
        Operation.objects.filter(pk=operation.pk)
        .values_list("resource__template__time_limit_minutes", flat=True)
        .first()
    )
    soft = max(settings.CELERY_TASK_SOFT_TIME_LIMIT, int(minutes or 0) * 60 + 60)
    return soft, soft + 60


def enqueue(operation: Operation, *, countdown: float | None = None) -> None:
    """Ring the doorbell once the transaction that wrote the operation commits (queue `operations`)."""
    Operation.objects.filter(pk=operation.pk).update(enqueued_at=timezone.now())
    operation_id = operation.pk
    soft, hard = time_limits(operation)
    transaction.on_commit(
        lambda: current_app.send_task(
            OPERATION_TASK, args=[operation_id], countdown=countdown, soft_time_limit=soft, time_limit=hard
        )
    )


FOLLOW_TASK = "provisioning.follow"


def follow(resource_id: int, *, since: float, countdown: float = 0.1) -> None:
    """Ask the control loop to look at a resource in motion again shortly (queue `control`), after the current
    transaction commits. Each look is one quick poll; nothing waits in a worker between looks."""
    transaction.on_commit(
        lambda: current_app.send_task(FOLLOW_TASK, args=[resource_id, since], countdown=countdown, expires=60)
    )


POOL_REFILL_TASK = "provisioning.pool_refill"


def pool_refill(*, countdown: float | None = None) -> None:
    """Ask for a refill of the warm notebook pool (queue `control`) once the current transaction commits."""
    transaction.on_commit(
        lambda: current_app.send_task(POOL_REFILL_TASK, countdown=countdown, expires=max(30.0, (countdown or 0) + 30))
    )
