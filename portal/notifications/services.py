"""Writing notifications: the inbox row first, then a task delivers e-mail and the team's webhook.

Every sender calls `notify(...)` (or `notify_keepers(...)`); nothing here sends inside a web request.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.errors import NotFound, PortalError
from portal.notifications.models import (
    EMAIL_BY_DEFAULT,
    DeliveryState,
    Kind,
    Notification,
    NotificationPreference,
    TeamWebhook,
)
from portal.permissions import KEEPERS_GROUP

logger = logging.getLogger(__name__)


def channels_for(*, user, kind: str) -> dict[str, bool]:
    """The channels `user` wants for `kind`: their choice, else the defaults."""
    pref = NotificationPreference.objects.filter(user=user, kind=kind).first()
    if pref is None:
        return {"inbox": True, "email": kind in EMAIL_BY_DEFAULT, "webhook": False}
    return {"inbox": pref.inbox, "email": pref.email, "webhook": pref.webhook}


def notify(
    *,
    user,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    team=None,
    action: str = "",
    action_target: str = "",
    dedupe_key: str = "",
) -> Notification | None:
    """Tell `user` about something. The inbox row is written now; e-mail and webhook are sent by a task after commit.

    With `dedupe_key`, the same person is told about the same thing once. Returns None when nothing was written.
    """
    if kind not in Kind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    if user is None or not user.is_active:
        return None
    wanted = channels_for(user=user, kind=kind)
    email = bool(wanted["email"] and user.email)
    webhook = bool(
        wanted["webhook"] and team is not None and TeamWebhook.objects.filter(team=team, enabled=True).exists()
    )
    if not (wanted["inbox"] or email or webhook):
        return None
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                user=user,
                team=team,
                kind=kind,
                title=title[:200],
                body=body,
                url=url[:300],
                action=action,
                action_target=action_target,
                dedupe_key=dedupe_key[:200],
                # Not wanted in the inbox: the row still records the delivery, already read.
                read_at=None if wanted["inbox"] else timezone.now(),
                email_state=DeliveryState.PENDING if email else DeliveryState.NONE,
                webhook_state=DeliveryState.PENDING if webhook else DeliveryState.NONE,
            )
    except IntegrityError:
        return None  # told already (same dedupe_key)
    if email or webhook:
        from portal.notifications.tasks import notification_deliver

        transaction.on_commit(lambda: notification_deliver.delay(notification.pk))
    return notification


def keepers():
    """Every active Keeper (the `keepers` group and superusers)."""
    from django.db.models import Q

    return (
        get_user_model()
        .objects.filter(Q(groups__name=KEEPERS_GROUP) | Q(is_superuser=True), is_active=True)
        .distinct()
        .order_by("pk")
    )


def notify_keepers(kind: str, *, title: str, body: str = "", url: str = "", dedupe_key: str = "", team=None) -> int:
    """Tell every Keeper, e.g. `notify_keepers("service_down", title="Redis is down", dedupe_key="down:redis:<hour>")`.

    Meant for the health checks too. Returns how many were told.
    """
    count = 0
    for keeper in keepers():
        if notify(
            user=keeper,
            kind=kind,
            title=title,
            body=body,
            url=url,
            team=team,
            dedupe_key=f"{dedupe_key}" if dedupe_key else "",
        ):
            count += 1
    return count


def notify_team_admins(team, *, kind: str, title: str, body: str = "", url: str = "", dedupe_key: str = "") -> int:
    from portal.models import Membership

    count = 0
    for membership in Membership.objects.filter(team=team, role=Membership.Role.ADMIN).select_related("user"):
        if notify(user=membership.user, kind=kind, title=title, body=body, url=url, team=team, dedupe_key=dedupe_key):
            count += 1
    return count


def notification_mark_read(*, user, ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (all of them when `ids` is None). Returns how many changed."""
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        if not all(isinstance(i, int) for i in ids):
            raise PortalError("Give the ids of the notifications as numbers.", code="invalid")
        rows = rows.filter(pk__in=ids)
    return rows.update(read_at=timezone.now())


def notification_get(*, user, notification_id: int) -> Notification:
    notification = Notification.objects.filter(user=user, pk=notification_id).first()
    if notification is None:
        raise NotFound("There is no such notification in your inbox.")
    return notification


def preferences_for(*, user) -> list[dict]:
    """Every kind with the channels the user gets, for the preferences page and the API."""
    chosen = {p.kind: p for p in NotificationPreference.objects.filter(user=user)}
    rows = []
    for kind, label in Kind.choices:
        pref = chosen.get(kind)
        rows.append(
            {
                "kind": kind,
                "label": label,
                "inbox": pref.inbox if pref else True,
                "email": pref.email if pref else kind in EMAIL_BY_DEFAULT,
                "webhook": pref.webhook if pref else False,
            }
        )
    return rows


def preferences_update(*, user, changes: list[dict]) -> list[dict]:
    """Save the user's channel choices: [{"kind", "inbox", "email", "webhook"}, ...]; unknown kinds are refused."""
    if not isinstance(changes, list) or not changes:
        raise PortalError("Send a list of {kind, inbox, email, webhook}.", code="invalid")
    for change in changes:
        if not isinstance(change, dict) or change.get("kind") not in Kind.values:
            raise PortalError(
                f"Unknown kind {change.get('kind') if isinstance(change, dict) else change!r}. "
                f"Kinds: {', '.join(Kind.values)}.",
                code="invalid",
            )
        for channel in ("inbox", "email", "webhook"):
            if channel in change and not isinstance(change[channel], bool):
                raise PortalError(f"'{channel}' must be true or false.", code="invalid")
    current = {row["kind"]: row for row in preferences_for(user=user)}
    with transaction.atomic():
        for change in changes:
            row = current[change["kind"]]
            NotificationPreference.objects.update_or_create(
                user=user,
                kind=change["kind"],
                defaults={ch: change.get(ch, row[ch]) for ch in ("inbox", "email", "webhook")},
            )
    return preferences_for(user=user)


def team_webhook_set(*, team, user, url: str, enabled: bool = True) -> TeamWebhook | None:
    """Set (or with an empty url remove) a team's chat webhook. Team admins and Keepers only."""
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    from portal.audit import audit_record
    from portal.errors import NotAllowed
    from portal.permissions import can_admin_team

    if not can_admin_team(user, team):
        raise NotAllowed("Only the team's admins and the Keepers change its webhook.")
    url = (url or "").strip()
    if not url:
        TeamWebhook.objects.filter(team=team).delete()
        audit_record(actor=user, action="team.webhook_removed", team=team)
        return None
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        raise PortalError(
            "The webhook must be an http(s) address, e.g. https://hooks.slack.com/services/...",
            code="invalid",
            fields={"url": "Not a web address."},
        ) from None
    hook, _ = TeamWebhook.objects.update_or_create(team=team, defaults={"url": url, "enabled": enabled})
    audit_record(actor=user, action="team.webhook_set", team=team)
    return hook
