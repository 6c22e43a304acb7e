"""The warm notebook pool: servers started ahead of demand (on beat), adopted by the next request, refilled, and
stopped when the pool shrinks or the team goes idle. Real JupyterLab servers in the sandbox, a real worker and beat."""

import time
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from django.utils import timezone

from provisioning import pool, services
from provisioning.drivers import get_driver
from provisioning.drivers.local import process as local_process
from provisioning.models import PooledNotebook, Resource, State
from tests.conftest import api_create, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def _wait_pooled(condition, timeout=120.0, what="the pool"):
    deadline = time.monotonic() + timeout
    while True:
        found = list(PooledNotebook.objects.all())
        if condition(found):
            return found
        assert time.monotonic() < deadline, f"{what}: {[(p.pk, p.state) for p in found]}"
        time.sleep(0.2)


def _gone(state: dict) -> bool:
    return not local_process.alive(state)


@pytest.fixture
def pooled_cleanup():
    """Pooled servers are processes, not rows the test database rolls back: end whatever a test left."""
    yield
    for pooled in PooledNotebook.objects.select_related("template", "team"):
        pool.discard(pooled, "the test ended")


def test_a_request_adopts_a_warm_server_and_the_pool_refills(
    beat_process, pooled_cleanup, templates, api, alice, team_a
):
    template = templates["jupyter-notebook"]
    template.warm_pool_size = 1
    template.save()
    type(alice).objects.filter(pk=alice.pk).update(last_login=timezone.now())  # team-a is active
    team_a.max_notebooks = 1  # a pooled server counts toward nothing: the request below still fits
    team_a.save()
    beat_process.start(NOTEBOOK_POOL_REFILL_SECONDS="1")  # no test code refills: beat rings provisioning.pool_refill

    warm = _wait_pooled(lambda p: any(x.state == "ready" and x.team_id == team_a.pk for x in p), what="first warm")
    warm = next(x for x in warm if x.team_id == team_a.pk)
    assert not Resource.objects.filter(team=team_a).exists()

    started = time.monotonic()
    notebook = api_create(api(alice), "jupyter-notebook", "warm1")
    notebook = wait_for(notebook, State.READY, timeout=60)
    print(f"warm notebook ready {time.monotonic() - started:.2f} s after the request")
    assert notebook.pk == warm.pk  # it became the pooled server: same folder, port and process
    assert notebook.driver_state["pid"] == warm.driver_state["pid"]
    assert "adopted" in notebook.operations.get(action="create").log
    token = notebook.secrets["token"]
    assert get_driver("local", "notebook").pool_status(notebook.driver_state, token) == "ready"
    assert Path(notebook.outputs["workdir"]).is_dir()

    # The pool refills in the background with a new server of its own.
    refilled = _wait_pooled(
        lambda p: any(x.state == "ready" and x.team_id == team_a.pk and x.pk != warm.pk for x in p), what="refill"
    )
    fresh = next(x for x in refilled if x.team_id == team_a.pk)
    assert fresh.driver_state["pid"] != notebook.driver_state["pid"]

    # A size the pool does not hold never takes a pooled server.
    driver = get_driver("local", "notebook")
    assert driver.pool_key({"gpus": 1}) is None
    assert driver.pool_key({"gpus": 0, "memory_gb": 4, "cpus": 1}) != fresh.key

    # Turned off by the Keepers: the pooled server is stopped and its folder removed.
    template.warm_pool_size = 0
    template.save()
    _wait_pooled(lambda p: not any(x.team_id == team_a.pk for x in p), what="pool turned off")
    deadline = time.monotonic() + 60
    while not _gone(fresh.driver_state) or local_process.resource_dir(fresh).exists():
        assert time.monotonic() < deadline, "the discarded pooled server is still there"
        time.sleep(0.2)
    services.resource_delete(resource=notebook, user=alice)
    wait_for(notebook, State.DELETED, timeout=60)


@pytest.mark.django_db(transaction=True)
def test_an_idle_teams_pooled_servers_are_stopped(pooled_cleanup, templates, bob, team_b):
    template = templates["jupyter-notebook"]
    template.warm_pool_size = 1
    template.save()
    type(bob).objects.filter(pk=bob.pk).update(last_login=timezone.now())
    report = pool.refill()
    assert report["started"] == 1
    pooled = PooledNotebook.objects.get(team=team_b)
    assert local_process.alive(pooled.driver_state)
    # No sign of the team for longer than NOTEBOOK_POOL_IDLE_MINUTES: the next refill stops it.
    type(bob).objects.filter(pk=bob.pk).update(last_login=timezone.now() - timedelta(days=1))
    report = pool.refill()
    assert report["discarded"] == 1 and not PooledNotebook.objects.filter(team=team_b).exists()
    deadline = time.monotonic() + 60
    while local_process.alive(pooled.driver_state):
        assert time.monotonic() < deadline, "the idle team's pooled server still runs"
        time.sleep(0.2)
    assert not local_process.resource_dir(pooled).exists()
    assert not psutil.pid_exists(pooled.driver_state["pid"]) or not local_process.alive(pooled.driver_state)
