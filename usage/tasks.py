from celery import shared_task
from django.conf import settings

BEAT_SCHEDULE = {
    "usage-settle": {"task": "usage.settle", "schedule": float(settings.USAGE_SETTLE_INTERVAL_SECONDS)},
}


@shared_task(name="usage.settle", soft_time_limit=300, time_limit=360)
def settle() -> int:
    from usage import services

    return services.usage_settle()
