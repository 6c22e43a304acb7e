from celery import shared_task

BEAT_SCHEDULE = {
    "usage-settle": {"task": "usage.settle", "schedule": 3600.0},
}


@shared_task(name="usage.settle", soft_time_limit=300, time_limit=360)
def settle() -> int:
    from usage import services

    return services.usage_settle()
