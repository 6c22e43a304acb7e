"""Joining a team, invitations, roles and quota requests. Every rule lives here; pages and the API call these."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from portal.audit import audit_record
from portal.errors import NotAllowed, NotFound, PortalError
from portal.models import SLUG_RE, Membership, Team
from portal.notifications.models import Kind
from portal.notifications.services import notify, notify_keepers, notify_team_admins
from portal.permissions import can_admin_team, is_keeper
from portal.slugs import slug_for
from portal.teams.models import Decision, Invitation, JoinRequest, QuotaRequest, token_digest


def _forget_roles(user) -> None:
    for attr in ("_portal_team_roles",):
        if hasattr(user, attr):
            delattr(user, attr)


def new_team_slug(name: str) -> str:
    """The address of a new team called `name`: its letters and digits (accents dropped), or, for a name that has
    too few of them (a name in another script, "42"), "team-" and them or a fingerprint of the name."""
    return slug_for(name, prefix="team", max_length=40, pattern=SLUG_RE)


def join_request_create(*, user, team: Team | None = None, new_team_name: str = "", message: str = "") -> JoinRequest:
    """Ask to join `team`, or (without a team) for a new team called `new_team_name`."""
    message = (message or "").strip()[:2000]
    new_team_name = (new_team_name or "").strip()
    if team is None and not new_team_name:
        raise PortalError(
            "Pick a team to join, or give the name of the new team you need.",
            code="invalid",
            fields={"team": "Required unless you ask for a new team."},
        )
    if team is not None and Membership.objects.filter(user=user, team=team).exists():
        raise PortalError(f"You are already in {team.name}.", code="already_member", status_code=409)
    slug = ""
    if team is None:
        if len(new_team_name) > 100:
            raise PortalError("Keep the team's name under 100 characters.", code="invalid")
        slug = new_team_slug(new_team_name)
        if Team.objects.filter(slug=slug).exists():
            raise PortalError(
                f"A team called {new_team_name!r} exists already: ask to join it instead.",
                code="exists",
                status_code=409,
            )
    pending = JoinRequest.objects.filter(user=user, status=Decision.PENDING)
    if pending.filter(team=team).exists() if team else pending.filter(new_team_slug=slug).exists():
        raise PortalError("You asked already; the answer will reach your inbox.", code="duplicate", status_code=409)
    with transaction.atomic():
        request = JoinRequest.objects.create(
            user=user,
            team=team,
            new_team_name=new_team_name if team is None else "",
            new_team_slug=slug,
            message=message,
        )
        audit_record(actor=user, action="team.join_requested", target=request, team=team)
        who = user.get_username()
        if team is not None:
            title = f"{who} asks to join {team.name}"
            body = message or "Accept or decline on the team page."
            notify_team_admins(team, kind=Kind.JOIN_REQUEST, title=title, body=body, url=f"/teams/{team.slug}/")
            notify_keepers(Kind.JOIN_REQUEST, title=title, body=body, url=f"/teams/{team.slug}/", team=team)
        else:
            notify_keepers(
                Kind.JOIN_REQUEST,
                title=f"{who} asks for a new team: {new_team_name}",
                body=message or "Accept (the team is made with them as its admin) or decline on the teams page.",
                url="/teams/",
            )
    return request


def join_request_decide(*, join_request: JoinRequest, by, accept: bool, reason: str = "") -> JoinRequest:
    """Accept or decline. A team's admins and the Keepers decide on their team; only Keepers make new teams."""
    allowed = is_keeper(by) or (join_request.team is not None and can_admin_team(by, join_request.team))
    if not allowed:
        raise NotAllowed("Only the team's admins and the Keepers answer requests to join it.")
    with transaction.atomic():
        locked = JoinRequest.objects.select_for_update().get(pk=join_request.pk)
        if locked.status != Decision.PENDING:
            raise PortalError(
                f"This request was answered already ({locked.get_status_display().lower()}).",
                code="already_decided",
                status_code=409,
            )
        team = locked.team
        if accept:
            if team is None:
                team, created = Team.objects.get_or_create(
                    slug=locked.new_team_slug, defaults={"name": locked.new_team_name}
                )
                role = Membership.Role.ADMIN
            else:
                role = Membership.Role.MEMBER
            Membership.objects.get_or_create(user=locked.user, team=team, defaults={"role": role})
            locked.team = team
        locked.status = Decision.ACCEPTED if accept else Decision.DECLINED
        locked.decided_by, locked.decided_at, locked.reason = by, timezone.now(), (reason or "").strip()[:500]
        locked.save()
        audit_record(actor=by, action=f"team.join_{locked.status}", target=locked, team=team)
        name = team.name if team else locked.new_team_name
        notify(
            user=locked.user,
            kind=Kind.JOIN_DECIDED,
            team=team,
            title=f"You are now in {name}" if accept else f"Your request to join {name} was declined",
            body=(
                "You can request notebooks, jobs, buckets and databases for the team right away."
                if accept
                else (locked.reason or "The team's admins or the Keepers declined it.")
            ),
            url="/" if accept else "/teams/",
        )
    _forget_roles(locked.user)
    return locked


def join_request_cancel(*, join_request: JoinRequest, by) -> JoinRequest:
    if join_request.user_id != by.pk:
        raise NotAllowed("Only the person who asked can withdraw a request.")
    updated = JoinRequest.objects.filter(pk=join_request.pk, status=Decision.PENDING).update(status=Decision.CANCELLED)
    if not updated:
        raise PortalError("This request was answered already.", code="already_decided", status_code=409)
    join_request.refresh_from_db()
    return join_request


def invitation_create(*, team: Team, by, recipient: str, role: str = Membership.Role.MEMBER) -> tuple[Invitation, str]:
    """Invite someone by user name or e-mail. Returns the invitation and its secret token (shown once, sent once)."""
    if not can_admin_team(by, team):
        raise NotAllowed("Only the team's admins and the Keepers invite people.")
    recipient = (recipient or "").strip()
    if not recipient:
        raise PortalError(
            "Say whom to invite: a user name or an e-mail address.", code="invalid", fields={"recipient": "Required."}
        )
    if role not in Membership.Role.values:
        raise PortalError("The role must be member or admin.", code="invalid", fields={"role": "member or admin"})
    User = get_user_model()
    invitee = User.objects.filter(username=recipient).first()
    email = ""
    if invitee is None:
        if "@" not in recipient:
            raise PortalError(
                f"Nobody has the user name {recipient!r}. Check it, or invite them by e-mail address.",
                code="unknown_user",
                fields={"recipient": "No such user."},
                status_code=404,
            )
        from django.core.exceptions import ValidationError
        from django.core.validators import validate_email

        try:
            validate_email(recipient)
        except ValidationError:
            raise PortalError(  # it may still be meant as a user name (they may hold '@'): nobody found, as above
                f"Nobody has the user name {recipient!r}, and it is not an e-mail address. Check it.",
                code="unknown_user",
                fields={"recipient": "No such user, and not an e-mail address."},
                status_code=404,
            ) from None
        email = recipient.lower()
        invitee = User.objects.filter(email__iexact=email).first()
    if invitee is not None and Membership.objects.filter(user=invitee, team=team).exists():
        raise PortalError(
            f"{invitee.get_username()} is in {team.name} already.", code="already_member", status_code=409
        )
    token = Invitation.new_token()
    with transaction.atomic():
        invitation = Invitation.objects.create(
            team=team,
            email=email or (invitee.email if invitee else ""),
            invitee=invitee,
            role=role,
            token_hash=token_digest(token),
            created_by=by,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS),
        )
        audit_record(actor=by, action="team.invited", target=invitation, team=team, data={"role": role})
        link = f"/invitations/{token}/"
        if invitee is not None:
            notify(
                user=invitee,
                kind=Kind.INVITATION,
                team=team,
                title=f"{by.get_username()} invites you to {team.name}",
                body=f"Open the link to join as {invitation.get_role_display().lower()}. It works once, until "
                f"{timezone.localtime(invitation.expires_at):%Y-%m-%d %H:%M}.",
                url=link,
            )
        else:
            from portal.notifications.tasks import invitation_email

            transaction.on_commit(lambda: invitation_email.delay(invitation.pk, link))
    return invitation, token


def invitation_by_token(token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("team", "invitee").filter(token_hash=token_digest(token or "")).first()
    )
    if invitation is None:
        raise NotFound("This invitation link is not valid. Ask the team's admin for a new one.")
    return invitation


def invitation_problem(invitation: Invitation, user) -> str | None:
    """Why `user` cannot use this invitation now, in plain words; None when they can."""
    if invitation.revoked_at:
        return "This invitation was withdrawn. Ask the team's admin for a new one."
    if invitation.accepted_at:
        return "This invitation was used already: each link works once. Ask the team's admin for a new one."
    if invitation.expires_at <= timezone.now():
        return "This invitation has expired. Ask the team's admin for a new one."
    if invitation.invitee_id and invitation.invitee_id != user.pk:
        return (
            f"This invitation is for another person. You are signed in as {user.get_username()}: "
            "sign out and open the link as the person it was sent to."
        )
    if not invitation.invitee_id and (user.email or "").lower() != invitation.email.lower():
        return (
            f"This invitation was sent to {invitation.email}, and you are signed in as {user.get_username()} "
            f"({user.email or 'no e-mail'}). Sign in with the account of that address."
        )
    return None


def invitation_accept(*, token: str, user) -> Membership:
    """Use the invitation: works once, before it expires, for the person it names."""
    with transaction.atomic():
        invitation = invitation_by_token(token)
        invitation = Invitation.objects.select_for_update().select_related("team").get(pk=invitation.pk)
        problem = invitation_problem(invitation, user)
        if problem:
            # Used already: a conflict with its state (409). Withdrawn or expired: gone (410). Someone else's: 403.
            if "another person" in problem or "sent to" in problem:
                status = 403
            else:
                status = 409 if invitation.accepted_at else 410
            raise PortalError(problem, code="invitation_unusable", status_code=status)
        membership, created = Membership.objects.get_or_create(
            user=user, team=invitation.team, defaults={"role": invitation.role}
        )
        invitation.accepted_by, invitation.accepted_at = user, timezone.now()
        invitation.save(update_fields=["accepted_by", "accepted_at", "updated_at"])
        audit_record(actor=user, action="team.invitation_accepted", target=invitation, team=invitation.team)
        if invitation.created_by:
            notify(
                user=invitation.created_by,
                kind=Kind.JOIN_DECIDED,
                team=invitation.team,
                title=f"{user.get_username()} joined {invitation.team.name}",
                body="They accepted your invitation.",
                url=f"/teams/{invitation.team.slug}/",
            )
    _forget_roles(user)
    return membership


def invitation_revoke(*, invitation: Invitation, by) -> Invitation:
    if not can_admin_team(by, invitation.team):
        raise NotAllowed("Only the team's admins and the Keepers withdraw invitations.")
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(revoked_at=timezone.now())
    invitation.refresh_from_db()
    return invitation


def _admins_left(team, *, without_user_id) -> int:
    return Membership.objects.filter(team=team, role=Membership.Role.ADMIN).exclude(user_id=without_user_id).count()


def membership_set_role(*, team: Team, by, user_id: int, role: str) -> Membership:
    if not can_admin_team(by, team):
        raise NotAllowed("Only the team's admins and the Keepers change roles.")
    if role not in Membership.Role.values:
        raise PortalError("The role must be member or admin.", code="invalid", fields={"role": "member or admin"})
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().filter(team=team, user_id=user_id).select_related("user").first()
        )
        if membership is None:
            raise NotFound("That person is not in this team.")
        if (
            membership.role == Membership.Role.ADMIN
            and role != membership.role
            and not _admins_left(team, without_user_id=user_id)
        ):
            raise PortalError(
                "The team needs at least one admin: make someone else admin first.", code="last_admin", status_code=409
            )
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
        audit_record(actor=by, action="team.role_changed", target=membership, team=team, data={"role": role})
    return membership


def membership_remove(*, team: Team, by, user_id: int) -> None:
    """Remove someone from the team (admins and Keepers), or leave it yourself."""
    if not (can_admin_team(by, team) or by.pk == user_id):
        raise NotAllowed("Only the team's admins and the Keepers remove members.")
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(team=team, user_id=user_id).first()
        if membership is None:
            raise NotFound("That person is not in this team.")
        if membership.role == Membership.Role.ADMIN and not _admins_left(team, without_user_id=user_id):
            raise PortalError(
                "The team needs at least one admin: make someone else admin first.", code="last_admin", status_code=409
            )
        audit_record(actor=by, action="team.member_removed", target=membership, team=team)
        membership.delete()


def team_update(*, team: Team, by, data: dict) -> Team:
    """Keepers edit a team's name, description and quotas."""
    if not is_keeper(by):
        raise NotAllowed("Only the Keepers edit teams and quotas.")
    allowed = {"name", "description", *QuotaRequest.FIELDS}
    unknown = set(data) - allowed
    if unknown:
        raise PortalError(f"These cannot be changed here: {', '.join(sorted(unknown))}.", code="invalid")
    errors = {}
    clean = {}
    for key, value in data.items():
        if key in QuotaRequest.FIELDS:
            try:
                number = int(value)
            except (TypeError, ValueError):
                errors[key] = "A whole number, 0 or more."
                continue
            if number < 0 or number > 100000:
                errors[key] = "A whole number from 0 to 100000."
            clean[key] = number
        else:
            text = str(value or "").strip()
            if key == "name" and not text:
                errors[key] = "The team needs a name."
            clean[key] = text[:100] if key == "name" else text[:2000]
    if errors:
        raise PortalError("Check the highlighted fields.", code="invalid", fields=errors)
    with transaction.atomic():
        before = {k: getattr(team, k) for k in clean}
        for key, value in clean.items():
            setattr(team, key, value)
        team.save()
        audit_record(actor=by, action="team.updated", target=team, team=team, data={"before": before, "after": clean})
    return team


def quota_request_create(*, team: Team, by, field: str, requested, reason: str) -> QuotaRequest:
    """A team admin asks for a higher limit; it must be above what the team uses now and above its limit."""
    from provisioning.quotas import team_usage

    if not can_admin_team(by, team):
        raise NotAllowed("Only the team's admins ask for more quota.")
    if field not in QuotaRequest.FIELDS:
        raise PortalError(
            f"Unknown quota. Pick one of: {', '.join(QuotaRequest.FIELDS)}.",
            code="invalid",
            fields={"field": "Unknown."},
        )
    try:
        requested = int(requested)
    except (TypeError, ValueError):
        raise PortalError("Ask for a whole number.", code="invalid", fields={"requested": "A whole number."}) from None
    reason = (reason or "").strip()
    if not reason:
        raise PortalError(
            "Say why the team needs more: the Keepers decide on the reason.",
            code="invalid",
            fields={"reason": "Required."},
        )
    label = QuotaRequest.FIELDS[field]
    usage_key = {
        "max_notebooks": "notebooks",
        "max_gpus": "gpus",
        "max_storage_gb": "storage_gb",
        "max_databases": "databases",
    }[field]
    used = team_usage(team).get(usage_key, 0)
    current = getattr(team, field)
    if requested < used:
        raise PortalError(
            f"{requested} {label} is below what {team.name} uses now ({used}). Ask for more than that.",
            code="below_use",
            status_code=409,
            fields={"requested": f"At least {used}."},
        )
    if requested <= current:
        raise PortalError(
            f"The limit is {current} {label} already; a request is for more than that.",
            code="not_higher",
            status_code=409,
            fields={"requested": f"More than {current}."},
        )
    if QuotaRequest.objects.filter(team=team, field=field, status=Decision.PENDING).exists():
        raise PortalError(f"{team.name} already waits for an answer about {label}.", code="duplicate", status_code=409)
    with transaction.atomic():
        request = QuotaRequest.objects.create(
            team=team, field=field, current=current, requested=requested, reason=reason[:2000], requested_by=by
        )
        audit_record(actor=by, action="team.quota_requested", target=request, team=team)
        notify_keepers(
            Kind.QUOTA_REQUEST,
            title=f"{team.name} asks for {requested} {label} (now {current})",
            body=reason,
            url=f"/teams/{team.slug}/",
            team=team,
        )
    return request


def quota_request_decide(*, quota_request: QuotaRequest, by, approve: bool, reason: str = "") -> QuotaRequest:
    if not is_keeper(by):
        raise NotAllowed("Only the Keepers decide quota requests.")
    with transaction.atomic():
        locked = QuotaRequest.objects.select_for_update().select_related("team").get(pk=quota_request.pk)
        if locked.status != Decision.PENDING:
            raise PortalError("This request was answered already.", code="already_decided", status_code=409)
        if approve:
            team = Team.objects.select_for_update().get(pk=locked.team_id)
            setattr(team, locked.field, max(getattr(team, locked.field), locked.requested))
            team.save()
        locked.status = Decision.ACCEPTED if approve else Decision.DECLINED
        locked.decided_by, locked.decided_at, locked.decision_reason = by, timezone.now(), (reason or "").strip()[:500]
        locked.save()
        audit_record(actor=by, action=f"team.quota_{locked.status}", target=locked, team=locked.team)
        label = QuotaRequest.FIELDS[locked.field]
        if locked.requested_by:
            notify(
                user=locked.requested_by,
                kind=Kind.APPROVAL_DECIDED,
                team=locked.team,
                title=f"{locked.team.name}: {locked.requested} {label} {'approved' if approve else 'declined'}",
                body=locked.decision_reason,
                url=f"/teams/{locked.team.slug}/",
            )
    return locked
