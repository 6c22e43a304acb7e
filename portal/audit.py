"""Writing the audit log."""

from portal.models import AuditEvent


def client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_record(*, actor, action: str, target=None, team=None, data: dict | None = None, request=None):
    """Record that `actor` did `action` to `target`. Never pass secrets in `data`."""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        team=team if team is not None else getattr(target, "team", None),
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        data=data or {},
        ip=client_ip(request),
    )
