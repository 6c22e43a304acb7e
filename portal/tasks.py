from celery import shared_task
from django.db import connection


@shared_task(name="portal.ping", soft_time_limit=10, time_limit=20)
def ping(payload: dict) -> dict:
    """Round trip used by tests and the readiness page: proves the worker reaches Redis and Postgres."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        database = cursor.fetchone()[0]
    return {"echo": payload, "database": database, "worker": ping.request.hostname}
