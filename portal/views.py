"""The top of the house: home page and team switching. Reads every app; no app imports this module."""

import sys

from django.contrib import messages
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from portal.permissions import teams_visible_to
from portal.selectors import current_team, membership_list


def home(request):
    return render(
        request,
        "portal/home.html",
        {"team": current_team(request), "memberships": membership_list(user=request.user)},
    )


@require_POST
def team_switch(request):
    team = teams_visible_to(request.user).filter(slug=request.POST.get("team", "")).first()
    if team is None:
        messages.error(request, "That team does not exist or you are not a member of it.")
    else:
        request.session["team_id"] = team.id
        messages.success(request, f"You are now working in {team.name}.")
    return redirect(request.POST.get("next") or "/")


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def server_error(request):
    """500 handler: a database outage becomes a clear 503 that says the data is safe."""
    exc = sys.exc_info()[1]
    if isinstance(exc, (OperationalError, InterfaceError, DatabaseError)):
        message = (
            "The portal cannot reach its database right now. Nothing you saved is lost; "
            "please try again in a minute. The Keepers have been alerted by the health checks."
        )
        if _wants_json(request):
            return JsonResponse({"error": "unavailable", "message": message}, status=503)
        response = render(request, "503.html", {"message": message}, status=503)
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
