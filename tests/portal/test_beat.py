"""The beat schedule is gathered from each app's tasks module, and a real `celery beat` runs it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.celery import app, gathered_beat_schedule
from provisioning.models import State
from tests.conftest import wait_for
from tests.factories import make_resource


def test_the_schedule_sits_beside_the_tasks_it_runs():
    schedule = gathered_beat_schedule()
    assert schedule["reconcile"]["task"] == "provisioning.reconcile"
    app.finalize()
    assert "reconcile" in app.conf.beat_schedule
    for entry in schedule.values():
        assert entry["task"] in app.tasks, f"{entry['task']} is scheduled but no such task exists"


@pytest.mark.django_db(transaction=True)
def test_beat_runs_reconcile_which_ends_an_expired_resource(templates, team_a, alice, beat_process):
    resource = make_resource(
        templates["postgres-database"],
        team_a,
        alice,
        name="old",
        state=State.READY,
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    beat_process.start(RECONCILE_INTERVAL_SECONDS="1")
    wait_for(resource, {State.DELETING, State.DELETED}, timeout=60)
