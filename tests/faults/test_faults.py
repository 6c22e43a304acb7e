"""Things break; nothing is lost. Real servers are stopped, emptied and killed here, then the portal recovers."""

import json
import time
import urllib.error
import urllib.request

import psutil
import pytest
from django.conf import settings
from django.db import connection

from portal import embedded, health
from provisioning import control, services
from provisioning.models import Operation, Resource, State
from tests.conftest import wait_for

pytestmark = [pytest.mark.slow]


def _get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (the test's own live server)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_postgres_outage_is_a_clear_503_then_recovers_without_a_restart(live_server, transactional_db, alice):
    from django.test import Client

    from portal.tokens import token_issue

    browser = Client()
    browser.force_login(alice)
    cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"}
    token = {"Authorization": f"Token {token_issue(user=alice, name='faults')[1]}"}
    assert _get(f"{live_server.url}/catalog/", cookie)[0] == 200

    root = settings.DATA_DIR
    postgres = embedded.EmbeddedPostgres(root, embedded.read_state(root))
    postgres.stop()
    try:
        status, page = _get(f"{live_server.url}/catalog/", cookie)
        assert status == 503, page[:500]
        assert "cannot reach its database" in page and "Nothing you saved is lost" in page
        status, body = _get(f"{live_server.url}/api/v1/catalog/", token)
        assert status == 503 and json.loads(body)["error"] == "unavailable"
        status, body = _get(f"{live_server.url}/readyz")
        assert status == 503 and json.loads(body) == {"status": "unavailable"}
    finally:
        postgres.start()
    connection.close()  # this test's own connection was cut too

    deadline = time.monotonic() + 20
    while (status := _get(f"{live_server.url}/catalog/", cookie)[0]) != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status == 200
    assert _get(f"{live_server.url}/api/v1/catalog/", token)[0] == 200


def test_redis_restarted_and_emptied_loses_no_queued_operation(live_worker, templates, team_a, alice):
    live_worker.stop()
    resources = [
        services.resource_request(
            template=templates["postgres-database"], team=team_a, owner=alice, name=f"queued-{i}", parameters={}
        )
        for i in range(3)
    ]
    root = settings.DATA_DIR
    redis = embedded.EmbeddedRedis(root, embedded.read_state(root))
    redis.stop()
    for leftover in ("appendonly.aof", "dump.rdb"):
        (redis.dir / leftover).unlink(missing_ok=True)
    redis.start()  # empty: the doorbells of the three operations are gone

    # The web recovers without a restart: at most one failed check, then ready again.
    checks = [health.check_redis() for _ in range(3)]
    assert checks[-1] is None, checks
    live_worker.start()
    assert health.check_workers(timeout=2) is None
    time.sleep(settings.OPERATION_HEARTBEAT_TIMEOUT_SECONDS + 0.5)
    assert control.reconcile()["requeued"] == 3  # Postgres is the truth: the operations are rung again
    for resource in resources:
        ready = wait_for(resource, State.READY, timeout=30)
        assert ready.operations.get().attempt == 1
    for resource in resources:
        services.resource_delete(resource=resource, user=alice)
    for resource in resources:
        wait_for(resource, State.DELETED)


def _jupyter_servers(resource) -> list[psutil.Process]:
    marker = str(resource.pk)
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        try:
            cmdline = process.info["cmdline"] or []
            # The server itself: not its supervisor or the sandbox around it (issue 12), whose command lines name it.
            server = cmdline[1:3] == ["-m", "jupyterlab"]
            if server and marker in " ".join(cmdline):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_a_worker_killed_while_starting_a_notebook_leaves_one_notebook(live_worker, templates, team_a, alice):
    """A worker dies inside apply, after the server started and before the engine saved it. Played here exactly:
    this test claims the operation as that worker, runs the driver's apply, and "dies" (saves nothing, stops
    heart-beating). Apply returns at once now, so killing a real worker inside that window cannot be timed."""
    from datetime import timedelta

    from django.utils import timezone

    from provisioning import engine
    from provisioning.drivers import get_driver

    live_worker.stop()
    notebook = services.resource_request(
        template=templates["jupyter-notebook"], team=team_a, owner=alice, name="crash-nb", parameters={}
    )
    operation = notebook.operations.get()
    claimed = engine.claim(operation.pk, "doomed-worker")
    assert not isinstance(claimed, str), claimed
    get_driver("local", "notebook").apply(claimed[1], lambda line: None)
    deadline = time.monotonic() + 60
    while len(_jupyter_servers(notebook)) != 1:  # started, but nobody knows its token: the worker "died" here
        assert time.monotonic() < deadline, "apply never started the notebook server"
        time.sleep(0.1)
    stale = timezone.now() - timedelta(seconds=settings.OPERATION_HEARTBEAT_TIMEOUT_SECONDS + 1)
    Operation.objects.filter(pk=operation.pk).update(heartbeat_at=stale)

    from portal.celery import app

    app.control.purge()  # the dead worker had taken the doorbell's message with it: only reconcile can recover it
    live_worker.start()
    assert control.reconcile()["taken_over"] == 1
    notebook = wait_for(notebook, State.READY, timeout=60)
    assert len(_jupyter_servers(notebook)) == 1, "a second notebook server was started"
    assert Operation.objects.get(pk=operation.pk).attempt == 2
    assert "an interrupted start had left" in Operation.objects.get(pk=operation.pk).log
    services.resource_delete(resource=notebook, user=alice)
    wait_for(notebook, State.DELETED, timeout=60)
    assert not _jupyter_servers(Resource.objects.get(pk=notebook.pk))
