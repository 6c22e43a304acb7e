"""Reads for the team pages and the API."""

from django.db.models import Count

from portal.errors import NotFound
from portal.models import Membership, Team
from portal.permissions import can_use_team, is_keeper
from portal.teams.models import Decision, Invitation, JoinRequest, QuotaRequest


def team_directory():
    """Every team, with its description and size: what a person without a team picks from."""
    return Team.objects.annotate(member_count=Count("memberships")).order_by("name")


def team_for(*, user, slug: str) -> Team:
    """A team its members and the Keepers may see; 404 for everyone else."""
    team = Team.objects.filter(slug=slug).first()
    if team is None or not can_use_team(user, team):
        raise NotFound("There is no such team among yours.")
    return team


def team_page(*, team: Team) -> dict:
    from provisioning.quotas import quota_summary

    return {
        "members": list(Membership.objects.filter(team=team).select_related("user").order_by("user__username")),
        "join_requests": list(
            JoinRequest.objects.filter(team=team, status=Decision.PENDING).select_related("user").order_by("created_at")
        ),
        "invitations": list(
            Invitation.objects.filter(team=team, accepted_at__isnull=True, revoked_at__isnull=True)
            .select_related("invitee")
            .order_by("-created_at")[:20]
        ),
        "quota_requests": list(
            QuotaRequest.objects.filter(team=team).select_related("requested_by", "decided_by")[:20]
        ),
        "quotas": quota_summary(team),
    }


def join_requests_for(*, user):
    """Requests the user may answer (their teams as admin; every one for Keepers), and their own."""
    rows = JoinRequest.objects.select_related("user", "team")
    if is_keeper(user):
        return rows
    admin_of = Membership.objects.filter(user=user, role=Membership.Role.ADMIN).values("team_id")
    return rows.filter(team_id__in=admin_of) | rows.filter(user=user)


def my_join_requests(*, user):
    return JoinRequest.objects.filter(user=user).select_related("team").order_by("-created_at")[:10]


def pending_new_teams():
    return JoinRequest.objects.filter(status=Decision.PENDING, team__isnull=True).select_related("user")


def quota_requests_for(*, user):
    rows = QuotaRequest.objects.select_related("team", "requested_by")
    if is_keeper(user):
        return rows
    return rows.filter(team_id__in=Membership.objects.filter(user=user).values("team_id"))
