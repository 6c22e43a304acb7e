"""Signals that cross app boundaries without import cycles.

The provisioning engine sends them; notifications, metrics and usage listen. Every signal is sent only after the
transaction that made the change commits (`send_after_commit`), with `send_robust`, so a failing listener never
breaks or rolls back the engine.
"""

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

# A resource's state changed. kwargs: resource, old_state (None for a new request), new_state, operation (or None),
# message (what the user sees).
resource_state_changed = Signal()

# The control loop warned a resource's owner about something that will happen unless they act.
# kwargs: resource, warning ("idle", "expiry", "walltime"), message, at (datetime when it will happen).
resource_warning = Signal()

# An operation ended. kwargs: operation, resource, outcome ("succeeded", "failed", "errored", "cancelled"),
# duration_seconds (from its start, or None when it never started).
operation_finished = Signal()


def send_after_commit(signal: Signal, sender, **kwargs) -> None:
    """Send `signal` once the current transaction commits (at once outside a transaction)."""

    def send():
        for receiver, result in signal.send_robust(sender=sender, **kwargs):
            if isinstance(result, Exception):
                logger.error("signal receiver %r failed: %r", receiver, result)

    transaction.on_commit(send)
