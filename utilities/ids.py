"""Identifiers on demand: UUID v4, UUID v7 and 64-bit snowflake ids.

A snowflake id is, from the highest bit down: 0 (so it fits a signed 64-bit column), 41 bits of milliseconds since
2024-01-01 UTC, 5 bits of node (the SNOWFLAKE_NODE setting, one per machine), 5 bits of worker slot and 12 bits of
sequence within the millisecond. The worker slot is leased atomically in Postgres by each process (32 per node);
a process issues ids only with timestamps before its lease ends, and a slot whose lease ended is taken over with ids
that start at or after that end. So ids are unique across processes and restarts, and time-ordered in each process.
"""

import contextlib
import os
import random
import threading
import time
import uuid

from django.conf import settings
from django.db import connections

from portal.errors import PortalError

EPOCH_MS = 1704067200000  # 2024-01-01T00:00:00Z
NODE_BITS, SLOT_BITS, SEQUENCE_BITS = 5, 5, 12
MAX_NODE, SLOTS, MAX_SEQUENCE = (1 << NODE_BITS) - 1, 1 << SLOT_BITS, (1 << SEQUENCE_BITS) - 1
LEASE_MS = 60_000
KINDS = ("uuid4", "uuid7", "snowflake")
MAX_COUNT = 1000


def uuid7() -> uuid.UUID:
    """A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits."""
    value = (int(time.time() * 1000) & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= random.getrandbits(12) << 64
    value |= 0b10 << 62
    value |= random.getrandbits(62)
    return uuid.UUID(int=value)


def snowflake_parts(value: int) -> dict:
    """The fields of a snowflake id (for people who want to read one)."""
    return {
        "time_ms": (value >> (NODE_BITS + SLOT_BITS + SEQUENCE_BITS)) + EPOCH_MS,
        "node": (value >> (SLOT_BITS + SEQUENCE_BITS)) & MAX_NODE,
        "slot": (value >> SEQUENCE_BITS) & (SLOTS - 1),
        "sequence": value & MAX_SEQUENCE,
    }


class SnowflakeGenerator:
    """One per process: leases a worker slot of its node in Postgres and issues ids under it."""

    def __init__(self, node: int, lease_ms: int = LEASE_MS):
        if not 0 <= node <= MAX_NODE:
            raise PortalError(f"SNOWFLAKE_NODE must be between 0 and {MAX_NODE}.", code="misconfigured")
        self.node, self.lease_ms = node, lease_ms
        self.holder = f"{os.getpid()}-{uuid.uuid4().hex}"
        self.slot: int | None = None
        self.lease_until = 0
        self.last_ms, self.sequence = -1, 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _cursor(self):
        # Our own autocommit connection: a lease must be committed before ids are issued under it, whatever
        # transaction the caller is in, and must not be rolled back with it. Leases change twice a minute at most,
        # so the connection is opened for each change and closed again.
        connection = connections.create_connection("default")
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def _renew(self, now: int) -> bool:
        until = now + self.lease_ms
        with self._cursor() as cursor:
            cursor.execute(
                "UPDATE utilities_snowflakelease SET expires_ms = %s "
                "WHERE node = %s AND slot = %s AND holder = %s AND expires_ms > %s",
                [until, self.node, self.slot, self.holder, now],
            )
            if cursor.rowcount == 1:
                self.lease_until = until
                return True
        return False

    def _claim(self, now: int) -> None:
        slots = list(range(SLOTS))
        random.shuffle(slots)
        with self._cursor() as cursor:
            for slot in slots:
                cursor.execute(
                    "INSERT INTO utilities_snowflakelease (node, slot, holder, expires_ms) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (node, slot) DO UPDATE SET holder = EXCLUDED.holder, "
                    "expires_ms = EXCLUDED.expires_ms WHERE utilities_snowflakelease.expires_ms <= %s "
                    "RETURNING slot",
                    [self.node, slot, self.holder, now + self.lease_ms, now],
                )
                if cursor.fetchone():
                    # The previous holder issued only ids before its lease ended (<= now); ours start at `now`.
                    self.slot, self.lease_until = slot, now + self.lease_ms
                    return
        raise PortalError(
            "Every snowflake worker slot of this node is taken. Try again in a minute, or give this machine its "
            "own SNOWFLAKE_NODE.",
            code="unavailable",
            status_code=503,
        )

    def _ensure_lease(self, at: int) -> None:
        if self.slot is not None and at < self.lease_until - self.lease_ms // 2:
            return
        if self.slot is not None and self._renew(at):
            return
        self.slot = None
        self._claim(at)

    def next_ids(self, count: int) -> list[int]:
        """`count` new ids, increasing."""
        with self._lock:
            ids = []
            for _ in range(count):
                now = int(time.time() * 1000) - EPOCH_MS
                at = max(now, self.last_ms)
                if at == self.last_ms:
                    self.sequence += 1
                    if self.sequence > MAX_SEQUENCE:
                        # A logical clock: borrow the next millisecond rather than wait for it (the lease covers it).
                        at, self.sequence = at + 1, 0
                else:
                    self.sequence = 0
                if self.slot is None or at >= self.lease_until - self.lease_ms // 2:
                    slot_before = self.slot
                    self._ensure_lease(at)
                    if self.slot != slot_before and at == self.last_ms:
                        # Another slot: keep this process's ids increasing by moving to the next millisecond.
                        at, self.sequence = at + 1, 0
                self.last_ms = at
                ids.append(
                    (at << (NODE_BITS + SLOT_BITS + SEQUENCE_BITS))
                    | (self.node << (SLOT_BITS + SEQUENCE_BITS))
                    | (self.slot << SEQUENCE_BITS)
                    | self.sequence
                )
            return ids

    def release(self) -> None:
        """Give the slot back (a process that ends cleanly); ids already issued keep it unusable until now."""
        if self.slot is None:
            return
        now = max(int(time.time() * 1000) - EPOCH_MS, self.last_ms + 1)
        with self._cursor() as cursor:
            cursor.execute(
                "UPDATE utilities_snowflakelease SET expires_ms = %s WHERE node = %s AND slot = %s AND holder = %s",
                [now, self.node, self.slot, self.holder],
            )
        self.slot = None


_generator: SnowflakeGenerator | None = None
_generator_pid = 0
_generator_lock = threading.Lock()


def snowflake_generator() -> SnowflakeGenerator:
    """This process's generator (a forked child makes its own: it must not share its parent's slot)."""
    global _generator, _generator_pid
    with _generator_lock:
        if _generator is None or _generator_pid != os.getpid():
            _generator, _generator_pid = SnowflakeGenerator(settings.SNOWFLAKE_NODE), os.getpid()
        return _generator


def ids_generate(*, kind: str, count: int) -> list[str]:
    """`count` new identifiers of `kind` (uuid4, uuid7 or snowflake), as strings."""
    if kind not in KINDS:
        raise PortalError(
            f"Unknown kind '{kind[:40]}'. Choose one of: {', '.join(KINDS)}.", code="invalid", fields={"kind": KINDS}
        )
    if not 1 <= count <= MAX_COUNT:
        raise PortalError(f"Ask for between 1 and {MAX_COUNT} ids at a time.", code="invalid")
    if kind == "uuid4":
        return [str(uuid.uuid4()) for _ in range(count)]
    if kind == "uuid7":
        return [str(uuid7()) for _ in range(count)]
    return [str(value) for value in snowflake_generator().next_ids(count)]
