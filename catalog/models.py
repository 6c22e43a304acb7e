from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models

from portal.models import Team, TimeStamped, slug_validator


def search_vector_expression(*weighted_fields):
    """A weighted tsvector for a generated column: title A > summary B > body C (english stemming)."""
    from django.contrib.postgres.search import SearchVector

    vector = None
    for field, weight in weighted_fields:
        part = SearchVector(field, weight=weight, config="english")
        vector = part if vector is None else vector + part
    return vector


class ResourceKind(models.TextChoices):
    NOTEBOOK = "notebook", "Notebook"
    TRAINING_JOB = "training_job", "Training job"
    BUCKET = "bucket", "Bucket"
    DATABASE = "database", "Database"
    TERRAFORM = "terraform", "Infrastructure (Terraform)"


class Template(TimeStamped):
    """What may be asked for: a form (its JSON Schema), the driver that makes it, and the rules around it."""

    slug = models.SlugField(max_length=60, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100)
    summary = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True, help_text="Markdown: what you get, which best practices are baked in.")
    resource_kind = models.CharField(max_length=20, choices=ResourceKind.choices)
    driver = models.CharField(max_length=40, help_text="Name of the driver that makes resources of this template.")
    parameters_schema = models.JSONField(
        default=dict, blank=True, help_text="JSON Schema (type object) of the parameters the scientist fills in."
    )
    defaults = models.JSONField(default=dict, blank=True, help_text="Fixed values the scientist does not see.")
    approval_rule = models.JSONField(
        default=dict,
        blank=True,
        help_text='When a Keeper must approve: {} never, {"always": true}, or '
        '{"when": [{"parameter": "gpus", "above": 1}, {"parameter": "tier", "equals": "large"}]} (any match).',
    )
    config = models.JSONField(default=dict, blank=True, help_text="Driver settings (module path, profiles...).")
    enabled = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    time_limit_minutes = models.PositiveIntegerField(default=15, help_text="Longest a create or delete may run.")
    warm_pool_size = models.PositiveSmallIntegerField(
        default=0,
        help_text="Notebook servers kept started ahead of demand for each active team, so a request is ready in well "
        "under a second (drivers that support it: local notebooks). 0 turns the pool off.",
    )
    owner_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    search_vector = models.GeneratedField(
        expression=search_vector_expression(("name", "A"), ("summary", "B"), ("body", "C")),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["name"]
        indexes = [GinIndex(fields=["search_vector"])]

    def __str__(self):
        return self.name

    def needs_approval(self, parameters: dict) -> bool:
        return approval_matches(self.approval_rule or {}, parameters)

    def save(self, *args, **kwargs):
        self.sync_profile_choices()
        super().save(*args, **kwargs)

    def sync_profile_choices(self) -> None:
        """The form's `profile` choices follow the profiles Keepers define in `config.profiles` (Kubernetes)."""
        profiles = (self.config or {}).get("profiles")
        choice = (self.parameters_schema or {}).get("properties", {}).get("profile")
        if isinstance(profiles, dict) and isinstance(choice, dict):
            choice["enum"] = list(profiles)
            choice["x-labels"] = {key: (p or {}).get("label", key) for key, p in profiles.items()}
            if choice.get("default") not in profiles:
                choice.pop("default", None)


def approval_matches(rule: dict, parameters: dict) -> bool:
    """Whether a request with these parameters needs a Keeper's approval under `rule`."""
    if rule.get("always"):
        return True
    for condition in rule.get("when", []):
        value = parameters.get(condition.get("parameter"))
        if value is None:
            continue
        if "above" in condition and isinstance(value, int | float) and value > condition["above"]:
            return True
        if "equals" in condition and value == condition["equals"]:
            return True
        if "in" in condition and value in condition["in"]:
            return True
    return False


class EntryKind(models.TextChoices):
    SERVICE = "service", "Service"
    TOOL = "tool", "Tool"
    LIBRARY = "library", "Library"
    API = "api", "API"
    DATASET = "dataset", "Dataset"
    LINK = "link", "Link"


class Lifecycle(models.TextChoices):
    EXPERIMENTAL = "experimental", "Experimental"
    PRODUCTION = "production", "Production"
    DEPRECATED = "deprecated", "Deprecated"


class Entry(TimeStamped):
    """Something the platform offers: a service, tool, library, API, dataset or useful link."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=EntryKind.choices, default=EntryKind.SERVICE, db_index=True)
    summary = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True, help_text="Markdown.")
    owner_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="entries")
    owner_label = models.CharField(max_length=120, blank=True, help_text="Owner when it is not a portal team.")
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    lifecycle = models.CharField(max_length=20, choices=Lifecycle.choices, default=Lifecycle.PRODUCTION, db_index=True)
    links = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"title": "Docs", "url": "https://...", "type": "docs|source|dashboard|support|other"}]',
    )
    featured = models.BooleanField(default=False, help_text="Shown on the home page.")
    related_templates = models.ManyToManyField(Template, blank=True, related_name="entries")
    # Backstage round trip
    backstage_ref = models.CharField(max_length=255, null=True, blank=True, unique=True)
    annotations = models.JSONField(default=dict, blank=True)
    system = models.CharField(max_length=120, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    search_vector = models.GeneratedField(
        expression=search_vector_expression(("name", "A"), ("summary", "B"), ("body", "C")),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "entries"
        indexes = [
            GinIndex(fields=["search_vector"]),
            GinIndex(fields=["tags"]),
            models.Index(fields=["kind", "lifecycle", "name"]),
            # Issue 19: the list's sort (name, id) with and without a kind or lifecycle filter, the home page's
            # recently changed and featured entries, all read through an index at 100,000 entries.
            models.Index(fields=["name", "id"], name="catalog_entry_name_id_i19"),
            models.Index(fields=["kind", "name", "id"], name="catalog_entry_kind_name_i19"),
            models.Index(fields=["lifecycle", "name", "id"], name="catalog_entry_life_name_i19"),
            models.Index(fields=["-updated_at"], name="catalog_entry_updated_i19"),
            models.Index(fields=["name"], condition=models.Q(featured=True), name="catalog_entry_featured_i19"),
        ]

    def __str__(self):
        return self.name

    @property
    def owner_display(self) -> str:
        return self.owner_team.name if self.owner_team_id else (self.owner_label or "the Keepers")


class HealthCheck(TimeStamped):
    """How the control loop checks that a service answers: an HTTP URL (status, optional text) or a TCP port."""

    entry = models.OneToOneField(Entry, on_delete=models.CASCADE, related_name="health_check")
    url = models.URLField(blank=True, max_length=500, help_text="HTTP(S) address to GET; or leave empty for TCP.")
    expected_status = models.PositiveSmallIntegerField(default=200)
    expected_text = models.CharField(max_length=200, blank=True, help_text="Text the answer must contain.")
    tcp_host = models.CharField(max_length=255, blank=True)
    tcp_port = models.PositiveIntegerField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    # Current state, written only by the probe: None until the first probe.
    is_up = models.BooleanField(null=True, blank=True, editable=False)
    last_probed_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_message = models.CharField(max_length=300, blank=True, editable=False)
    changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self):
        return f"health of {self.entry}"

    @property
    def target(self) -> str:
        return self.url or f"tcp://{self.tcp_host}:{self.tcp_port}"

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.entry_id and self.entry.kind != EntryKind.SERVICE:
            raise ValidationError("Only catalog entries of kind service have a health check.")
        if bool(self.url) == bool(self.tcp_host or self.tcp_port):
            raise ValidationError("Give either an HTTP address, or a TCP host and port (not both).")
        if not self.url and not (self.tcp_host and self.tcp_port and 0 < self.tcp_port < 65536):
            raise ValidationError("A TCP check needs a host and a port between 1 and 65535.")
        if not 100 <= self.expected_status <= 599:
            raise ValidationError({"expected_status": "An HTTP status is between 100 and 599."})


class Probe(models.Model):
    """One probe of a health check: what it found and how long the answer took."""

    health_check = models.ForeignKey(HealthCheck, on_delete=models.CASCADE, related_name="probes")
    at = models.DateTimeField()
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["health_check", "at"])]

    def __str__(self):
        return f"{'ok' if self.ok else 'failed'} at {self.at:%Y-%m-%d %H:%M:%S}"


class ServiceTransition(models.Model):
    """A service went down or came back."""

    health_check = models.ForeignKey(HealthCheck, on_delete=models.CASCADE, related_name="transitions")
    at = models.DateTimeField(db_index=True)
    up = models.BooleanField()
    message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self):
        return f"{'up' if self.up else 'down'} at {self.at:%Y-%m-%d %H:%M:%S}"
