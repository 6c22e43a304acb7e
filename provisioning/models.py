"""Resources, the operations that change them, and the events people see on their timeline."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from catalog.models import ResourceKind, Template
from portal.crypto import decrypt_json, encrypt_json
from portal.models import Team
from provisioning.states import (  # noqa: E402,F401  (the states live in their own leaf module)
    ACTIVE_STATES,
    BUSY_STATES,
    TERMINAL_OPERATION_STATES,
    Action,
    OperationState,
    State,
    check_transition,
)


class ResourceQuerySet(models.QuerySet):
    def visible(self):
        return self.exclude(state=State.DELETED)


class EncryptedSecrets:
    """`secrets` as a dict, kept encrypted at rest in the model's `secrets_encrypted` text field."""

    @property
    def secrets(self) -> dict:
        return decrypt_json(self.secrets_encrypted)

    @secrets.setter
    def secrets(self, value: dict) -> None:
        self.secrets_encrypted = encrypt_json(value)


class Resource(EncryptedSecrets, models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="resources")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="resources")
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="resources")
    template_version = models.PositiveIntegerField(default=1)
    kind = models.CharField(max_length=20, choices=ResourceKind.choices)
    driver = models.CharField(max_length=40)
    name = models.CharField(max_length=40)
    parameters = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.REQUESTED, db_index=True)
    status_message = models.CharField(max_length=500, blank=True)
    warning = models.CharField(
        max_length=300, blank=True, help_text="Shown to the owner, e.g. an idle notebook about to be stopped."
    )
    outputs = models.JSONField(default=dict, blank=True)
    secrets_encrypted = models.TextField(blank=True, editable=False)
    driver_state = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # When it joined the GPU queue: its place in line, kept across every retry and reconcile.
    queued_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = ResourceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "name"],
                condition=~Q(state__in=["deleted", "rejected"]),
                name="resource_unique_live_name",
            ),
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="resource_unique_idempotency",
            ),
        ]
        indexes = [models.Index(fields=["team", "-created_at"]), models.Index(fields=["state", "kind"])]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    def save(self, *args, **kwargs):
        """Every state write goes through here; listeners hear of a change once it commits (portal.signals)."""
        old_state = getattr(self, "_saved_state", None)
        check_transition(old_state, self.state)
        super().save(*args, **kwargs)
        if old_state != self.state:
            from portal.signals import resource_state_changed, send_after_commit

            send_after_commit(
                resource_state_changed,
                sender=Resource,
                resource=self,
                old_state=old_state,
                new_state=self.state,
                message=self.status_message,
            )
            self._saved_state = self.state

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._saved_state = instance.__dict__.get("state")
        return instance

    @property
    def is_busy(self) -> bool:
        return self.state in BUSY_STATES

    @property
    def has_secrets(self) -> bool:
        return bool(self.secrets_encrypted)


class Operation(models.Model):
    """One change to a resource (create, stop, start, delete): the run that does it, with its log.

    `start()`, `heartbeat()`, `finish()` and `fail()` are the only writers of its state.
    """

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="operations")
    action = models.CharField(max_length=10, choices=Action.choices)
    state = models.CharField(
        max_length=10, choices=OperationState.choices, default=OperationState.QUEUED, db_index=True
    )
    attempt = models.PositiveIntegerField(default=0)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    worker = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The engine's own time (issue 19), measured in the worker on a first attempt that succeeded: from this row's
    # creation to the driver's first call, and from the driver's return to the resource's new state committed.
    overhead_before_ms = models.FloatField(null=True, blank=True, editable=False)
    overhead_after_ms = models.FloatField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self):
        return f"{self.get_action_display()} {self.resource.name} ({self.state})"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_OPERATION_STATES

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    def start(self, *, worker: str) -> None:
        now = timezone.now()
        self.state, self.worker, self.started_at, self.heartbeat_at = OperationState.RUNNING, worker, now, now
        self.attempt += 1
        self.error = ""
        self.save(update_fields=["state", "worker", "started_at", "heartbeat_at", "attempt", "error"])

    def heartbeat(self) -> None:
        Operation.objects.filter(pk=self.pk).update(heartbeat_at=timezone.now())

    def append_log(self, text: str) -> None:
        """Add lines to the log in one UPDATE, without reading it back."""
        if not text.endswith("\n"):
            text += "\n"
        Operation.objects.filter(pk=self.pk).update(log=Concat(F("log"), Value(text)))

    def finish(self) -> None:
        self.state, self.finished_at = OperationState.SUCCEEDED, timezone.now()
        self.save(update_fields=["state", "finished_at"])
        self._finished("succeeded")

    def fail(self, error: str, *, errored: bool = False) -> None:
        self.state = OperationState.ERRORED if errored else OperationState.FAILED
        self.error, self.finished_at = error[:5000], timezone.now()
        self.save(update_fields=["state", "error", "finished_at"])
        self._finished(self.state)

    def cancel(self, reason: str) -> None:
        self.state, self.error, self.finished_at = OperationState.CANCELLED, reason, timezone.now()
        self.save(update_fields=["state", "error", "finished_at"])
        self._finished("cancelled")

    def _finished(self, outcome: str) -> None:
        from portal.signals import operation_finished, send_after_commit

        duration = (self.finished_at - self.started_at).total_seconds() if self.started_at else None
        send_after_commit(
            operation_finished,
            sender=Operation,
            operation=self,
            resource=self.resource,
            outcome=outcome,
            duration_seconds=duration,
        )


class Event(models.Model):
    class Level(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="events")
    operation = models.ForeignKey(Operation, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    message = models.CharField(max_length=1000)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["resource", "-at"])]

    def __str__(self):
        return self.message


class GpuAllocation(models.Model):
    """One GPU of this machine held by one resource. Postgres is the one place that knows who holds which GPU."""

    gpu = models.PositiveIntegerField(unique=True)
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="gpu_allocations")
    allocated_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["gpu"]

    def __str__(self):
        return f"GPU {self.gpu} -> {self.resource_id}"


class CredentialRotation(models.Model):
    """A request to replace a resource's password or keys; a worker runs it (provisioning/credentials.py)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="rotations")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["resource", "state"])]

    def __str__(self):
        return f"rotation of {self.resource_id} ({self.state})"


class CredentialPolicy(models.Model):
    """Site-wide credential rules Keepers set: one row."""

    max_age_days = models.PositiveIntegerField(default=90, help_text="Warn when a credential is older than this.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self):
        return f"credentials older than {self.max_age_days} days are flagged"

    @classmethod
    def current(cls) -> "CredentialPolicy":
        return cls.objects.order_by("pk").first() or cls(max_age_days=90)


class PooledNotebook(EncryptedSecrets, models.Model):
    """A notebook server started ahead of demand for one template and team (the warm pool). It counts toward
    nothing until a request adopts it: the new resource takes its id (so its folder, port and token), and the pool
    is refilled in the background (provisioning.pool)."""

    class State(models.TextChoices):
        STARTING = "starting", "Starting"
        READY = "ready", "Ready"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    # What shapes the server (memory, CPUs): only a request with the same key adopts it.
    key = models.CharField(max_length=200)
    parameters = models.JSONField(default=dict)
    state = models.CharField(max_length=10, choices=State.choices, default=State.STARTING)
    driver_state = models.JSONField(default=dict)
    secrets_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["template", "team", "state", "key"])]

    def __str__(self):
        return f"pooled {self.template_id}/{self.team_id} {self.state}"
