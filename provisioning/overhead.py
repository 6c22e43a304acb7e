"""The engine's own overhead per operation (issue 19), measured in the worker, not by a client polling.

`before`: from the operation's row (its created_at, written by the request) to the driver's first call: the commit,
the queue, the worker's claim. `after`: from the driver's return to the resource's new state committed. Kept on the
operation (`overhead_before_ms`, `overhead_after_ms`) for a first attempt that succeeded; a retried or queued
operation also waited for other reasons, so it records nothing. The benchmark reads them (tests/bench/engine.py).
"""

from __future__ import annotations

import time
from datetime import datetime

from django.utils import timezone

from provisioning.models import Operation


def overhead_record(operation: Operation, *, driver_called_at: datetime, driver_returned: float) -> None:
    """Store both overheads on the operation (one UPDATE). `driver_returned` is a time.perf_counter() reading."""
    after_ms = (time.perf_counter() - driver_returned) * 1000
    if operation.attempt != 1:
        return
    before_ms = (driver_called_at - operation.created_at).total_seconds() * 1000
    Operation.objects.filter(pk=operation.pk).update(
        overhead_before_ms=round(before_ms, 2), overhead_after_ms=round(after_ms, 2)
    )


def driver_call_started() -> datetime:
    return timezone.now()
