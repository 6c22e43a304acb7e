"""Notebooks and training jobs on this machine, through the API and a real Celery worker."""

import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from provisioning import control, gpus, services
from provisioning.models import Resource, State
from tests.conftest import api_create, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def _status(url, token):
    base = url.rsplit("/lab", 1)[0]
    request = urllib.request.Request(f"{base}/api/status", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_notebook_lifecycle(live_worker, templates, api, alice, bob):
    client = api(alice)
    started = time.monotonic()
    notebook = api_create(client, "jupyter-notebook", "nb1")
    notebook = wait_for(notebook, State.READY, timeout=60)
    print(f"notebook ready after {time.monotonic() - started:.1f} s")
    # Nothing waited in the worker: the create operation ended while JupyterLab was still starting, and the control
    # loop (its follow-up polls), not the operation, saw it answer.
    create = notebook.operations.get(action="create")
    ready = notebook.events.get(message__startswith="Ready: open it")
    assert ready.operation_id is None
    assert create.finished_at < ready.at
    assert "Nothing waits here" in create.log
    secrets = client.post(f"/api/v1/resources/{notebook.pk}/credentials/").json()["credentials"]
    assert "started" in _status(notebook.outputs["url"], secrets["token"])
    assert notebook.outputs["url"].endswith("/lab") and "token" not in json.dumps(notebook.outputs)
    assert api(bob).post(f"/api/v1/resources/{notebook.pk}/credentials/").status_code == 404

    workdir = Path(notebook.outputs["workdir"])
    (workdir / "analysis.txt").write_text("kept across stop and start")
    pid = notebook.driver_state["pid"]
    assert client.post(f"/api/v1/resources/{notebook.pk}/stop/").status_code == 202
    notebook = wait_for(notebook, State.STOPPED)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert client.post(f"/api/v1/resources/{notebook.pk}/start/").status_code == 202
    notebook = wait_for(notebook, State.READY, timeout=60)
    assert (workdir / "analysis.txt").read_text() == "kept across stop and start"
    new_pid = notebook.driver_state["pid"]

    client.delete(f"/api/v1/resources/{notebook.pk}/")
    wait_for(notebook, State.DELETED)
    assert not psutil.pid_exists(new_pid) or psutil.Process(new_pid).status() == psutil.STATUS_ZOMBIE
    assert not workdir.parent.exists()


def test_a_killed_notebook_is_noticed_and_start_brings_it_back(live_worker, templates, api, alice):
    client = api(alice)
    notebook = wait_for(api_create(client, "jupyter-notebook", "nb2"), State.READY, timeout=60)
    os.killpg(notebook.driver_state["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while Resource.objects.get(pk=notebook.pk).state != State.FAILED:  # the loop notices on its next poll
        assert time.monotonic() < deadline, "reconcile never noticed the killed notebook"
        control.reconcile()
        time.sleep(0.2)
    notebook = wait_for(notebook, State.FAILED)
    assert "stopped unexpectedly" in notebook.status_message
    assert "start" in services.allowed_actions(notebook, alice)
    client.post(f"/api/v1/resources/{notebook.pk}/start/")
    notebook = wait_for(notebook, State.READY, timeout=60)
    client.delete(f"/api/v1/resources/{notebook.pk}/")
    wait_for(notebook, State.DELETED)


def test_a_running_notebook_is_adopted_after_a_restart(live_worker, templates, api, alice):
    """A new worker applying again finds the server still running and keeps it (no second server)."""
    from provisioning.drivers import get_driver

    notebook = wait_for(api_create(api(alice), "jupyter-notebook", "nb3"), State.READY, timeout=60)
    live_worker.stop()
    live_worker.start()
    lines = []
    result = get_driver("local", "notebook").apply(Resource.objects.get(pk=notebook.pk), lines.append)
    assert result.state["pid"] == notebook.driver_state["pid"]
    assert "adopted" in lines[0]
    services.resource_delete(resource=notebook, user=alice)
    wait_for(notebook, State.DELETED)


def test_idle_notebook_is_warned_then_stopped(live_worker, templates, api, alice, settings):
    from datetime import timedelta

    from django.utils import timezone

    notebook = wait_for(
        api_create(api(alice), "jupyter-notebook", "nb4", idle_timeout_minutes=30), State.READY, timeout=15
    )
    # The notebook's own last activity is "now"; pretend the portal saw it 25 minutes ago by shifting the clock
    # of the rule rather than the server: a 30-minute timeout with a 10-minute warning.
    Resource.objects.filter(pk=notebook.pk).update(last_activity_at=timezone.now() - timedelta(minutes=25))
    control.cull_idle(Resource.objects.get(pk=notebook.pk))
    notebook.refresh_from_db()
    assert "will be stopped at" in notebook.warning
    Resource.objects.filter(pk=notebook.pk).update(last_activity_at=timezone.now() - timedelta(minutes=31))
    control.cull_idle(Resource.objects.get(pk=notebook.pk))
    notebook = wait_for(notebook, State.STOPPED)
    assert notebook.events.filter(message__contains="unused for 30 minutes").exists()
    services.resource_delete(resource=notebook, user=alice)
    wait_for(notebook, State.DELETED)


def test_default_training_job_succeeds_with_metrics(live_worker, templates, api, alice):
    client = api(alice)
    job = api_create(client, "training-job", "example")
    job = wait_for(job, State.RUNNING, timeout=60)
    deadline = time.monotonic() + 60
    while Resource.objects.get(pk=job.pk).state == State.RUNNING and time.monotonic() < deadline:
        control.poll_running()
        time.sleep(0.5)
    job = wait_for(job, State.SUCCEEDED, timeout=1)
    assert job.outputs["exit_code"] == 0
    metrics = json.loads((Path(job.outputs["workdir"]) / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.8 and metrics["epochs"] == 40
    output = client.get(f"/api/v1/resources/{job.pk}/logs/").json()["output"]
    assert "epoch  40/40" in output and "Done: accuracy" in output
    assert gpus.held_by(job) == []
    client.delete(f"/api/v1/resources/{job.pk}/")
    wait_for(job, State.DELETED)


def _finish(job, timeout=30):
    deadline = time.monotonic() + timeout
    while (
        Resource.objects.get(pk=job.pk).state in (State.RUNNING, State.REQUESTED, State.PROVISIONING)
        and time.monotonic() < deadline
    ):
        control.poll_running()
        time.sleep(0.2)
    return Resource.objects.get(pk=job.pk)


def test_failing_job_reports_its_exit_code(live_worker, templates, api, alice):
    job = api_create(
        api(alice), "training-job", "fails", command="python -c 'import sys; print(\"oops\"); sys.exit(3)'"
    )
    wait_for(job, [State.RUNNING, State.FAILED])
    job = _finish(job)
    assert job.state == State.FAILED and job.outputs["exit_code"] == 3
    assert "exit code 3" in job.status_message


def test_job_over_its_max_runtime_is_stopped_and_says_so(live_worker, templates, api, alice):
    from django.db import transaction

    # 3 seconds instead of the form's 1-minute minimum, written directly so the test stays short, in the request's
    # own transaction: the worker is rung only when it commits, so it never starts the job with the form's value
    # (it did once on a busy machine, and the job then ran its full 10 minutes).
    with transaction.atomic():
        job = services.resource_request(
            template=templates["training-job"],
            team=alice.memberships.first().team,
            owner=alice,
            name="slow",
            parameters={"command": "python -c 'import time; time.sleep(600)'"},
        )
        Resource.objects.filter(pk=job.pk).update(parameters={**job.parameters, "max_runtime_minutes": 0.05})
    wait_for(job, [State.RUNNING, State.FAILED], timeout=120)
    job = _finish(job, timeout=180)
    assert job.state == State.FAILED
    assert "maximum run time" in job.status_message


def test_cancel_ends_the_whole_process_group(live_worker, templates, api, alice):
    client = api(alice)
    job = api_create(
        client, "training-job", "cancel-me", command='python -c \'import subprocess; subprocess.run(["sleep", "300"])\''
    )
    job = wait_for(job, State.RUNNING, timeout=60)
    deadline = time.monotonic() + 30
    while not any(c.name() == "sleep" for c in psutil.Process(job.driver_state["pid"]).children(recursive=True)):
        assert time.monotonic() < deadline, "the job's child process never started"
        time.sleep(0.1)
    children = psutil.Process(job.driver_state["pid"]).children(recursive=True)
    assert client.post(f"/api/v1/resources/{job.pk}/cancel/").status_code == 202
    job = wait_for(job, State.CANCELLED, timeout=60)
    assert "start" not in services.allowed_actions(job, alice)  # a cancelled job is not "stopped; start it again"
    deadline = time.monotonic() + 20
    while any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children):
        assert time.monotonic() < deadline, "the job's processes outlived the cancel"
        time.sleep(0.1)


def test_jobs_wait_for_gpus_in_order(live_worker, templates, api, alice, team_a):
    team_a.max_gpus = 4
    team_a.save()
    client = api(alice)
    first = api_create(client, "training-job", "big", gpus=2, command="python -c 'import time; time.sleep(4)'")
    first = wait_for(first, State.RUNNING)
    second = api_create(
        client,
        "training-job",
        "small",
        gpus=1,
        command='python -c \'import os; print("gpus", os.environ["CUDA_VISIBLE_DEVICES"])\'',
    )
    second = wait_for(second, State.QUEUED)
    assert "0 jobs ahead of yours" in second.status_message
    assert client.get(f"/api/v1/resources/{second.pk}/").json()["state"] == "queued"
    assert _finish(first).state == State.SUCCEEDED
    second = wait_for(second, [State.RUNNING, State.SUCCEEDED], timeout=15)
    second = _finish(second)
    assert second.state == State.SUCCEEDED
    assert "gpus 0" in client.get(f"/api/v1/resources/{second.pk}/logs/").json()["output"]


def test_jobs_see_no_portal_secrets(live_worker, templates, api, alice):
    job = api_create(
        api(alice),
        "training-job",
        "env-check",
        env={"EPOCHS": "3"},
        command="python -c 'import os, json; print(json.dumps(sorted(os.environ)))'",
    )
    wait_for(job, [State.RUNNING, State.SUCCEEDED])
    job = _finish(job)
    names = json.loads(api(alice).get(f"/api/v1/resources/{job.pk}/logs/").json()["output"].splitlines()[0])
    assert "EPOCHS" in names and "CUDA_VISIBLE_DEVICES" in names
    assert not {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "S3_SECRET_ACCESS_KEY"} & set(names)


@pytest.mark.parametrize(
    "parameters, field, words",
    [
        ({"gpus": 3}, "gpus", "This machine has 2 GPUs"),
        ({"command": ""}, "command", "cannot be empty"),
        ({"command": "python 'unclosed"}, "command", "check its quotes"),
        ({"max_runtime_minutes": -5}, "max_runtime_minutes", "at least 1"),
        ({"env": {"bad name": "x"}}, "env", "Environment variables"),
    ],
)
def test_bad_job_input_is_a_clear_400(templates, api, alice, parameters, field, words, db):
    response = api(alice).post(
        "/api/v1/resources/", {"template": "training-job", "name": "j1", "parameters": parameters}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"] and words in response.json()["fields"][field]
    assert Resource.objects.count() == 0


def test_gpus_over_quota_is_refused(templates, api, alice, team_a, db):
    team_a.max_gpus = 1
    team_a.save()
    response = api(alice).post(
        "/api/v1/resources/", {"template": "training-job", "name": "j1", "parameters": {"gpus": 2}}, format="json"
    )
    assert response.status_code == 409 and "may use 1 GPUs" in response.json()["message"]


def test_a_machine_without_gpus_refuses_gpu_requests(templates, api, alice, settings, db):
    settings.PORTAL_GPUS = "none"
    gpus.inventory.cache_clear()
    try:
        response = api(alice).post(
            "/api/v1/resources/",
            {"template": "jupyter-notebook", "name": "n1", "parameters": {"gpus": 1}},
            format="json",
        )
        assert response.status_code == 400
        assert "no GPU" in response.json()["fields"]["gpus"]
    finally:
        gpus.inventory.cache_clear()
