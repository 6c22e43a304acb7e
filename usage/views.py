"""Usage pages: the current team's, and every team's for Keepers; CSV exports; the form's cost estimate."""

from __future__ import annotations

import csv

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from catalog.models import Template
from portal.models import Team
from portal.permissions import is_keeper
from portal.selectors import current_team
from provisioning.parameters import parameters_validate
from usage import charts, selectors, services

CSV_HEADER = [
    "day",
    "team",
    "owner",
    "resource_id",
    "resource",
    "kind",
    "gpu_hours",
    "cpu_hours",
    "memory_gb_hours",
    "storage_gb_days",
    "cost",
]


def _page(request, *, teams, title, export_url, by_team=None, budget=None):
    since, until = selectors.default_since(), timezone.now().date()
    rows = selectors.usage_rows(teams=teams, since=since, until=until)
    totals = {key: sum(float(r[key] or 0) for r in rows) for key in selectors.SUMS}
    return render(
        request,
        "usage/usage.html",
        {
            "title": title,
            "rows": rows,
            "totals": totals,
            "since": since,
            "until": until,
            "cost_chart": charts.cost_by_day_svg(rows, since=since, until=until),
            "gpu_chart": charts.cost_by_day_svg(rows, since=since, until=until, value="gpu_hours"),
            "legend": charts.legend(rows),
            "export_url": export_url,
            "by_team": by_team,
            "budget": budget,
            "currency": settings.USAGE_CURRENCY,
        },
    )


def team_usage(request):
    team = current_team(request)
    if team is None:
        if is_keeper(request.user):
            return redirect("usage:keepers")
        raise Http404("You are in no team yet.")
    return _page(
        request,
        teams=Team.objects.filter(pk=team.pk),
        title=f"{team.name}: usage and cost",
        export_url="usage:team-export",
        budget=services.budget_status(team=team),
    )


def keeper_usage(request):
    if not is_keeper(request.user):
        raise PermissionDenied("Only Keepers see every team's usage.")
    teams = Team.objects.all()
    return _page(
        request,
        teams=teams,
        title="Usage and cost of every team",
        export_url="usage:keepers-export",
        by_team=selectors.usage_by_team(teams=teams, since=selectors.default_since()),
    )


def _csv(teams, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for row in selectors.usage_export_rows(teams=teams, since=selectors.default_since()):
        writer.writerow(row)
    return response


def team_export(request):
    team = current_team(request)
    if team is None:
        if is_keeper(request.user):
            return redirect("usage:keepers-export")
        raise Http404("You are in no team yet.")
    return _csv(Team.objects.filter(pk=team.pk), f"usage-{team.slug}.csv")


def keeper_export(request):
    if not is_keeper(request.user):
        raise PermissionDenied("Only Keepers export every team's usage.")
    return _csv(Team.objects.all(), "usage-all-teams.csv")


def estimate(request, slug):
    """The cost line under a request form (htmx refreshes it as the form changes)."""
    template = Template.objects.filter(slug=slug, enabled=True).first()
    if template is None:
        raise Http404("No such template")
    return render(request, "usage/_estimate.html", estimate_context(template, request.GET, current_team(request)))


def estimate_context(template, given, team) -> dict:
    """Form values (strings) to typed parameters, then the estimate; bad values fall back to the defaults."""
    properties = template.parameters_schema.get("properties") or {}
    raw = {}
    for key, spec in properties.items():
        value = given.get(key)
        if value in (None, ""):
            continue
        if spec.get("type") in ("integer", "number"):
            try:
                value = int(value) if spec["type"] == "integer" else float(value)
            except ValueError:
                continue
        raw[key] = value
    clean, errors = parameters_validate(template.parameters_schema, raw)
    for key in errors:
        clean.pop(key, None)
    estimated = services.estimate(template=template, parameters=clean, team=team)
    return {"estimate": estimated, "template": template, "currency": settings.USAGE_CURRENCY}
