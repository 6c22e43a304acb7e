"""Reads of the catalog shared by pages and the API."""

from __future__ import annotations

import contextlib
import hashlib
import uuid

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


# The tag chips and the owner menu of /catalog/ summarise the whole table (a GROUP BY over every entry's tags): kept
# in the cache for a few minutes and dropped whenever an entry is saved or deleted (issue 19: 100,000 entries).
LISTS_CACHE_SECONDS = 300
POPULAR_TAGS_KEY = "catalog:popular-tags:{limit}"
OWNER_TEAMS_KEY = "catalog:owner-teams"


def cached_value(key: str, compute):
    """The cached value, or computed now; a cache that does not answer (Redis restarting) costs a query, not a page."""
    from django.core.cache import cache

    try:
        value = cache.get(key)
    except Exception:  # noqa: BLE001 (any cache failure: fall back to the database)
        return compute()
    if value is None:
        value = compute()
        with contextlib.suppress(Exception):  # not cached this time: computed again next time
            cache.set(key, value, LISTS_CACHE_SECONDS)
    return value


def popular_tags(limit: int = 25) -> list[str]:
    return cached_value(POPULAR_TAGS_KEY.format(limit=limit), lambda: _popular_tags(limit))


def _popular_tags(limit: int) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t FROM (SELECT unnest(tags) t FROM catalog_entry) x GROUP BY t ORDER BY count(*) DESC, t LIMIT %s",
            [limit],
        )
        return [row[0] for row in cursor.fetchall()]


def owners() -> list:
    """Teams that keep at least one entry (one index probe per team, not a join over every entry), cached."""
    from django.db.models import Exists, OuterRef

    from portal.models import Team

    def teams():
        return list(Team.objects.filter(Exists(Entry.objects.filter(owner_team=OuterRef("pk")))).order_by("name"))

    return cached_value(OWNER_TEAMS_KEY, teams)


VERSION_KEY = "catalog:version"


def _catalog_version() -> str:
    """A token that changes whenever an entry is saved or deleted: part of the key of every cached count."""
    from django.core.cache import cache

    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(VERSION_KEY)
    return version


def entry_count(queryset) -> int:
    """The exact number of entries a filtered list holds, counted once per catalog version and filter (the API's
    `count`: at 100,000 entries a count reads the whole index, tens of ms, on every page of every client)."""
    try:
        key = f"catalog:count:{_catalog_version()}:{hashlib.sha256(str(queryset.query).encode()).hexdigest()}"
    except Exception:  # noqa: BLE001 (no cache: count now)
        return queryset.count()
    return cached_value(key, queryset.count)


def forget_cached_lists(**kwargs) -> None:
    """Drop the cached tag chips, owner menu and counts (connected to Entry's post_save and post_delete)."""
    from django.core.cache import cache

    with contextlib.suppress(Exception):  # a cache that does not answer: the lists live out their few minutes
        cache.delete_many([POPULAR_TAGS_KEY.format(limit=25), OWNER_TEAMS_KEY])
        cache.set(VERSION_KEY, uuid.uuid4().hex, None)


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
