"""Logs for a log stack: LOG_FORMAT=json writes one JSON object per line with the request, user, team, resource and
operation ids of what the line is about; the default stays readable text.

The ids live in context variables: the web middleware sets them per request, a Celery signal per task.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import logging
from datetime import UTC, datetime

CONTEXT_FIELDS = ("request_id", "user", "team", "resource_id", "operation_id", "task")
_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar("portal_log_context", default=None)


def context_set(**values) -> None:
    """Add ids to what the log lines of this request or task carry (None values are left out)."""
    current = dict(_context.get() or {})
    current.update({k: v for k, v in values.items() if v is not None})
    _context.set(current)


def context_clear() -> None:
    _context.set(None)


def context() -> dict:
    return dict(_context.get() or {})


class ContextFilter(logging.Filter):
    """Puts the ids of the current request or task on every record (`extra=` given to a log call wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context ids, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def _task_started(sender=None, task_id=None, task=None, args=None, kwargs=None, **_):
    context_clear()
    context_set(task=getattr(task, "name", None), request_id=task_id)
    run = getattr(task, "run", None)
    try:
        parameters = list(inspect.signature(run).parameters) if run else []
    except (TypeError, ValueError):
        parameters = []
    bound = dict(zip(parameters, args or (), strict=False)) | dict(kwargs or {})
    if "operation_id" in bound:
        from provisioning.models import Operation

        resource_id = Operation.objects.filter(pk=bound["operation_id"]).values_list("resource_id", flat=True).first()
        context_set(operation_id=bound["operation_id"], resource_id=resource_id)


def _task_ended(**_):
    context_clear()


def connect() -> None:
    from celery.signals import task_postrun, task_prerun
    from django.conf import settings

    if settings.LOG_FORMAT == "json":  # the lookup of the resource id is only worth it for JSON lines
        task_prerun.connect(_task_started, weak=False, dispatch_uid="ops-log-task-start")
        task_postrun.connect(_task_ended, weak=False, dispatch_uid="ops-log-task-end")
