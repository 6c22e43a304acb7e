"""The channels beyond the inbox: e-mail through Django's e-mail settings, and a team's chat webhook."""

from __future__ import annotations

import httpx
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from portal.notifications.models import Notification

WEBHOOK_TIMEOUT_SECONDS = 10


def absolute(url: str) -> str:
    if not url:
        return settings.PORTAL_BASE_URL.rstrip("/") + "/notifications/"
    return url if url.startswith("http") else settings.PORTAL_BASE_URL.rstrip("/") + url


def email_send(notification: Notification) -> None:
    """Send one notification by e-mail. Raises on failure (the task retries)."""
    lines = [notification.body, "", f"Open it: {absolute(notification.url)}"]
    if notification.action == "keep_running":
        lines.append(f"Keep it running: {absolute('/notifications/')} (one click, in your inbox)")
    lines += [
        "",
        f"-- {settings.PORTAL_NAME}. Choose what you are told and how: {absolute('/notifications/preferences/')}",
    ]
    connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
    message = EmailMessage(
        subject=f"[{settings.PORTAL_NAME}] {notification.title}",
        body="\n".join(lines).strip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.user.email],
        connection=connection,
    )
    message.send(fail_silently=False)


def webhook_payload(notification: Notification) -> dict:
    """JSON that both Slack and Mattermost incoming webhooks accept: `text` (markdown), plus a username."""
    text = f"*{notification.title}*"
    if notification.body:
        text += f"\n{notification.body}"
    text += f"\n<{absolute(notification.url)}|Open in the portal>"
    return {"text": text, "username": settings.PORTAL_NAME}


def webhook_send(notification: Notification, url: str) -> None:
    """POST the notification to the team's webhook. Raises on a failure or a non-2xx answer."""
    response = httpx.post(url, json=webhook_payload(notification), timeout=WEBHOOK_TIMEOUT_SECONDS)
    if response.status_code >= 300:
        raise RuntimeError(f"the webhook answered {response.status_code}")
