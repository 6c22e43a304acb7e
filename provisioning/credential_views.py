"""Pages of credential rotation: the button on a resource, the credentials page, the Keepers' controls."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from portal.errors import NotFound, PortalError
from portal.models import Team
from portal.permissions import is_keeper
from provisioning import credentials, selectors


@require_POST
def resource_rotate(request, resource_id):
    try:
        resource = selectors.resource_get(user=request.user, resource_id=resource_id)
    except NotFound:
        raise Http404("No such resource") from None
    try:
        credentials.credential_rotate(resource=resource, user=request.user, request=request)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"New credentials for '{resource.name}' are being made; the old ones stop working in a moment."
        )
    return redirect(request.POST.get("next") or "provisioning:detail", resource_id=resource.id)


def credential_list(request):
    rows, policy = credentials.credential_list(user=request.user)
    teams = Team.objects.order_by("name") if is_keeper(request.user) else []
    return render(
        request,
        "provisioning/credentials.html",
        {"rows": rows, "policy": policy, "too_old": sum(r.too_old for r in rows), "teams": teams},
    )


@require_POST
def credential_policy(request):
    if not is_keeper(request.user):
        raise Http404
    try:
        days = int(request.POST.get("max_age_days", ""))
        credentials.credential_policy_set(user=request.user, max_age_days=days, request=request)
    except ValueError:
        messages.error(request, "The age limit is a whole number of days.")
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Credentials older than {days} days are now flagged.")
    return redirect("credentials")


@require_POST
def team_rotate(request, slug):
    if not is_keeper(request.user):
        raise Http404
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise Http404
    rotations = credentials.team_credentials_rotate(team=team, user=request.user, request=request)
    messages.success(request, f"Rotating {len(rotations)} credential(s) of {team.name}.")
    return redirect("credentials")
