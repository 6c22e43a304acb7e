"""Reads of usage for pages and CSV, each a fixed number of GROUP BY queries."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Sum
from django.utils import timezone

from usage.models import UsageDay

SUMS = {
    "gpu_hours": Sum("gpu_hours"),
    "cpu_hours": Sum("cpu_hours"),
    "memory_gb_hours": Sum("memory_gb_hours"),
    "storage_gb_days": Sum("storage_gb_days"),
    "cost": Sum("cost"),
}


def usage_rows(*, teams, since: date, until: date | None = None):
    """Usage by day and kind for these teams (a queryset of teams)."""
    until = until or timezone.now().date()
    rows = UsageDay.objects.filter(team__in=teams, day__gte=since, day__lte=until)
    return list(rows.values("day", "kind").annotate(**SUMS).order_by("day", "kind"))


def usage_by_team(*, teams, since: date):
    rows = UsageDay.objects.filter(team__in=teams, day__gte=since)
    return list(rows.values("team__slug", "team__name").annotate(**SUMS).order_by("-cost", "team__slug"))


def usage_export_rows(*, teams, since: date):
    """One row per resource and day, with its team and owner, for the CSV export."""
    rows = UsageDay.objects.filter(team__in=teams, day__gte=since).order_by("day", "team__slug", "resource__name")
    return rows.values_list(
        "day",
        "team__slug",
        "owner__username",
        "resource_id",
        "resource__name",
        "kind",
        "gpu_hours",
        "cpu_hours",
        "memory_gb_hours",
        "storage_gb_days",
        "cost",
    )


def default_since() -> date:
    return timezone.now().date() - timedelta(days=29)
