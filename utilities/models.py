from django.db import models


class SnowflakeLease(models.Model):
    """Which process holds which worker slot of a node, until when (milliseconds since the snowflake epoch).

    A process issues snowflake ids only with timestamps before its lease ends; a slot is taken over only after the
    lease ended, and the new holder's ids start at or after that moment, so two holders never share a millisecond.
    """

    node = models.PositiveSmallIntegerField()
    slot = models.PositiveSmallIntegerField()
    holder = models.CharField(max_length=64)
    expires_ms = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["node", "slot"], name="snowflake_lease_node_slot")]

    def __str__(self):
        return f"node {self.node} slot {self.slot}"
