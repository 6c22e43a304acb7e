from django.conf import settings
from django.db import models

from portal.models import Team, TimeStamped, slug_validator


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
    owner_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def needs_approval(self, parameters: dict) -> bool:
        return approval_matches(self.approval_rule or {}, parameters)


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
