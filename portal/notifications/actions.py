"""One-click actions offered by notifications."""

from django.db import transaction
from django.utils import timezone

from portal.audit import audit_record
from portal.errors import NotFound, PortalError


def notebook_keep_running(*, user, resource_id) -> object:
    """Reset a notebook's idle clock (last activity now, warning cleared), so the idle culler starts counting again."""
    from portal.permissions import scope_to_teams
    from provisioning.models import Resource, State

    with transaction.atomic():
        resource = (
            scope_to_teams(Resource.objects.select_for_update(of=("self",)), user)
            .filter(pk=resource_id, kind="notebook")
            .first()
        )
        if resource is None:
            raise NotFound("There is no such notebook in your teams.")
        if resource.state != State.READY:
            raise PortalError(
                f"The notebook is {resource.get_state_display().lower()}, not running: there is nothing to keep.",
                code="wrong_state",
                status_code=409,
            )
        now = timezone.now()
        Resource.objects.filter(pk=resource.pk).update(last_activity_at=now, warning="")
        resource.last_activity_at, resource.warning = now, ""
        audit_record(actor=user, action="resource.keep_running", target=resource)
    return resource
