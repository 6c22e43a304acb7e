"""Requests to the Keepers (questions, problems, wishes) with a thread of replies, and helpful/not helpful votes."""

from django.conf import settings
from django.db import models

from portal.models import Team


class RequestKind(models.TextChoices):
    QUESTION = "question", "A question"
    PROBLEM = "problem", "A problem"
    WISH = "wish", "A wish"


class RequestStatus(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING = "waiting", "Waiting on you"
    DONE = "done", "Done"
    DECLINED = "declined", "Declined"


CLOSED_STATUSES = {RequestStatus.DONE, RequestStatus.DECLINED}


class AboutType(models.TextChoices):
    NOTHING = "", "Nothing in particular"
    ENTRY = "entry", "Catalog entry"
    GUIDE = "guide", "Guide"
    TEMPLATE = "template", "Template"
    RESOURCE = "resource", "Resource"


class KeeperRequest(models.Model):
    kind = models.CharField(max_length=10, choices=RequestKind.choices, default=RequestKind.QUESTION)
    status = models.CharField(max_length=12, choices=RequestStatus.choices, default=RequestStatus.NEW, db_index=True)
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=20000, help_text="Markdown.")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="keeper_requests")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="keeper_requests")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_requests"
    )
    about_type = models.CharField(max_length=10, choices=AboutType.choices, blank=True, default="")
    about_key = models.CharField(max_length=80, blank=True, help_text="Slug, or the resource id.")
    about_label = models.CharField(max_length=200, blank=True)
    about_step = models.CharField(max_length=80, blank=True, help_text="A step of the guide.")
    about_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Owner of the guide."
    )
    resolution = models.TextField(blank=True, max_length=5000, help_text="Why it is done or declined.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "portal"
        ordering = ["-created_at"]

    def __str__(self):
        return f"#{self.pk} {self.title}"

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES


class KeeperReply(models.Model):
    request = models.ForeignKey(KeeperRequest, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    body = models.TextField(max_length=20000, help_text="Markdown.")
    from_keeper = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "portal"
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Reply by {self.author} to #{self.request_id}"


class Feedback(models.Model):
    """A reader marks a guide or a catalog entry helpful or not, with an optional reason. One vote a person."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    target_type = models.CharField(max_length=10, choices=[("entry", "Catalog entry"), ("guide", "Guide")])
    target_key = models.CharField(max_length=80)
    helpful = models.BooleanField()
    reason = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "portal"
        constraints = [
            models.UniqueConstraint(fields=["user", "target_type", "target_key"], name="feedback_one_per_user")
        ]

    def __str__(self):
        return f"{self.user} on {self.target_type} {self.target_key}: {self.helpful}"
