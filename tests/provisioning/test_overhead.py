"""Issue 19: the worker records the engine's own overhead on each operation (provisioning/overhead.py), which the
benchmark reads: from the operation's row to the driver's first call, and from the driver's return to the new state."""

import time

import pytest

from provisioning.models import Operation, Resource, State
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker]


def test_a_database_request_records_the_engines_overhead(live_worker, templates, api, alice):
    response = api(alice).post("/api/v1/resources/", {"template": "postgres-database", "name": "timed"}, format="json")
    assert response.status_code == 201, response.json()
    resource = wait_for(Resource(pk=response.json()["id"]), State.READY, timeout=60)

    # The worker writes them just after the new state commits: wait for them, within bounds.
    deadline = time.monotonic() + 30
    while (create := Operation.objects.get(resource=resource, action="create")).overhead_after_ms is None:
        assert time.monotonic() < deadline, f"no overhead recorded:\n{create.log}"
        time.sleep(0.1)
    assert create.attempt == 1 and create.state == "succeeded"
    # Both measured, in this worker, and plausible: positive, and inside the operation's own time on the clock.
    assert 0 < create.overhead_before_ms < 60_000
    assert 0 < create.overhead_after_ms < 60_000
    assert create.overhead_before_ms <= (create.finished_at - create.created_at).total_seconds() * 1000
