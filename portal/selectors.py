"""Reads of teams shared by pages and the API."""

from django.db.models import Count

from portal.models import Membership, Team
from portal.permissions import is_keeper, teams_visible_to


def team_list(*, user):
    return teams_visible_to(user).annotate(member_count=Count("memberships"))


def membership_list(*, user):
    return Membership.objects.filter(user=user).select_related("team")


def current_team(request) -> Team | None:
    """The team the user works in now: the one picked in the session, else their first."""
    cached = getattr(request, "_portal_current_team", "unset")
    if cached != "unset":
        return cached
    user = request.user
    teams = teams_visible_to(user) if is_keeper(user) else Team.objects.filter(memberships__user=user)
    picked = request.session.get("team_id") if hasattr(request, "session") else None
    team = None
    if picked:
        team = teams.filter(id=picked).first()
    if team is None:
        team = Team.objects.filter(memberships__user=user).order_by("name").first()
    request._portal_current_team = team
    return team
