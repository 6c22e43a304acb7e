"""Health checks: /healthz (the process answers) and /readyz (its dependencies answer)."""

import hmac
import time

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from portal.celery import app as celery_app


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means not ready
        return f"database unreachable: {exc.__class__.__name__}"
    return None


def check_redis() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.default_channel.client.ping()
    except Exception as exc:
        return f"redis unreachable: {exc.__class__.__name__}"
    return None


def check_workers(timeout: float = 1.0) -> str | None:
    try:
        replies = celery_app.control.ping(timeout=timeout, limit=1)
    except Exception as exc:
        return f"cannot ask workers: {exc.__class__.__name__}"
    if not replies:
        return "no Celery worker answered"
    return None


EXTRA_CHECKS: dict = {}


def register_check(name: str, check, when=None):
    """Apps add their own readiness checks (for example a configured Kubernetes cluster, `when` one is)."""
    EXTRA_CHECKS[name] = (check, when)


@never_cache
@login_not_required
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@login_not_required
def readyz(request):
    started = time.monotonic()
    checks = {"database": check_database(), "redis": check_redis()}
    checks["workers"] = check_workers() if checks["redis"] is None else "redis unreachable"
    for name, (check, when) in EXTRA_CHECKS.items():
        if when is None or when():
            checks[name] = check()
    ok = all(v is None for v in checks.values())
    body = {"status": "ok" if ok else "unavailable"}
    if may_see_details(request):  # what is broken tells an attacker what to aim at: Keepers and monitoring only
        body["checks"] = {k: (v or "ok") for k, v in checks.items()}
        body["took_ms"] = round((time.monotonic() - started) * 1000)
    return JsonResponse(body, status=200 if ok else 503)


def may_see_details(request) -> bool:
    """Keepers, and a monitoring system presenting METRICS_TOKEN (when a branch defines it) as a bearer token."""
    from portal.permissions import is_keeper

    if request.user.is_authenticated and is_keeper(request.user):
        return True
    expected = getattr(settings, "METRICS_TOKEN", "")
    given = request.headers.get("Authorization", "")
    return bool(expected) and hmac.compare_digest(given.encode(), f"Bearer {expected}".encode())
