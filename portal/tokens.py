"""Personal API tokens: several per person, named, with an expiry; only a SHA-256 digest is stored.

The key is shown once, when it is made; afterwards pages show its prefix. SHA-256 (not a slow password hash) fits
here because keys are 256-bit random strings, not something a person chose.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from portal.audit import audit_record
from portal.errors import NotFound, PortalError
from portal.models import ApiToken

KEY_PREFIX = "rpt_"  # "research portal token": lets secret scanners recognise a leaked key
DEFAULT_DAYS = 90
MAX_DAYS = 365
MAX_ACTIVE = 50
EXPIRY_CHOICES = [(7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "1 year")]
LAST_USED_PRECISION = timedelta(minutes=1)  # written at most once a minute per token


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_list(*, user):
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def token_issue(*, user, name: str, expires_in_days=DEFAULT_DAYS, request=None, via: str = "page") -> tuple:
    """Make a token for `user`; returns (the ApiToken, the key). The key is not kept anywhere."""
    name = (name or "").strip()
    fields = {}
    if not name:
        fields["name"] = "Give the token a name that says where it is used, for example 'laptop' or 'CI'."
    elif len(name) > 100:
        fields["name"] = "Use at most 100 characters."
    try:
        days = int(expires_in_days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= MAX_DAYS:
        fields["expires_in_days"] = f"Give a number of days from 1 to {MAX_DAYS}."
    if fields:
        raise PortalError(next(iter(fields.values())), code="invalid", fields=fields)
    active = ApiToken.objects.filter(user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()).count()
    if active >= MAX_ACTIVE:
        raise PortalError(
            f"You already have {MAX_ACTIVE} active tokens. Revoke the ones you no longer use on 'Your tokens'.",
            code="too_many_tokens",
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[: len(KEY_PREFIX) + 6],
        digest=_digest(key),
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit_record(
        actor=user, action="token.issue", target=token, request=request, data={"name": name, "days": days, "via": via}
    )
    return token, key


def token_get(*, user, token_id, revoked: bool | None = None) -> ApiToken:
    """One of the user's tokens; `revoked=False`: only one that is not revoked. NotFound otherwise."""
    tokens = ApiToken.objects.filter(user=user, pk=token_id)
    if revoked is not None:
        tokens = tokens.filter(revoked_at__isnull=not revoked)
    token = tokens.first()
    if token is None:
        raise NotFound("No such token among yours.")
    return token


def token_revoke(*, user, token: ApiToken, request=None) -> ApiToken:
    """Revoke one of the user's tokens; it stops working at once. Revoking twice changes nothing."""
    if token.user_id != user.pk:
        raise NotFound("No such token among yours.")
    return _revoke(token, actor=user, request=request, by="owner")


def token_revoke_by_keeper(*, token: ApiToken, actor, request=None) -> ApiToken:
    """A Keeper (in the admin) revokes someone's token, for example one that leaked."""
    return _revoke(token, actor=actor, request=request, by="admin")


def _revoke(token: ApiToken, *, actor, request, by: str) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        data = {"name": token.name, "by": by}
        audit_record(actor=actor, action="token.revoke", target=token, request=request, data=data)
    return token


def token_authenticate(key: str):
    """The active token with this key, or None (unknown, revoked, expired)."""
    if not key:
        return None
    token = ApiToken.objects.select_related("user").filter(digest=_digest(key)).first()
    if token is None or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
