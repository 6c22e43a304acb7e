"""/metrics: who may scrape, what it says, that promtool accepts it, and that workers count operations."""

import socket
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from provisioning import control
from provisioning.models import Resource, State
from tests.conftest import api_create, wait_for
from tests.factories import TeamFactory, make_resource
from tests.ops.promtool import promtool

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"


def _samples(text: str) -> dict:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.django_db
def test_loopback_may_scrape_without_a_token_and_every_name_starts_with_portal(client, templates, team_a, alice):
    make_resource(templates["postgres-database"], team_a, alice, name="db1", state=State.READY)
    from catalog.models import Entry, HealthCheck

    entry = Entry.objects.create(slug="registry", name="Model registry", kind="service")
    HealthCheck.objects.create(entry=entry, url="http://127.0.0.1:9/health", is_up=False)
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert names and all(name.startswith("portal_") for name in names), sorted(names)
    samples = _samples(text)
    assert samples[("portal_resources", (("kind", "database"), ("state", "ready"), ("team", "team-a")))] == 1
    assert samples[("portal_http_requests_total", (("status", "200"), ("view", "healthz")))] >= 1
    assert ("portal_celery_queue_length", (("queue", "operations"),)) in samples
    assert samples[("portal_dependency_up", (("name", "redis"),))] == 1
    assert samples[("portal_catalog_service_up", (("service", "registry"),))] == 0
    assert samples[("portal_gpus_free", ())] + samples[("portal_gpus_in_use", ())] == 2  # PORTAL_GPUS=2 in tests
    checked = promtool("check", "metrics", stdin=response.content)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.django_db
def test_a_token_is_needed_when_one_is_set_and_other_addresses_need_one(client, settings):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 403  # loopback too, once a token is set
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    answer = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert answer.status_code == 200 and b"portal_resources" in answer.content


@pytest.mark.django_db
def test_gauges_take_the_same_queries_for_one_resource_or_thirty(client, templates, alice, team_a):
    def scrape_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/metrics").status_code == 200
        return len(queries)

    make_resource(templates["postgres-database"], team_a, alice, name="one", state=State.READY)
    few = scrape_queries()
    for i in range(30):
        team = TeamFactory() if i % 3 else team_a
        make_resource(templates["bucket"], team, alice, name=f"b{i}", state=State.READY)
    assert scrape_queries() == few


def test_the_alert_rules_pass_promtool_and_their_tests_fire_each_alert():
    checked = promtool("check", "rules", str(MONITORING / "alerts.yaml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", str(MONITORING / "alerts.test.yaml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    import yaml

    rules = {r["alert"] for g in yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"] for r in g["rules"]}
    tests = yaml.safe_load((MONITORING / "alerts.test.yaml").read_text())["tests"]
    fired = {t["alertname"] for case in tests for t in case["alert_rule_test"] if t["exp_alerts"]}
    assert fired == rules


def test_the_dashboard_queries_only_metrics_the_portal_exports():
    import json
    import re

    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    names = {n for e in exprs for n in re.findall(r"\b(portal_[a-z_]+)", e)}
    known = {
        "portal_http_requests_total",
        "portal_http_request_duration_seconds_bucket",
        "portal_operations_total",
        "portal_operation_duration_seconds_bucket",
        "portal_request_to_ready_seconds_bucket",
        "portal_celery_queue_length",
        "portal_resources",
        "portal_gpus_in_use",
        "portal_gpus_free",
        "portal_control_loop_lag_seconds",
        "portal_operations_stuck",
        "portal_data_disk_bytes",
        "portal_dependency_up",
    }
    assert names <= known, names - known


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _scrape(port: int, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:  # noqa: S310
                return answer.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.worker
@pytest.mark.slow
def test_a_worker_counts_operations_and_request_to_ready_in_multiprocess_mode(
    live_worker, templates, api, alice, tmp_path
):
    port = _free_port()
    folder = tmp_path / "prometheus"
    folder.mkdir()
    live_worker.stop()
    saved = dict(live_worker.env)
    live_worker.env.update(PROMETHEUS_MULTIPROC_DIR=str(folder), WORKER_METRICS_PORT=str(port))
    live_worker.start()
    try:
        database = api_create(api(alice), "postgres-database", "metricsdb")
        job = api_create(api(alice), "training-job", "metricsjob", command="python -c 'print(42)'")
        wait_for(database, State.READY, timeout=90)
        wait_for(job, [State.RUNNING, State.SUCCEEDED], timeout=90)
        ops = ("portal_operation_duration_seconds_count", (("action", "create"), ("driver", "local")))
        deadline = time.monotonic() + 60  # the job's create operation ends just after the job starts running
        while True:
            text = _scrape(port)
            samples = _samples(text)
            if samples.get(ops, 0) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert samples[ops] >= 2
        total = ("portal_operations_total", (("action", "create"), ("driver", "local"), ("outcome", "succeeded")))
        assert samples[total] >= 2
        assert samples[("portal_request_to_ready_seconds_count", (("template", "postgres-database"),))] == 1
        assert samples[("portal_request_to_ready_seconds_count", (("template", "training-job"),))] == 1
        checked = promtool("check", "metrics", stdin=text.encode())
        assert checked.returncode == 0, checked.stdout + checked.stderr
        deadline = time.monotonic() + 60
        while Resource.objects.get(pk=job.pk).state == State.RUNNING and time.monotonic() < deadline:
            control.poll_running()
            time.sleep(0.5)
    finally:
        live_worker.stop()
        live_worker.env.clear()
        live_worker.env.update(saved)
        live_worker.start()
