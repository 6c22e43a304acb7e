"""Locks between processes: a PostgreSQL advisory try-lock (one holder across machines) and a file lock (one holder
on this machine; released by the kernel if the holder dies)."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from django.db import connection


@contextlib.contextmanager
def advisory_try_lock(key: int) -> Iterator[bool]:
    """Yields whether this session got the advisory lock `key` (never waits); releases it on leaving."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between the processes (and threads) of this machine, waiting for the holder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
