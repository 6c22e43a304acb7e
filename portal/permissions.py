"""Who may see and change what. Keepers (the `keepers` group) see every team."""

from django.db.models import QuerySet

from portal.models import Membership, Team

KEEPERS_GROUP = "keepers"


def is_keeper(user) -> bool:
    if not user or not user.is_authenticated:
        return False
    cached = getattr(user, "_portal_is_keeper", None)
    if cached is None:
        cached = user.is_superuser or user.groups.filter(name=KEEPERS_GROUP).exists()
        user._portal_is_keeper = cached
    return cached


def team_roles(user) -> dict[int, str]:
    """{team id: role} for the user's memberships, read once per request."""
    if not user or not user.is_authenticated:
        return {}
    cached = getattr(user, "_portal_team_roles", None)
    if cached is None:
        cached = dict(Membership.objects.filter(user=user).values_list("team_id", "role"))
        user._portal_team_roles = cached
    return cached


def teams_visible_to(user) -> QuerySet[Team]:
    if is_keeper(user):
        return Team.objects.all()
    return Team.objects.filter(id__in=list(team_roles(user)))


def scope_to_teams(queryset: QuerySet, user, field: str = "team") -> QuerySet:
    """Limit any queryset with a team foreign key to the user's teams (Keepers see all)."""
    if is_keeper(user):
        return queryset
    return queryset.filter(**{f"{field}_id__in": list(team_roles(user))})


def can_use_team(user, team: Team) -> bool:
    return is_keeper(user) or team.id in team_roles(user)


def can_admin_team(user, team: Team) -> bool:
    return is_keeper(user) or team_roles(user).get(team.id) == Membership.Role.ADMIN
