"""Reads of the catalog shared by pages and the API."""

from __future__ import annotations

from catalog.models import Entry
from portal.errors import NotFound


def entry_list(*, kind: str = "", tag: str = "", lifecycle: str = "", owner: str = ""):
    entries = Entry.objects.select_related("owner_team", "health_check").defer("body", "annotations")
    if kind:
        entries = entries.filter(kind=kind)
    if tag:
        entries = entries.filter(tags__contains=[tag])
    if lifecycle:
        entries = entries.filter(lifecycle=lifecycle)
    if owner:
        entries = entries.filter(owner_team__slug=owner)
    return entries.order_by("name", "id")


def entry_get(*, slug: str) -> Entry:
    entry = Entry.objects.select_related("owner_team", "updated_by", "health_check").filter(slug=slug).first()
    if entry is None:
        raise NotFound("No such catalog entry; try the search.")
    return entry


def featured(limit: int = 6):
    return Entry.objects.filter(featured=True).select_related("owner_team").defer("body").order_by("name")[:limit]


def recently_changed(limit: int = 10):
    return Entry.objects.select_related("updated_by").defer("body").order_by("-updated_at")[:limit]


def popular_tags(limit: int = 25) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t FROM (SELECT unnest(tags) t FROM catalog_entry) x GROUP BY t ORDER BY count(*) DESC, t LIMIT %s",
            [limit],
        )
        return [row[0] for row in cursor.fetchall()]


def owners():
    from portal.models import Team

    return Team.objects.filter(entries__isnull=False).distinct().order_by("name")


def entry_health(entry: Entry):
    """The entry's health check, or None (reads the relation select_related already fetched)."""
    from catalog.models import HealthCheck

    try:
        return entry.health_check
    except HealthCheck.DoesNotExist:
        return None


def with_health(entries) -> list:
    """Entries with `.health` (check or None) and `.uptime`, in one more query for all of them."""
    from catalog.health import uptime_for

    entries = list(entries)
    for entry in entries:
        entry.health = entry_health(entry)
    uptimes = uptime_for([e.health.id for e in entries if e.health])
    for entry in entries:
        entry.uptime = uptimes.get(entry.health.id) if entry.health else None
    return entries
