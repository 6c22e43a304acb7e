from celery import shared_task
from django.conf import settings
from django.db import connection


@shared_task(name="portal.ping", soft_time_limit=10, time_limit=20)
def ping(payload: dict) -> dict:
    """Round trip used by tests and the readiness page: proves the worker reaches Redis and Postgres."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        database = cursor.fetchone()[0]
    return {"echo": payload, "database": database, "worker": ping.request.hostname}


# Notifications (issue 14): delivery, and the daily look for guides due for review.
from portal.notifications.reminders import guide_review_remind  # noqa: E402, F401
from portal.notifications.tasks import notification_deliver  # noqa: E402, F401

BEAT_SCHEDULE = {
    "guide-review-remind": {
        "task": "portal.guide_review_remind",
        "schedule": float(settings.GUIDE_REVIEW_REMIND_INTERVAL_SECONDS),
    },
}
