"""Requests to the Keepers: open, reply, assign, change status; and helpful / not helpful votes."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.audit import audit_record
from portal.errors import NotAllowed, NotFound, PortalError
from portal.keeper_requests.models import (
    CLOSED_STATUSES,
    AboutType,
    Feedback,
    KeeperReply,
    KeeperRequest,
    RequestKind,
    RequestStatus,
)
from portal.notifications.models import Kind
from portal.notifications.services import notify, notify_keepers, notify_team_admins
from portal.permissions import can_use_team, is_keeper, team_roles


def request_visible_q(user) -> Q:
    """Requests a person may see: their teams', and those about a guide their team owns. Keepers: all."""
    teams = list(team_roles(user))
    return Q(team_id__in=teams) | Q(about_team_id__in=teams)


def request_list(*, user, status: str = "", mine_only: bool = False):
    rows = KeeperRequest.objects.select_related("team", "author", "assignee")
    if not is_keeper(user) or mine_only:
        rows = rows.filter(request_visible_q(user))
    if status:
        rows = rows.filter(status=status)
    return rows


def keeper_inbox():
    """Open requests, oldest first (how long each has waited is now - created_at)."""
    return (
        KeeperRequest.objects.exclude(status__in=CLOSED_STATUSES)
        .select_related("team", "author", "assignee")
        .order_by("created_at")
    )


def request_get(*, user, request_id) -> KeeperRequest:
    rows = KeeperRequest.objects.select_related("team", "author", "assignee", "about_team")
    if not is_keeper(user):
        rows = rows.filter(request_visible_q(user))
    try:
        found = rows.filter(pk=int(request_id)).first()
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise NotFound("There is no such request in your teams.")
    return found


def _about(about_type: str, about_key: str, about_step: str, user) -> tuple[str, object]:
    """The label and owner team of the thing a request is about; refuses what does not exist or is not visible."""
    if not about_type:
        return "", None
    if about_type == AboutType.ENTRY:
        from catalog.models import Entry

        entry = Entry.objects.filter(slug=about_key).select_related("owner_team").first()
        if entry is None:
            raise PortalError(
                "There is no such catalog entry.", code="not_found", fields={"about_key": "Unknown."}, status_code=404
            )
        return f"Catalog: {entry.name}", entry.owner_team
    if about_type == AboutType.GUIDE:
        from guides.models import Guide

        guide = Guide.objects.filter(slug=about_key).select_related("owner_team").first()
        if guide is None:
            raise PortalError(
                "There is no such guide.", code="not_found", fields={"about_key": "Unknown."}, status_code=404
            )
        label = f"Guide: {guide.title}"
        if about_step:
            step = next((s for s in guide.steps if s.get("id") == about_step), None)
            if step is None:
                raise PortalError(
                    "That guide has no such step.", code="not_found", fields={"about_step": "Unknown."}, status_code=404
                )
            label += f", step “{step.get('title', about_step)}”"
        return label, guide.owner_team
    if about_type == AboutType.TEMPLATE:
        from catalog.models import Template

        template = Template.objects.filter(slug=about_key).first()
        if template is None:
            raise PortalError(
                "There is no such template.", code="not_found", fields={"about_key": "Unknown."}, status_code=404
            )
        return f"Template: {template.name}", template.owner_team
    if about_type == AboutType.RESOURCE:
        import uuid

        from portal.permissions import scope_to_teams
        from provisioning.models import Resource

        try:
            resource_id = uuid.UUID(str(about_key))
        except ValueError:
            resource = None  # not an id at all: no such resource either
        else:
            resource = scope_to_teams(Resource.objects.all(), user).filter(pk=resource_id).first()
        if resource is None:
            raise PortalError(
                "There is no such resource in your teams.",
                code="not_found",
                fields={"about_key": "Unknown."},
                status_code=404,
            )
        return f"Resource: {resource.name}", None
    raise PortalError("Unknown kind of thing to ask about.", code="invalid", fields={"about_type": "Unknown."})


def request_open(
    *,
    user,
    team,
    kind: str,
    title: str,
    body: str,
    about_type: str = "",
    about_key: str = "",
    about_step: str = "",
) -> KeeperRequest:
    """Open a request to the Keepers for `team`. Tells the Keepers and, for a guide, its owner team's admins."""
    title, body = (title or "").strip(), (body or "").strip()
    errors = {}
    if not title:
        errors["title"] = "Say in a few words what it is about."
    if not body:
        errors["body"] = "Say what you need: what you did, what you expected, what happened."
    if kind not in RequestKind.values:
        errors["kind"] = "question, problem or wish."
    for name, value in (("about_key", about_key), ("about_step", about_step)):
        if len(value or "") > 80:  # the column's size (a longer one was a database error, a 500)
            errors[name] = "At most 80 characters."
    if errors:
        message = "A request needs a title and a description." if {"title", "body"} & errors.keys() else None
        raise PortalError(
            message or f"{next(iter(errors))}: {next(iter(errors.values()))}", code="invalid", fields=errors
        )
    if team is None or not can_use_team(user, team):
        raise NotAllowed("You can open requests only for your own teams. Join a team first.")
    label, owner_team = _about(about_type, about_key, about_step, user)
    with transaction.atomic():
        request = KeeperRequest.objects.create(
            kind=kind,
            title=title[:200],
            body=body,
            team=team,
            author=user,
            about_type=about_type or "",
            about_key=about_key or "",
            about_step=about_step or "",
            about_label=label,
            about_team=owner_team,
        )
        audit_record(actor=user, action="request.opened", target=request, team=team)
        url = f"/ask/{request.pk}/"
        text = f"{user.get_username()} ({team.name}): {title}" + (f"\nAbout: {label}" if label else "")
        notify_keepers(
            Kind.REQUEST_NEW, title=f"New {request.get_kind_display().lower()}: {title}", body=text, url=url, team=team
        )
        if owner_team is not None and owner_team.pk != team.pk:
            notify_team_admins(
                owner_team, kind=Kind.REQUEST_NEW, title=f"A request about your guide: {title}", body=text, url=url
            )
    return request


def _participants(request: KeeperRequest, *, except_user) -> list:
    people = {request.author_id: request.author}
    if request.assignee_id:
        people[request.assignee_id] = request.assignee
    for reply in request.replies.select_related("author"):
        people[reply.author_id] = reply.author
    people.pop(except_user.pk, None)
    return list(people.values())


def reply_add(*, request: KeeperRequest, user, body: str, status: str = "") -> KeeperReply:
    """Add a reply to the thread; Keepers may change the status with it. Tells everyone else in the thread."""
    body = (body or "").strip()
    if not body:
        raise PortalError("Write something to reply.", code="invalid", fields={"body": "Required."})
    keeper = is_keeper(user)
    visible = keeper or KeeperRequest.objects.filter(request_visible_q(user), pk=request.pk).exists()
    if not visible:
        raise NotFound("There is no such request in your teams.")
    with transaction.atomic():
        reply = KeeperReply.objects.create(request=request, author=user, body=body, from_keeper=keeper)
        if status:
            _status_set(request=request, user=user, status=status, reason=body)
        elif keeper and request.status == RequestStatus.NEW or not keeper and request.status == RequestStatus.WAITING:
            request.status = RequestStatus.IN_PROGRESS
            request.save(update_fields=["status", "updated_at"])
        else:
            request.save(update_fields=["updated_at"])
        audit_record(actor=user, action="request.replied", target=request, team=request.team)
        for person in _participants(request, except_user=user):
            notify(
                user=person,
                kind=Kind.REQUEST_REPLY,
                team=request.team,
                title=f"{user.get_username()} replied: {request.title}",
                body=body[:2000] + f"\n\nStatus: {request.get_status_display()}",
                url=f"/ask/{request.pk}/",
            )
        if not keeper and not request.assignee_id:
            notify_keepers(
                Kind.REQUEST_REPLY,
                title=f"{user.get_username()} replied: {request.title}",
                body=body[:2000],
                url=f"/ask/{request.pk}/",
                team=request.team,
            )
    return reply


def _status_set(*, request: KeeperRequest, user, status: str, reason: str) -> None:
    if status not in RequestStatus.values:
        raise PortalError(
            f"Unknown status. Use one of: {', '.join(RequestStatus.values)}.",
            code="invalid",
            fields={"status": "Unknown."},
        )
    keeper = is_keeper(user)
    if not keeper and not (status == RequestStatus.DONE and request.author_id == user.pk):
        raise NotAllowed("Only the Keepers change a request's status (you can mark your own request done).")
    if status in CLOSED_STATUSES and not (reason or "").strip():
        raise PortalError("Say why it is done or declined.", code="invalid", fields={"resolution": "Required."})
    request.status = status
    if status in CLOSED_STATUSES:
        request.resolution, request.closed_at = reason.strip()[:5000], timezone.now()
    else:
        request.closed_at = None
    request.save(update_fields=["status", "resolution", "closed_at", "updated_at"])


def request_set_status(*, request: KeeperRequest, user, status: str, reason: str = "") -> KeeperRequest:
    """Change the status; closing (done, declined) needs the reason, which is added to the thread too."""
    with transaction.atomic():
        _status_set(request=request, user=user, status=status, reason=reason)
        if reason:
            KeeperReply.objects.create(request=request, author=user, body=reason, from_keeper=is_keeper(user))
        audit_record(actor=user, action=f"request.{status}", target=request, team=request.team)
        if request.author_id != user.pk:
            notify(
                user=request.author,
                kind=Kind.REQUEST_REPLY,
                team=request.team,
                title=f"Your request is {request.get_status_display().lower()}: {request.title}",
                body=reason or "",
                url=f"/ask/{request.pk}/",
            )
    return request


def request_assign(*, request: KeeperRequest, user) -> KeeperRequest:
    """A Keeper takes a request."""
    if not is_keeper(user):
        raise NotAllowed("Only the Keepers take requests.")
    request.assignee = user
    if request.status == RequestStatus.NEW:
        request.status = RequestStatus.IN_PROGRESS
    request.save(update_fields=["assignee", "status", "updated_at"])
    audit_record(actor=user, action="request.assigned", target=request, team=request.team)
    return request


def feedback_set(*, user, target_type: str, target_key: str, helpful, reason: str = "") -> Feedback:
    """Mark a guide or catalog entry helpful or not (one vote per person; a new vote replaces the old)."""
    if target_type not in ("entry", "guide"):
        raise PortalError(
            "Feedback is for guides and catalog entries.", code="invalid", fields={"target_type": "entry or guide"}
        )
    if not isinstance(helpful, bool):
        raise PortalError("Say whether it helped: true or false.", code="invalid", fields={"helpful": "true or false"})
    if target_type == "entry":
        from catalog.models import Entry

        exists = Entry.objects.filter(slug=target_key).exists()
    else:
        from guides.models import Guide

        exists = Guide.objects.filter(slug=target_key, published=True).exists()
    if not exists:
        raise NotFound("There is no such guide or entry.")
    feedback, _ = Feedback.objects.update_or_create(
        user=user,
        target_type=target_type,
        target_key=target_key,
        defaults={"helpful": helpful, "reason": (reason or "").strip()[:500]},
    )
    return feedback


def feedback_tallies() -> list[dict]:
    """For the Keepers: per guide or entry, helpful and not helpful counts with the reasons given."""
    from django.db.models import Count

    rows = (
        Feedback.objects.values("target_type", "target_key")
        .annotate(yes=Count("id", filter=Q(helpful=True)), no=Count("id", filter=Q(helpful=False)))
        .order_by("-no", "target_type", "target_key")
    )
    reasons: dict[tuple, list] = {}
    for f in Feedback.objects.exclude(reason="").order_by("-updated_at")[:500]:
        reasons.setdefault((f.target_type, f.target_key), []).append({"helpful": f.helpful, "reason": f.reason})
    return [
        {
            "target_type": row["target_type"],
            "target_key": row["target_key"],
            "helpful": row["yes"],
            "not_helpful": row["no"],
            "reasons": reasons.get((row["target_type"], row["target_key"]), [])[:10],
        }
        for row in rows
    ]
