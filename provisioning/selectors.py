"""Reads shared by pages and the API; every one is scoped to the user's teams (Keepers see all)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from catalog.models import Template
from portal.errors import NotFound
from portal.permissions import scope_to_teams
from provisioning.drivers import unavailable_drivers
from provisioning.models import Event, Operation, Resource, State


def resource_list(*, user, team=None, kind: str = "", state: str = "", include_deleted: bool = False):
    resources = scope_to_teams(Resource.objects.all(), user).select_related("team", "owner", "template")
    if team is not None:
        resources = resources.filter(team=team)
    if not include_deleted and state != State.DELETED:
        resources = resources.exclude(state=State.DELETED)
    if kind:
        resources = resources.filter(kind=kind)
    if state:
        resources = resources.filter(state=state)
    return resources.order_by("-created_at")


def resource_get(*, user, resource_id) -> Resource:
    """The resource if the user may see it; 404 otherwise (no hint that it exists in another team)."""
    try:
        return scope_to_teams(Resource.objects.select_related("team", "owner", "template", "approved_by"), user).get(
            pk=resource_id
        )
    except (Resource.DoesNotExist, ValueError, TypeError, ValidationError):  # unknown, or not a UUID
        raise NotFound("No such resource in your teams.") from None


def resource_timeline(resource, limit: int = 50):
    return list(Event.objects.filter(resource=resource).order_by("-at", "-id")[:limit])


def resource_operations(resource, limit: int = 20):
    return list(
        Operation.objects.filter(resource=resource)
        .select_related("requested_by")
        .defer("log")
        .order_by("-created_at", "-id")[:limit]
    )


def operation_latest(resource):
    return Operation.objects.filter(resource=resource).order_by("-created_at", "-id").first()


def template_list(*, enabled_only: bool = True):
    """Templates people can use: enabled, and whose driver can be offered now (no cluster, no Kubernetes ones)."""
    templates = Template.objects.all()
    if enabled_only:
        templates = templates.filter(enabled=True).exclude(driver__in=unavailable_drivers())
    return templates.order_by("resource_kind", "name")


def template_get(*, slug: str, enabled_only: bool = True) -> Template:
    template = template_list(enabled_only=enabled_only).filter(slug=slug).first()
    if template is None:
        raise NotFound(f"There is no template '{slug}'. Pick one from the list of templates.", code="unknown_template")
    return template


def approvals_pending():
    return (
        Resource.objects.filter(state=State.AWAITING_APPROVAL)
        .select_related("team", "owner", "template")
        .order_by("created_at")
    )


def failing_resources(limit: int = 50):
    return (
        Resource.objects.filter(state=State.FAILED)
        .select_related("team", "owner", "template")
        .order_by("-updated_at")[:limit]
    )
