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


class AuditEvent(models.Model):
    """Who did what, when: requests, approvals, credential reveals, deletes, catalog edits."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=60, db_index=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True, db_index=True)
    target_repr = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["target_type", "target_id", "-at"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target_repr}"


# Models kept in their own modules (teams, notifications, requests to the Keepers), registered with this app.
from portal.keeper_requests.models import Feedback, KeeperReply, KeeperRequest  # noqa: E402, F401
from portal.notifications.models import Notification, NotificationPreference, TeamWebhook  # noqa: E402, F401
from portal.teams.models import Invitation, JoinRequest, QuotaRequest  # noqa: E402, F401
