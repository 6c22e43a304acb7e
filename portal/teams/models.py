"""Joining a team, invitations and quota requests: how teams grow without the Django admin."""

import hashlib
import secrets

from django.conf import settings
from django.db import models

from portal.models import Membership, Team, TimeStamped


class Decision(models.TextChoices):
    PENDING = "pending", "Waiting for an answer"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Withdrawn"


class JoinRequest(TimeStamped):
    """A person asks to join a team, or for a new team (team is then empty and new_team_name says which)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="join_requests")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="join_requests")
    new_team_name = models.CharField(max_length=100, blank=True)
    new_team_slug = models.CharField(max_length=40, blank=True)
    message = models.TextField(blank=True, max_length=2000)
    status = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        app_label = "portal"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "team"], condition=models.Q(status="pending"), name="joinrequest_one_pending_per_team"
            )
        ]

    def __str__(self):
        return f"{self.user} asks to join {self.team or self.new_team_name}"

    @property
    def wants_new_team(self) -> bool:
        return self.team_id is None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(TimeStamped):
    """A link that adds one person to a team: works once, expires, and only for the person it names."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(blank=True)
    invitee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "portal"
        ordering = ["-created_at"]

    def __str__(self):
        return f"Invitation to {self.team} for {self.invitee or self.email}"

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    @property
    def recipient(self) -> str:
        return self.invitee.get_username() if self.invitee_id else self.email


class QuotaRequest(TimeStamped):
    """A team admin asks the Keepers for a higher limit, with a reason."""

    FIELDS = {
        "max_notebooks": "notebooks",
        "max_gpus": "GPUs",
        "max_storage_gb": "GB of storage",
        "max_databases": "databases",
    }
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="quota_requests")
    field = models.CharField(max_length=20, choices=[(k, v) for k, v in FIELDS.items()])
    current = models.PositiveIntegerField()
    requested = models.PositiveIntegerField()
    reason = models.TextField(max_length=2000)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING, db_index=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        app_label = "portal"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.team}: {self.FIELDS.get(self.field, self.field)} {self.current} -> {self.requested}"
