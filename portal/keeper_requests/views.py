"""Pages: "Ask the Keepers" (open a request, see the team's), a request's thread, the Keepers' inbox, feedback."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal.errors import PortalError
from portal.keeper_requests import services
from portal.keeper_requests.models import RequestKind, RequestStatus
from portal.models import Team
from portal.permissions import is_keeper, teams_visible_to
from portal.selectors import current_team


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def ask(request):
    """The "Ask the Keepers" page: a form (pre-filled with what it is about) and the team's requests."""
    about = {k: request.GET.get(k, "")[:80] for k in ("about_type", "about_key", "about_step")}
    form = {"kind": request.GET.get("kind", "question"), "title": "", "body": "", **about}
    errors = {}
    status = 200
    if request.method == "POST":
        form = {
            k: request.POST.get(k, "")
            for k in ("kind", "title", "body", "about_type", "about_key", "about_step", "team")
        }
        team = (
            teams_visible_to(request.user).filter(slug=form["team"]).first() if form["team"] else current_team(request)
        )
        try:
            created = services.request_open(
                user=request.user,
                team=team,
                kind=form["kind"],
                title=form["title"],
                body=form["body"],
                about_type=form["about_type"],
                about_key=form["about_key"],
                about_step=form["about_step"],
            )
        except PortalError as exc:
            messages.error(request, exc.message)
            errors, status = exc.fields, exc.status_code
        else:
            messages.success(request, "Sent. The Keepers are told; you will be told of every answer.")
            return redirect("keeper_requests:detail", pk=created.pk)
    label = ""
    if form.get("about_type"):
        try:
            label, _ = services._about(form["about_type"], form["about_key"], form["about_step"], request.user)
        except PortalError:
            label = ""
    return render(
        request,
        "portal/keeper_requests/ask.html",
        {
            "form": form,
            "errors": errors,
            "about_label": label,
            "kinds": RequestKind.choices,
            "teams": list(teams_visible_to(request.user))
            if not is_keeper(request.user)
            else list(Team.objects.filter(memberships__user=request.user)),
            "team": current_team(request),
            "requests": services.request_list(user=request.user, mine_only=True)[:50],
        },
        status=status,
    )


def detail(request, pk):
    try:
        found = services.request_get(user=request.user, request_id=pk)
    except PortalError:
        raise Http404 from None
    if request.method == "POST":
        try:
            services.reply_add(
                request=found,
                user=request.user,
                body=request.POST.get("body", ""),
                status=request.POST.get("status", ""),
            )
            messages.success(request, "Reply sent.")
        except PortalError as exc:
            messages.error(request, exc.message)
        return redirect("keeper_requests:detail", pk=found.pk)
    return render(
        request,
        "portal/keeper_requests/detail.html",
        {
            "req": found,
            "replies": found.replies.select_related("author"),
            "statuses": RequestStatus.choices,
            "waited": timezone.now() - found.created_at,
        },
    )


@require_POST
def set_status(request, pk):
    try:
        found = services.request_get(user=request.user, request_id=pk)
    except PortalError:
        raise Http404 from None
    try:
        services.request_set_status(
            request=found,
            user=request.user,
            status=request.POST.get("status", ""),
            reason=request.POST.get("reason", ""),
        )
        messages.success(request, "Status changed; the person who asked is told.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect("keeper_requests:detail", pk=found.pk)


@require_POST
def assign(request, pk):
    try:
        found = services.request_get(user=request.user, request_id=pk)
        services.request_assign(request=found, user=request.user)
    except PortalError:
        raise Http404 from None
    messages.success(request, "It is yours now.")
    return redirect("keeper_requests:detail", pk=found.pk)


def keeper_inbox(request):
    if not is_keeper(request.user):
        raise Http404
    now = timezone.now()
    rows = [{"req": r, "waited": now - r.created_at} for r in services.keeper_inbox()]
    return render(
        request,
        "portal/keeper_requests/inbox.html",
        {"rows": rows, "tallies": services.feedback_tallies()[:30]},
    )


@require_POST
def feedback(request):
    helpful = {"yes": True, "no": False}.get(request.POST.get("helpful", ""))
    try:
        services.feedback_set(
            user=request.user,
            target_type=request.POST.get("target_type", ""),
            target_key=request.POST.get("target_key", ""),
            helpful=helpful,
            reason=request.POST.get("reason", ""),
        )
        messages.success(request, "Thank you: the Keepers read every answer.")
    except PortalError as exc:
        messages.error(request, exc.message)
    return redirect(_safe_next(request, "/"))
