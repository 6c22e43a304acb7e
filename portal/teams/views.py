"""Pages: the team directory and join requests, a team's page (members, invitations, quotas), invitations."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from portal.errors import PortalError
from portal.keeper_requests.views import _safe_next
from portal.models import Team
from portal.permissions import is_keeper
from portal.teams import selectors, services
from portal.teams.models import Decision, JoinRequest, QuotaRequest


def _fail(request, exc: PortalError, status=None):
    messages.error(request, exc.message)


def team_list(request):
    """All teams: ask to join one, or ask for a new team; admins and Keepers see what waits for them."""
    mine = set(request.user.memberships.values_list("team_id", flat=True))
    return render(
        request,
        "portal/teams/team_list.html",
        {
            "teams": selectors.team_directory(),
            "mine": mine,
            "my_requests": selectors.my_join_requests(user=request.user),
            "to_answer": selectors.join_requests_for(user=request.user)
            .filter(status=Decision.PENDING)
            .exclude(user=request.user)
            .order_by("created_at")[:50],
            "quota_pending": (
                QuotaRequest.objects.filter(status=Decision.PENDING).select_related("team").order_by("created_at")[:50]
                if is_keeper(request.user)
                else []
            ),
        },
    )


@require_POST
def join(request):
    slug = request.POST.get("team", "").strip()
    team = Team.objects.filter(slug=slug).first() if slug else None
    if slug and team is None:
        messages.error(request, "There is no such team. Pick one from the list.")
        return redirect("teams:list")
    try:
        services.join_request_create(
            user=request.user,
            team=team,
            new_team_name=request.POST.get("new_team_name", ""),
            message=request.POST.get("message", ""),
        )
    except PortalError as exc:
        _fail(request, exc)
        return redirect("teams:list")
    messages.success(request, "Asked. The team's admins and the Keepers are told; the answer reaches your inbox.")
    return redirect("teams:list")


@require_POST
def join_decide(request, pk):
    join_request = JoinRequest.objects.select_related("team").filter(pk=pk).first()
    if join_request is None:
        raise Http404
    try:
        decided = services.join_request_decide(
            join_request=join_request,
            by=request.user,
            accept=request.POST.get("decision") == "accept",
            reason=request.POST.get("reason", ""),
        )
    except PortalError as exc:
        if exc.status_code == 403:
            raise Http404 from None
        _fail(request, exc)
    else:
        who = decided.user.get_username()
        messages.success(
            request,
            f"{who} is now in {decided.team.name}."
            if decided.status == Decision.ACCEPTED
            else f"Declined; {who} is told.",
        )
    return redirect(_safe_next(request, "/teams/"))


def team_detail(request, slug):
    try:
        team = selectors.team_for(user=request.user, slug=slug)
    except PortalError:
        raise Http404 from None
    from portal.permissions import can_admin_team

    context = {
        "team": team,
        "can_admin": can_admin_team(request.user, team),
        "quota_fields": QuotaRequest.FIELDS.items(),
    }
    context.update(selectors.team_page(team=team))
    context["webhook"] = getattr(team, "webhook", None) if context["can_admin"] else None
    return render(request, "portal/teams/team_detail.html", context)


def _team_or_404(request, slug):
    try:
        return selectors.team_for(user=request.user, slug=slug)
    except PortalError:
        raise Http404 from None


@require_POST
def team_edit(request, slug):
    team = _team_or_404(request, slug)
    if not is_keeper(request.user):
        raise Http404
    data = {k: request.POST[k] for k in ("name", "description", *QuotaRequest.FIELDS) if k in request.POST}
    try:
        services.team_update(team=team, by=request.user, data=data)
        messages.success(request, "Saved.")
    except PortalError as exc:
        _fail(request, exc)
    return redirect("teams:detail", slug=team.slug)


@require_POST
def invite(request, slug):
    team = _team_or_404(request, slug)
    try:
        invitation, token = services.invitation_create(
            team=team,
            by=request.user,
            recipient=request.POST.get("recipient", ""),
            role=request.POST.get("role", "member"),
        )
    except PortalError as exc:
        _fail(request, exc)
    else:
        link = request.build_absolute_uri(f"/invitations/{token}/")
        messages.success(
            request, f"Invitation sent to {invitation.recipient}. The link works once, for them only: {link}"
        )
    return redirect("teams:detail", slug=team.slug)


@require_POST
def member(request, slug, user_id):
    team = _team_or_404(request, slug)
    try:
        if request.POST.get("action") == "remove":
            services.membership_remove(team=team, by=request.user, user_id=user_id)
            messages.success(request, "Removed from the team.")
            if user_id == request.user.pk:
                return redirect("home")
        else:
            services.membership_set_role(team=team, by=request.user, user_id=user_id, role=request.POST.get("role", ""))
            messages.success(request, "Role changed.")
    except PortalError as exc:
        _fail(request, exc)
    return redirect("teams:detail", slug=team.slug)


@require_POST
def quota_request(request, slug):
    team = _team_or_404(request, slug)
    try:
        services.quota_request_create(
            team=team,
            by=request.user,
            field=request.POST.get("field", ""),
            requested=request.POST.get("requested"),
            reason=request.POST.get("reason", ""),
        )
        messages.success(request, "Asked. The Keepers are told; the answer reaches your inbox.")
    except PortalError as exc:
        _fail(request, exc)
    return redirect("teams:detail", slug=team.slug)


@require_POST
def quota_decide(request, pk):
    quota = QuotaRequest.objects.select_related("team").filter(pk=pk).first()
    if quota is None or not is_keeper(request.user):
        raise Http404
    try:
        services.quota_request_decide(
            quota_request=quota,
            by=request.user,
            approve=request.POST.get("decision") == "approve",
            reason=request.POST.get("reason", ""),
        )
        messages.success(request, "Decided; the team is told.")
    except PortalError as exc:
        _fail(request, exc)
    return redirect("teams:detail", slug=quota.team.slug)


@require_POST
def webhook(request, slug):
    from portal.notifications.services import team_webhook_set

    team = _team_or_404(request, slug)
    try:
        team_webhook_set(team=team, user=request.user, url=request.POST.get("url", ""))
        messages.success(request, "Webhook saved.")
    except PortalError as exc:
        _fail(request, exc)
    return redirect("teams:detail", slug=team.slug)


def invitation(request, token):
    """The invitation link: shows what it is, and joins with one click (POST)."""
    try:
        found = services.invitation_by_token(token)
    except PortalError:
        return render(
            request, "portal/teams/invitation.html", {"problem": "This invitation link is not valid."}, status=404
        )
    if request.method == "POST":
        try:
            services.invitation_accept(token=token, user=request.user)
        except PortalError as exc:
            return render(
                request,
                "portal/teams/invitation.html",
                {"invitation": found, "problem": exc.message},
                status=exc.status_code,
            )
        messages.success(request, f"Welcome to {found.team.name}! You can request notebooks and more for the team now.")
        request.session["team_id"] = found.team_id
        return redirect("home")
    problem = services.invitation_problem(found, request.user)
    return render(
        request,
        "portal/teams/invitation.html",
        {"invitation": found, "problem": problem},
        status=200 if not problem else 403 if "signed in" in problem else 410,
    )
