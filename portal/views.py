"""The top of the house: home page and team switching. Reads every app; no app imports this module."""

import sys

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from portal.errors import CONCURRENCY_MESSAGE, concurrency_conflict
from portal.permissions import is_keeper, teams_visible_to
from portal.redirects import safe_next
from portal.selectors import current_team, membership_list

QUICK_KINDS = [
    ("notebook", "New notebook", "A JupyterLab of your own"),
    ("training_job", "Run a training job", "On the GPUs, with live logs"),
    ("bucket", "New bucket", "Store datasets and results"),
    ("database", "New database", "PostgreSQL, ready to connect"),
]


def home(request):
    from catalog import selectors as catalog_selectors
    from guides import selectors as guide_selectors
    from provisioning import selectors as provisioning_selectors

    team = current_team(request)
    resources = list(provisioning_selectors.resource_list(user=request.user, team=team)[:8]) if team else []
    journey = guide_selectors.journey(user=request.user)
    templates = {}
    for template in provisioning_selectors.template_list().only("slug", "name", "resource_kind"):
        templates.setdefault(template.resource_kind, template)
    quick = [
        {"template": templates[kind], "label": label, "hint": hint}
        for kind, label, hint in QUICK_KINDS
        if kind in templates
    ]
    journey_done = bool(journey) and all(item["complete"] for item in journey)
    return render(
        request,
        "portal/home.html",
        {
            "team": team,
            "memberships": membership_list(user=request.user),
            "resources": resources,
            "journey": journey,
            "journey_done": journey_done,
            "show_journey": not resources or not journey_done,
            "quick": quick,
            "featured": catalog_selectors.featured(),
            "recent_guides": guide_selectors.recently_updated(),
        },
    )


def search_page(request):
    from portal.search import search

    q = request.GET.get("q", "").strip()[:200]
    return render(request, "portal/search.html", {"q": q, "hits": search(user=request.user, text=q) if q else []})


def _local_compute_problem():
    from provisioning.sandbox import local_compute_problem

    return local_compute_problem()


def keepers(request):
    """What needs the Keepers' attention: approvals, failures, stale guides, catalog changes, teams' usage."""
    from django.db.models import Count, Q

    from catalog import selectors as catalog_selectors
    from catalog.health import recent_transitions
    from guides import selectors as guide_selectors
    from portal.models import Team
    from provisioning import selectors as provisioning_selectors
    from provisioning.models import ACTIVE_STATES, State

    if not is_keeper(request.user):
        raise PermissionDenied
    teams = Team.objects.annotate(
        member_count=Count("memberships", distinct=True),
        live=Count("resources", filter=Q(resources__state__in=ACTIVE_STATES), distinct=True),
        failed=Count("resources", filter=Q(resources__state=State.FAILED), distinct=True),
        waiting=Count("resources", filter=Q(resources__state=State.AWAITING_APPROVAL), distinct=True),
    ).order_by("name")
    return render(
        request,
        "portal/keepers.html",
        {
            "approvals": provisioning_selectors.approvals_pending(),
            "failing": provisioning_selectors.failing_resources(),
            "stale": guide_selectors.stale_guides(),
            "changed": catalog_selectors.recently_changed(),
            "teams": teams,
            "local_compute_problem": _local_compute_problem(),
            "service_changes": recent_transitions(),
        },
    )


@require_POST
def team_switch(request):
    team = teams_visible_to(request.user).filter(slug=request.POST.get("team", "")).first()
    if team is None:
        messages.error(request, "That team does not exist or you are not a member of it.")
    else:
        request.session["team_id"] = team.id
        messages.success(request, f"You are now working in {team.name}.")
    return redirect(safe_next(request.POST.get("next")))


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def server_error(request):
    """500 handler: a database outage becomes a clear 503 that says the data is safe."""
    exc = sys.exc_info()[1]
    if concurrency_conflict(exc):  # two requests at the same moment: the database is fine, try again
        if _wants_json(request):
            return JsonResponse({"error": "conflict", "message": CONCURRENCY_MESSAGE}, status=409)
        return render(request, "400.html", {"message": CONCURRENCY_MESSAGE}, status=409)
    if isinstance(exc, (OperationalError, InterfaceError)) or type(exc) is DatabaseError:
        # Only a lost database is an outage; what it refused to store (DataError, IntegrityError...) is a bug or
        # bad input, which portal.input_guard answers with a 400 before it gets here. No alert is sent from
        # here, so the page promises none: /readyz is what monitoring watches.
        message = (
            "The portal cannot reach its database right now. Nothing you saved is lost; please try again in a minute."
        )
        if _wants_json(request):
            return JsonResponse({"error": "unavailable", "message": message}, status=503)
        # Rendered without the request: context processors would ask the database that just failed.
        response = HttpResponse(render_to_string("503.html", {"message": message}), status=503)
        response["Retry-After"] = "30"
        return response
    if _wants_json(request):
        return JsonResponse(
            {
                "error": "server_error",
                "message": "Something went wrong on our side. Please try again; "
                "if it keeps happening, tell the Keepers.",
            },
            status=500,
        )
    return render(request, "500.html", status=500)


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"error": "not_found", "message": "Nothing here. Check the address."}, status=404)
    return render(request, "404.html", status=404)


def forbidden(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"error": "forbidden", "message": "You are not allowed to do this."}, status=403)
    return render(request, "403.html", status=403)
