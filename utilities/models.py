import uuid

from django.conf import settings
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


class ProjectTemplate(models.Model):
    """A copier template Keepers register: a folder of this repository or a git URL the worker can reach."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    summary = models.CharField(max_length=300, blank=True)
    source = models.CharField(
        max_length=500,
        help_text="A folder of the portal's repository (utilities/project_templates/ml-training) or a git URL "
        "(https://..., file://...).",
    )
    ref = models.CharField(max_length=100, blank=True, help_text="Git tag or branch to render (git sources).")
    questions = models.JSONField(default=dict, blank=True, editable=False, help_text="Read from copier.yml.")
    enabled = models.BooleanField(default=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ProjectGeneration(models.Model):
    """Who generated which project from which template version, with which answers; the zip when it is done."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Rendering"
        DONE = "done", "Ready to download"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template = models.ForeignKey(ProjectTemplate, on_delete=models.PROTECT, related_name="generations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    answers = models.JSONField(default=dict)
    version = models.CharField(max_length=100, blank=True, help_text="The template's commit or tag that rendered it.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    error = models.TextField(blank=True)
    archive = models.BinaryField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.template.slug} for {self.user_id} ({self.state})"
