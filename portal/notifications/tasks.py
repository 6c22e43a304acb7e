"""Delivering a notification's e-mail and webhook, retried with backoff; the inbox row is already safe."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from portal.notifications.models import DeliveryState, Notification, TeamWebhook

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def backoff_seconds(attempt: int) -> int:
    """5 s, 10 s, 20 s ... at most 10 minutes between tries."""
    return min(600, 5 * 2 ** max(0, attempt - 1))


@shared_task(bind=True, name="portal.notification_deliver", max_retries=None, soft_time_limit=60, time_limit=90)
def notification_deliver(self, notification_id: int) -> str:
    return deliver(notification_id, retry=self.retry)


def deliver(notification_id: int, *, retry=None) -> str:
    """Send what is still pending of one notification. Idempotent: a sent channel is never sent again."""
    from portal.notifications import channels

    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("user", "team")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None:
            return "busy-or-gone"
        errors = []
        if notification.email_state == DeliveryState.PENDING:
            try:
                channels.email_send(notification)
                notification.email_state = DeliveryState.SENT
            except Exception as exc:  # any SMTP or network failure: retried below
                errors.append(f"e-mail: {exc.__class__.__name__}: {exc}")
        if notification.webhook_state == DeliveryState.PENDING:
            hook = TeamWebhook.objects.filter(team_id=notification.team_id, enabled=True).first()
            if hook is None:
                notification.webhook_state = DeliveryState.NONE
            else:
                try:
                    channels.webhook_send(notification, hook.url)
                    notification.webhook_state = DeliveryState.SENT
                except Exception as exc:
                    errors.append(f"webhook: {exc.__class__.__name__}: {exc}")
        notification.attempts += 1
        notification.last_error = "; ".join(errors)[:500]
        gave_up = bool(errors) and notification.attempts >= MAX_ATTEMPTS
        if gave_up:
            for field in ("email_state", "webhook_state"):
                if getattr(notification, field) == DeliveryState.PENDING:
                    setattr(notification, field, DeliveryState.FAILED)
        if not errors:
            notification.delivered_at = timezone.now()
        notification.save(update_fields=["email_state", "webhook_state", "attempts", "last_error", "delivered_at"])
    if errors and not gave_up:
        logger.warning("notification %s not delivered yet (%s); retrying", notification_id, notification.last_error)
        if retry is not None:
            raise retry(countdown=backoff_seconds(notification.attempts))
        return "retry"
    return "failed" if gave_up else "sent"


@shared_task(bind=True, name="portal.invitation_email", max_retries=8, soft_time_limit=60, time_limit=90)
def invitation_email(self, invitation_id: int, link: str) -> str:
    """E-mail an invitation to someone without an account yet (the link carries the one-time token)."""
    from django.conf import settings
    from django.core.mail import EmailMessage, get_connection

    from portal.notifications.channels import absolute
    from portal.teams.models import Invitation

    invitation = Invitation.objects.select_related("team", "created_by").filter(pk=invitation_id).first()
    if invitation is None or invitation.accepted_at or invitation.revoked_at:
        return "gone"
    inviter = invitation.created_by.get_username() if invitation.created_by else "The Keepers"
    body = (
        f"{inviter} invites you to the team {invitation.team.name} on {settings.PORTAL_NAME}.\n\n"
        f"Sign up or sign in with this e-mail address, then open:\n{absolute(link)}\n\n"
        f"The link works once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC.\n"
    )
    try:
        EmailMessage(
            subject=f"[{settings.PORTAL_NAME}] Invitation to {invitation.team.name}",
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[invitation.email],
            connection=get_connection(timeout=settings.EMAIL_TIMEOUT),
        ).send(fail_silently=False)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries + 1)) from None
    return "sent"
