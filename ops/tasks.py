from celery import shared_task
from celery.schedules import crontab
from django.conf import settings

# The nightly backup, only where BACKUP_DIR is set; BACKUP_INTERVAL_SECONDS replaces the nightly time (tests).
BEAT_SCHEDULE = {}
if settings.BACKUP_DIR:
    BEAT_SCHEDULE["backup"] = {
        "task": "ops.backup",
        "schedule": float(settings.BACKUP_INTERVAL_SECONDS)
        if settings.BACKUP_INTERVAL_SECONDS
        else crontab(hour=settings.BACKUP_HOUR, minute=0),
    }


@shared_task(name="ops.backup", soft_time_limit=3000, time_limit=3300)
def backup() -> str:
    from pathlib import Path

    from ops.backup import backup_prune, backup_write

    folder = Path(settings.BACKUP_DIR)
    written = backup_write(folder=folder, key=settings.BACKUP_KEY)
    backup_prune(folder=folder, keep=settings.BACKUP_KEEP)
    return str(written)
