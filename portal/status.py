"""The /status page: every service with a health check, and the portal's own parts."""

from django.shortcuts import render
from django.views.decorators.cache import never_cache

from catalog import selectors as catalog_selectors
from catalog.models import Entry
from portal import health


def portal_parts() -> list[dict]:
    """The portal's own parts, asked now: database, Redis, workers, each configured cluster, the id service."""
    from utilities.ids import ids_generate
    from utilities.models import SnowflakeLease

    problems = {"Database": health.check_database(), "Redis": health.check_redis()}
    problems["Workers"] = health.check_workers() if problems["Redis"] is None else "Redis unreachable"
    for name, (check, when) in health.EXTRA_CHECKS.items():
        if when is None or when():
            problems[f"Cluster: {name}" if name == "kubernetes" else name] = check()
    try:
        # uuid7 is made here; snowflakes need a worker slot, whose lease table is only read (a GET writes nothing).
        ids_generate(kind="uuid7", count=1)
        SnowflakeLease.objects.exists()
        problems["Identifier service"] = None
    except Exception as exc:  # any failure means the service is down; say which
        problems["Identifier service"] = f"cannot issue ids: {getattr(exc, 'message', exc.__class__.__name__)}"
    return [
        {"name": name, "ok": problem is None, "message": problem or "working"} for name, problem in problems.items()
    ]


@never_cache
def status_page(request):
    entries = Entry.objects.filter(health_check__enabled=True).select_related("health_check").order_by("name")
    services = catalog_selectors.with_health(entries)
    parts = portal_parts()
    return render(
        request,
        "portal/status.html",
        {
            "services": services,
            "parts": parts,
            "all_up": all(p["ok"] for p in parts) and all(s.health.is_up is not False for s in services),
        },
    )
