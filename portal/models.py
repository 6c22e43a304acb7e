"""The floor of the house: teams, memberships, the audit log. Every app may import this module."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

SLUG_RE = r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$"
slug_validator = RegexValidator(
    SLUG_RE,
    "Use 2 to 40 lowercase letters, digits and dashes, starting with a letter and not ending with a dash.",
)


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Team(TimeStamped):
    """A research team: the unit that owns resources and has quotas."""

    slug = models.SlugField(max_length=40, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    max_notebooks = models.PositiveIntegerField(default=5, help_text="Notebooks at once.")
    max_gpus = models.PositiveIntegerField(default=2, help_text="GPUs in use at once, notebooks and jobs together.")
    max_storage_gb = models.PositiveIntegerField(default=100, help_text="Storage in buckets and volumes, in GB.")
    max_databases = models.PositiveIntegerField(default=5, help_text="Databases at once.")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Membership(TimeStamped):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        ADMIN = "admin", "Team admin"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team")]
        ordering = ["team__name"]

    def __str__(self):
        return f"{self.user} in {self.team} ({self.role})"


class AuditTrailIsReadOnly(Exception):
    """Raised on any attempt to change or delete an audit row (the database refuses too, with a trigger)."""


UNLINKABLE = {"actor", "actor_id", "team", "team_id"}


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        # The one change allowed: forgetting the link to a deleted account or team (on_delete=SET_NULL does this);
        # the row keeps actor_name.
        if kwargs and set(kwargs) <= UNLINKABLE and all(value is None for value in kwargs.values()):
            return super().update(**kwargs)
        raise AuditTrailIsReadOnly("Audit rows cannot be changed.")

    def delete(self):
        raise AuditTrailIsReadOnly("Audit rows cannot be deleted.")


class AuditEvent(models.Model):
    """Who did what, when: requests, approvals, credential reveals, deletes, catalog edits. Append-only: the model,
    the admin and a database trigger (migration 0002_issue12b_audit_append_only) refuse changes and deletes."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, blank=True)  # kept when the account is deleted
    action = models.CharField(max_length=60, db_index=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True, db_index=True)
    target_repr = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["target_type", "target_id", "-at"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditTrailIsReadOnly("Audit rows cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditTrailIsReadOnly("Audit rows cannot be deleted.")


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 digest of the key is kept; the prefix tells tokens apart on pages."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        from django.utils import timezone

        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())
