"""GET /metrics for Prometheus: `Authorization: Bearer <METRICS_TOKEN>`, or from loopback when no token is set."""

import hmac
import ipaddress

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from ops import metrics


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def scrape_allowed(request) -> tuple[bool, str]:
    token = settings.METRICS_TOKEN
    if not token:
        if _loopback(request.META.get("REMOTE_ADDR", "")):
            return True, ""
        return False, "Set METRICS_TOKEN to let Prometheus scrape from another machine.\n"
    given = request.headers.get("Authorization", "")
    if given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
        return True, ""
    return False, "Send Authorization: Bearer <METRICS_TOKEN>.\n"


@never_cache
@login_not_required
@require_GET
def metrics_view(request):
    allowed, why = scrape_allowed(request)
    if not allowed:
        return HttpResponse(why, status=403, content_type="text/plain")
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
