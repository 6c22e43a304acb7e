"""Writing the audit log."""

from portal.clientip import client_ip
from portal.models import AuditEvent

__all__ = ["audit_record", "client_ip"]


def audit_record(*, actor, action: str, target=None, team=None, data: dict | None = None, request=None):
    """Record that `actor` did `action` to `target`. Never pass secrets in `data`."""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=actor.get_username() if actor is not None and actor.is_authenticated else "",
        action=action,
        team=team if team is not None else getattr(target, "team", None),
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        data=data or {},
        ip=client_ip(request),
    )
