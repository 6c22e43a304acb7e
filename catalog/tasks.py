"""Catalog tasks, thin: the control loop probes services' health checks on the beat schedule."""

from celery import shared_task
from django.conf import settings

from catalog.health import health_probe_all


@shared_task(name="catalog.probe_services", soft_time_limit=120, time_limit=180, ignore_result=True)
def probe_services(interval_seconds: float | None = None) -> int:
    # The interval travels with the task, so the worker skips what beat's own schedule probed recently.
    return health_probe_all(interval_seconds=interval_seconds)


BEAT_SCHEDULE = {
    "probe-services": {
        "task": "catalog.probe_services",
        "schedule": float(settings.SERVICE_PROBE_INTERVAL_SECONDS),
        "args": (float(settings.SERVICE_PROBE_INTERVAL_SECONDS),),
    },
}
