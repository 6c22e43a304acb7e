"""Prometheus metrics of the portal; every name starts with `portal_`.

Counters and histograms are written where things happen: the middleware counts requests, and receivers of the
engine's signals (portal/signals.py) count operations and the time from request to ready. Gauges are read from the
database and Redis when Prometheus scrapes, with a fixed number of queries (GROUP BY, never one per row).

With PROMETHEUS_MULTIPROC_DIR set, every process of a pod (gunicorn workers, Celery's pool) writes its counters to
files there and a scrape adds them up (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import logging
import os
import shutil
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
OPERATION_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
READY_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 3600)
# The Celery queues (the engine routes user operations, the control loop and previews to their own queues).
QUEUES = ("operations", "control", "previews")
READY_STATES = {"ready", "running"}

HTTP_REQUESTS = Counter("portal_http_requests", "HTTP requests answered, by view and status.", ["view", "status"])
HTTP_LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer an HTTP request, by view.",
    ["view"],
    buckets=LATENCY_BUCKETS,
)
OPERATIONS = Counter(
    "portal_operations", "Operations ended, by driver, action and outcome.", ["driver", "action", "outcome"]
)
OPERATION_DURATION = Histogram(
    "portal_operation_duration_seconds",
    "Time from an operation's start to its end, by driver and action.",
    ["driver", "action"],
    buckets=OPERATION_BUCKETS,
)
REQUEST_TO_READY = Histogram(
    "portal_request_to_ready_seconds",
    "Time from a request to the resource first being ready (notebooks, databases, buckets) or running (jobs).",
    ["template"],
    buckets=READY_BUCKETS,
)


def http_request_observe(*, view: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(view=view, status=str(status)).inc()
    HTTP_LATENCY.labels(view=view).observe(seconds)


def _on_operation_finished(sender, operation, resource, outcome, duration_seconds, **kwargs):
    OPERATIONS.labels(driver=resource.driver, action=operation.action, outcome=outcome).inc()
    if duration_seconds is not None:
        OPERATION_DURATION.labels(driver=resource.driver, action=operation.action).observe(duration_seconds)


def _on_state_changed(sender, resource, old_state, new_state, **kwargs):
    # The first time only: a notebook started again after a stop is not a new request.
    if new_state in READY_STATES and old_state in ("provisioning", "queued", "requested"):
        from catalog.models import Template

        slug = Template.objects.filter(pk=resource.template_id).values_list("slug", flat=True).first() or "unknown"
        REQUEST_TO_READY.labels(template=slug).observe(max(0.0, time.time() - resource.created_at.timestamp()))


class PortalCollector:
    """Gauges computed at scrape time, each with one query."""

    def collect(self):
        yield from _resource_gauges()
        yield from _operation_gauges()
        yield from _queue_gauges()
        yield from _gpu_gauges()
        yield from _disk_gauges()
        yield from _service_gauges()


def _resource_gauges():
    from django.db.models import Count

    from provisioning.models import Resource

    family = GaugeMetricFamily(
        "portal_resources", "Resources by kind, state and team.", labels=["kind", "state", "team"]
    )
    rows = Resource.objects.exclude(state="deleted").values("kind", "state", "team__slug").annotate(n=Count("id"))
    for row in rows.order_by():
        family.add_metric([row["kind"], row["state"], row["team__slug"]], row["n"])
    yield family


def _operation_gauges():
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Count, Min, Q
    from django.utils import timezone

    from provisioning.models import Operation

    now = timezone.now()
    stale = now - timedelta(seconds=settings.OPERATION_HEARTBEAT_TIMEOUT_SECONDS)
    row = Operation.objects.filter(state__in=["queued", "running"]).aggregate(
        queued=Count("id", filter=Q(state="queued")),
        running=Count("id", filter=Q(state="running")),
        stuck=Count("id", filter=Q(state="running", heartbeat_at__lt=stale) | Q(state="queued", created_at__lt=stale)),
        oldest_queued=Min("created_at", filter=Q(state="queued")),
    )
    family = GaugeMetricFamily("portal_operations_in_state", "Operations not yet ended, by state.", labels=["state"])
    family.add_metric(["queued"], row["queued"])
    family.add_metric(["running"], row["running"])
    yield family
    yield GaugeMetricFamily(
        "portal_operations_stuck",
        "Operations running without a heartbeat, or queued, for longer than OPERATION_HEARTBEAT_TIMEOUT_SECONDS.",
        value=row["stuck"],
    )
    lag = (now - row["oldest_queued"]).total_seconds() if row["oldest_queued"] else 0.0
    yield GaugeMetricFamily(
        "portal_control_loop_lag_seconds", "Age of the oldest operation still waiting to be run.", value=lag
    )
    last = _last_task_successes()
    family = GaugeMetricFamily(
        "portal_task_last_success_timestamp_seconds", "When each periodic task last succeeded.", labels=["task"]
    )
    for task, at in sorted(last.items()):
        family.add_metric([task], at)
    yield family


def _redis():
    from portal.celery import app

    return app.connection_for_write()


def _queue_gauges():
    from portal.celery import app

    names = sorted({*QUEUES, app.conf.task_default_queue or "celery"})
    depth = GaugeMetricFamily("portal_celery_queue_length", "Tasks waiting in each Celery queue.", labels=["queue"])
    up = GaugeMetricFamily("portal_dependency_up", "Whether the portal reaches a service it needs.", labels=["name"])
    try:
        with _redis() as conn:
            client = conn.default_channel.client
            pipe = client.pipeline()
            for name in names:
                pipe.llen(name)
            lengths = pipe.execute()
        for name, length in zip(names, lengths, strict=True):
            depth.add_metric([name], length)
        up.add_metric(["redis"], 1)
    except Exception as exc:  # a scrape must answer even when Redis does not
        logger.warning("metrics: Redis unreachable: %s", exc.__class__.__name__)
        up.add_metric(["redis"], 0)
    up.add_metric(["database"], 1)  # the queries above would have raised otherwise
    yield depth
    yield up


def _gpu_gauges():
    from provisioning import gpus
    from provisioning.models import GpuAllocation

    total = len(gpus.inventory())
    used = GpuAllocation.objects.count()
    yield GaugeMetricFamily("portal_gpus_in_use", "GPUs of this machine held by notebooks and jobs.", value=used)
    yield GaugeMetricFamily("portal_gpus_free", "GPUs of this machine free.", value=max(0, total - used))


def _service_gauges():
    """The catalog's services as their health checks last saw them (1 up, 0 down; unprobed ones are left out)."""
    from catalog.models import HealthCheck

    family = GaugeMetricFamily(
        "portal_catalog_service_up", "Whether a catalog service answered its last health probe.", labels=["service"]
    )
    for slug, is_up in HealthCheck.objects.filter(enabled=True, is_up__isnull=False).values_list(
        "entry__slug", "is_up"
    ):
        family.add_metric([slug], 1 if is_up else 0)
    yield family


def _disk_gauges():
    from django.conf import settings

    usage = shutil.disk_usage(settings.DATA_DIR)
    family = GaugeMetricFamily("portal_data_disk_bytes", "The data folder's file system.", labels=["kind"])
    family.add_metric(["free"], usage.free)
    family.add_metric(["size"], usage.total)
    yield family


TASK_SUCCESS_KEY = "portal:metrics:task-success"


def _last_task_successes() -> dict[str, float]:
    try:
        with _redis() as conn:
            raw = conn.default_channel.client.hgetall(TASK_SUCCESS_KEY)
    except Exception:
        return {}
    return {k.decode(): float(v) for k, v in raw.items()}


def _on_task_success(sender=None, **kwargs):
    name = getattr(sender, "name", None)
    if not name:
        return
    try:
        with _redis() as conn:
            conn.default_channel.client.hset(TASK_SUCCESS_KEY, name, time.time())
    except Exception as exc:
        logger.warning("metrics: could not note the success of %s: %s", name, exc.__class__.__name__)


def registry() -> CollectorRegistry:
    """What a scrape reads: this process's (or, in multiprocess mode, every process's) metrics plus the gauges."""
    reg = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(reg)
    else:
        for collector in (HTTP_REQUESTS, HTTP_LATENCY, OPERATIONS, OPERATION_DURATION, REQUEST_TO_READY):
            reg.register(collector)
    reg.register(PortalCollector())
    return reg


def exposition() -> bytes:
    return generate_latest(registry())


def _worker_metrics_server(sender=None, **kwargs):
    """A Celery worker serves its metrics on WORKER_METRICS_PORT (multiprocess mode: its pool writes the files)."""
    from django.conf import settings
    from prometheus_client import start_http_server

    if not settings.WORKER_METRICS_PORT:
        return
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        logger.error("WORKER_METRICS_PORT is set but PROMETHEUS_MULTIPROC_DIR is not: the pool's metrics are lost.")
    start_http_server(settings.WORKER_METRICS_PORT, addr=settings.WORKER_METRICS_ADDRESS, registry=registry())
    logger.info("worker metrics on %s:%s", settings.WORKER_METRICS_ADDRESS, settings.WORKER_METRICS_PORT)


def _worker_child_exited(sender=None, pid=None, **kwargs):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid or os.getpid())


def connect() -> None:
    from celery.signals import task_success, worker_process_shutdown, worker_ready

    from portal.signals import operation_finished, resource_state_changed

    operation_finished.connect(_on_operation_finished, dispatch_uid="ops-metrics-operation")
    resource_state_changed.connect(_on_state_changed, dispatch_uid="ops-metrics-state")
    task_success.connect(_on_task_success, weak=False, dispatch_uid="ops-metrics-task-success")
    worker_ready.connect(_worker_metrics_server, weak=False, dispatch_uid="ops-metrics-worker-server")
    worker_process_shutdown.connect(_worker_child_exited, weak=False, dispatch_uid="ops-metrics-worker-child")
