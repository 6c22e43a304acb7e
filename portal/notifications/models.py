"""The inbox, each person's choice of channels per kind, and a team's chat webhook."""

from django.conf import settings
from django.db import models

from portal.models import Team


class Kind(models.TextChoices):
    RESOURCE_READY = "resource_ready", "Resource ready"
    RESOURCE_FAILED = "resource_failed", "Resource failed"
    JOB_FINISHED = "job_finished", "Job finished"
    NOTEBOOK_IDLE = "notebook_idle", "Notebook about to be stopped (idle)"
    EXPIRY_SOON = "expiry_soon", "Resource about to expire"
    APPROVAL_NEEDED = "approval_needed", "Approval needed (Keepers)"
    APPROVAL_DECIDED = "approval_decided", "Approval decided"
    JOIN_REQUEST = "join_request", "Join request"
    JOIN_DECIDED = "join_decided", "Join request answered"
    INVITATION = "invitation", "Invitation to a team"
    QUOTA_REQUEST = "quota_request", "Quota request"
    QUOTA_NEARLY_USED = "quota_nearly_used", "Quota nearly used (80 %)"
    REQUEST_NEW = "request_new", "New request to the Keepers"
    REQUEST_REPLY = "request_reply", "Reply to a request"
    GUIDE_REVIEW_DUE = "guide_review_due", "Guide due for review"
    RADAR_PROPOSAL = "radar_proposal", "Technology proposal"
    SERVICE_DOWN = "service_down", "Platform service down"


# Channels each kind goes to when the person has not chosen: the inbox always; e-mail for what needs action.
EMAIL_BY_DEFAULT = {
    Kind.RESOURCE_FAILED,
    Kind.JOB_FINISHED,
    Kind.NOTEBOOK_IDLE,
    Kind.EXPIRY_SOON,
    Kind.APPROVAL_NEEDED,
    Kind.APPROVAL_DECIDED,
    Kind.JOIN_REQUEST,
    Kind.JOIN_DECIDED,
    Kind.INVITATION,
    Kind.REQUEST_REPLY,
    Kind.GUIDE_REVIEW_DUE,
    Kind.SERVICE_DOWN,
}


class DeliveryState(models.TextChoices):
    NONE = "none", "Not wanted"
    PENDING = "pending", "Waiting to be sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"


class Notification(models.Model):
    """One message to one person. The inbox row is written first; e-mail and webhook follow from a task."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=30, choices=Kind.choices, db_index=True)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True, help_text="Where the notification leads (a portal path).")
    action = models.CharField(max_length=40, blank=True, help_text="A one-click action, e.g. keep_running.")
    action_target = models.CharField(max_length=64, blank=True)
    dedupe_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email_state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.NONE)
    webhook_state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.NONE)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "portal"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedupe_key"], condition=~models.Q(dedupe_key=""), name="notification_unique_dedupe"
            )
        ]

    def __str__(self):
        return f"{self.user}: {self.title}"


class NotificationPreference(models.Model):
    """What a person chose for one kind; no row means the defaults (inbox, and e-mail for EMAIL_BY_DEFAULT)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_prefs")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    inbox = models.BooleanField(default=True)
    email = models.BooleanField(default=False)
    webhook = models.BooleanField(default=False, help_text="Also post to the team's chat webhook.")

    class Meta:
        app_label = "portal"
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notificationpref_unique")]

    def __str__(self):
        return f"{self.user}: {self.kind}"


class TeamWebhook(models.Model):
    """A Slack or Mattermost incoming webhook of a team (JSON {"text": ...} posts)."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(max_length=500)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "portal"

    def __str__(self):
        return f"Webhook of {self.team}"
