"""Thin Celery tasks: take an id, call one function, retry with backoff when told to; the beat schedule beside them.

Queues (routes in portal/settings.py, CELERY_TASK_ROUTES): `operations` for user operations (operation_run),
`previews` for the form's Preview, `control` (the default queue) for the control loop, so a slow driver can never
starve reconcile, polling or a delete's doorbell.
"""

from celery import shared_task
from celery.signals import worker_init
from django.conf import settings

from provisioning import control, drivers, engine, pool, services

# Run by `celery beat` (gathered in portal/celery.py).
BEAT_SCHEDULE = {
    "reconcile": {"task": "provisioning.reconcile", "schedule": float(settings.RECONCILE_INTERVAL_SECONDS)},
    "poll-running": {
        "task": "provisioning.poll_running",
        "schedule": float(settings.POLL_INTERVAL_SECONDS),
        # A poll that could not run in time is replaced by the next one, never piled up.
        "options": {"expires": max(1.0, float(settings.POLL_INTERVAL_SECONDS))},
    },
    "notebook-pool-refill": {
        "task": "provisioning.pool_refill",
        "schedule": float(settings.NOTEBOOK_POOL_REFILL_SECONDS),
        "options": {"expires": max(1.0, float(settings.NOTEBOOK_POOL_REFILL_SECONDS))},
    },
    "drift-check": {
        "task": "provisioning.drift_check",
        "schedule": float(settings.DRIFT_CHECK_INTERVAL_SECONDS),
        "options": {"expires": max(1.0, float(settings.DRIFT_CHECK_INTERVAL_SECONDS))},
    },
}


@worker_init.connect
def _warm_up_drivers(**kwargs) -> None:
    """In the worker's parent process, before it forks: the children share what the drivers load, and a first
    operation does not pay for it (importing the Kubernetes client takes seconds on a busy machine)."""
    drivers.warm_up()


@shared_task(
    bind=True,
    name="provisioning.operation_run",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
)
def operation_run(self, operation_id: int) -> str:
    outcome = engine.operation_execute(operation_id=operation_id, worker=self.request.hostname or "worker")
    if outcome == "wait":  # an earlier operation of the same resource is still running
        raise self.retry(countdown=3)
    if outcome == "retry":  # a retryable driver error: back off
        raise self.retry(countdown=min(60, 5 * 2 ** min(self.request.retries, 4)))
    return outcome


@shared_task(name="provisioning.reconcile", soft_time_limit=120, time_limit=180)
def reconcile() -> dict:
    return control.reconcile()


@shared_task(name="provisioning.poll_running", soft_time_limit=60, time_limit=90, expires=30)
def poll_running() -> int:
    return control.poll_running()


@shared_task(name="provisioning.follow", soft_time_limit=30, time_limit=60)
def follow(resource_id: int, since: float) -> str:
    return control.follow(resource_id, since)


@shared_task(name="provisioning.pool_refill", soft_time_limit=120, time_limit=180)
def pool_refill() -> dict:
    return pool.refill()


@shared_task(name="provisioning.drift_check", soft_time_limit=1800, time_limit=1900, expires=600)
def drift_check() -> dict:
    return control.drift_check()


@shared_task(name="provisioning.preview", soft_time_limit=300, time_limit=330)
def preview(template_id: int, team_id: int, user_id: int, name: str, parameters: dict) -> dict:
    """What a request would make, for the form's Preview button (Terraform: a plan)."""
    from catalog.models import Template
    from portal.models import Team

    text = services.resource_preview(
        template=Template.objects.get(pk=template_id),
        team=Team.objects.get(pk=team_id),
        name=name,
        parameters=parameters,
    )
    return {"user": user_id, "text": text}


@shared_task(
    name="provisioning.rotate_credentials",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=120,
    time_limit=180,
)
def rotate_credentials(rotation_id: int) -> str:
    from provisioning.credentials import credential_rotation_run

    return credential_rotation_run(rotation_id)
