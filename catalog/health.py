"""Service health: probe each service's health check, keep every probe, and read uptime back from them.

The control loop runs `health_probe_all` on the beat schedule (catalog/tasks.py). A service is shown down from its
first failed probe, so it shows down within two probe intervals of the moment it stopped answering. Uptime is the
share of stored probes that succeeded in a window, never an estimate.
"""

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import Trunc
from django.utils import timezone

from catalog.models import HealthCheck, Probe, ServiceTransition
from catalog.signals import service_state_changed

KEEP_PROBES_DAYS = 31


@dataclass
class ProbeResult:
    ok: bool
    status_code: int | None
    latency_ms: int | None
    message: str


def probe_timeout(interval_seconds: float | None = None) -> float:
    """A probe never takes longer than half an interval, so the next one starts on time."""
    interval = interval_seconds or settings.SERVICE_PROBE_INTERVAL_SECONDS
    return max(0.5, min(settings.SERVICE_PROBE_TIMEOUT_SECONDS, interval / 2))


def probe(check: HealthCheck, timeout: float | None = None) -> ProbeResult:
    """Ask the service once: an HTTP GET (status and text as expected) or a TCP connect."""
    timeout = timeout or probe_timeout()
    started = time.monotonic()
    if check.url:
        try:
            response = httpx.get(check.url, timeout=timeout, follow_redirects=False)
        except httpx.HTTPError as exc:
            return ProbeResult(False, None, None, f"no answer from {check.url}: {exc.__class__.__name__}")
        latency = round((time.monotonic() - started) * 1000)
        if response.status_code != check.expected_status:
            return ProbeResult(
                False, response.status_code, latency, f"answered {response.status_code}, not {check.expected_status}"
            )
        if check.expected_text and check.expected_text not in response.text:
            return ProbeResult(False, response.status_code, latency, f"the answer lacks '{check.expected_text}'")
        return ProbeResult(True, response.status_code, latency, "answered as expected")
    try:
        socket.create_connection((check.tcp_host, check.tcp_port), timeout=timeout).close()
    except OSError as exc:
        return ProbeResult(
            False, None, None, f"port {check.tcp_port} on {check.tcp_host} refused: {exc.strerror or exc}"
        )
    return ProbeResult(True, None, round((time.monotonic() - started) * 1000), "port open")


def health_record(*, check: HealthCheck, result: ProbeResult, at=None) -> Probe:
    """Store one probe; on a change between up and down, record the transition and tell the listeners."""
    at = at or timezone.now()
    with transaction.atomic():
        check = HealthCheck.objects.select_for_update().select_related("entry").get(pk=check.pk)
        stored = Probe.objects.create(
            health_check=check,
            at=at,
            ok=result.ok,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            message=result.message[:300],
        )
        was_up = check.is_up
        check.is_up, check.last_probed_at, check.last_message = result.ok, at, result.message[:300]
        fields = ["is_up", "last_probed_at", "last_message"]
        if was_up is not None and was_up != result.ok:
            check.changed_at = at
            fields.append("changed_at")
            ServiceTransition.objects.create(health_check=check, at=at, up=result.ok, message=result.message[:300])
            transaction.on_commit(
                lambda: service_state_changed.send(
                    sender=HealthCheck, check=check, up=result.ok, message=result.message, at=at
                )
            )
        elif was_up is None:
            check.changed_at = at
            fields.append("changed_at")
        check.save(update_fields=fields)
    return stored


def health_probe_all(*, interval_seconds: float | None = None) -> int:
    """Probe every enabled health check at once (a thread each, bounded by the probe timeout); returns how many."""
    interval = interval_seconds or settings.SERVICE_PROBE_INTERVAL_SECONDS
    timeout = probe_timeout(interval)
    now = timezone.now()
    # Skip checks probed less than half an interval ago: two beats in a row (or two workers) probe once.
    recent = now - timedelta(seconds=interval / 2)
    checks = list(
        HealthCheck.objects.filter(enabled=True)
        .filter(Q(last_probed_at__isnull=True) | Q(last_probed_at__lt=recent))
        .select_related("entry")
    )
    if checks:
        with ThreadPoolExecutor(max_workers=min(8, len(checks))) as pool:
            results = list(pool.map(lambda check: probe(check, timeout), checks))
        for check, result in zip(checks, results, strict=True):
            health_record(check=check, result=result, at=now)
    Probe.objects.filter(at__lt=now - timedelta(days=KEEP_PROBES_DAYS)).delete()
    return len(checks)


@dataclass
class Bar:
    start: object
    total: int
    ok: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.ok / self.total, 2) if self.total else None

    @property
    def level(self) -> str:
        if not self.total:
            return "none"
        return "up" if self.ok == self.total else ("down" if self.ok == 0 else "partial")


@dataclass
class Uptime:
    bars_24h: list
    bars_30d: list

    @staticmethod
    def _percent(bars) -> float | None:
        total = sum(b.total for b in bars)
        return round(100 * sum(b.ok for b in bars) / total, 2) if total else None

    @property
    def percent_24h(self):
        return self._percent(self.bars_24h)

    @property
    def percent_30d(self):
        return self._percent(self.bars_30d)


def uptime_for(check_ids: list[int], *, now=None) -> dict[int, Uptime]:
    """Uptime of each check from its stored probes: 24 hourly bars and 30 daily bars (two queries for all)."""
    now = timezone.localtime(now or timezone.now())
    hour = now.replace(minute=0, second=0, microsecond=0)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    hours = [hour - timedelta(hours=i) for i in range(23, -1, -1)]
    days = [day - timedelta(days=i) for i in range(29, -1, -1)]
    found = {}
    for unit, starts in (("hour", hours), ("day", days)):
        rows = (
            Probe.objects.filter(health_check_id__in=check_ids, at__gte=starts[0])
            .annotate(bucket=Trunc("at", unit, tzinfo=timezone.get_current_timezone()))
            .values("health_check_id", "bucket")
            .annotate(total=Count("id"), ok=Count("id", filter=Q(ok=True)))
        )
        for row in rows:
            found[(unit, row["health_check_id"], row["bucket"])] = (row["total"], row["ok"])
    result = {}
    for check_id in check_ids:
        result[check_id] = Uptime(
            bars_24h=[Bar(s, *found.get(("hour", check_id, s), (0, 0))) for s in hours],
            bars_30d=[Bar(s, *found.get(("day", check_id, s), (0, 0))) for s in days],
        )
    return result


def recent_transitions(limit: int = 20):
    return ServiceTransition.objects.select_related("health_check__entry").order_by("-at")[:limit]
