"""Training jobs and notebooks on a real Slurm cluster (tests/slurm/conftest.py), through the API and a real worker.

`control.poll_running()` stands in for the fast poller of the beat schedule: the tests call the same function.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import transaction

from portal.signals import resource_warning
from provisioning import control, services
from provisioning.drivers import get_driver
from provisioning.drivers.slurm import client as slurm_client
from provisioning.models import Event, Resource, State
from tests.conftest import api_create, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow]
BASE_DIR = Path(__file__).resolve().parents[2]


def _until(resource, states, timeout=60.0, every=0.2):
    """Poll as the control loop does until the resource reaches one of `states`; returns it fresh."""
    states = {states} if isinstance(states, str) else set(states)
    deadline = time.monotonic() + timeout
    while True:
        control.poll_running()
        fresh = Resource.objects.get(pk=resource.pk)
        if fresh.state in states:
            return fresh
        if time.monotonic() > deadline:
            raise AssertionError(f"{fresh.name} is {fresh.state} ({fresh.status_message}), not {states}")
        time.sleep(every)


def _squeue(cluster, resource):
    return [line for line in cluster.jobs() if f"portal-{resource.pk}" in line]


def _wait_in_squeue(cluster, resource, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not _squeue(cluster, resource):
        assert time.monotonic() < deadline, f"{resource.name} never reached squeue"
        time.sleep(0.05)
    return time.monotonic()


def _job(client_, name, **parameters):
    return api_create(client_, "training-job-slurm", name, **{"memory_gb": 1, **parameters})


def test_a_job_runs_as_the_team_account_and_its_end_shows_within_seconds(
    slurm_worker, slurm_cluster, templates, api, alice, client
):
    requested = time.monotonic()
    job = _job(api(alice), "hello", command="bash -c 'whoami; echo CUDA=${CUDA_VISIBLE_DEVICES:-none}; sleep 5'")
    seen = _wait_in_squeue(slurm_cluster, job)
    print(f"in squeue {seen - requested:.2f} s after the request")
    assert seen - requested < 2.0
    job = wait_for(job, State.RUNNING, timeout=10)
    assert job.outputs["slurm_job_id"].isdigit() and job.outputs["partition"] == "debug"
    job = _until(job, State.SUCCEEDED, timeout=60, every=0.5)
    ended = time.time()
    record = slurm_client.job_records(job.outputs["slurm_job_id"])[0]
    end_of_job = time.mktime(time.strptime(record["EndTime"], "%Y-%m-%dT%H:%M:%S"))
    print(f"the portal showed the end {ended - end_of_job:.1f} s after the job ended")
    assert ended - end_of_job < 5.0
    assert job.outputs["exit_code"] == 0 and 4 <= job.outputs["runtime_seconds"] <= 15
    assert job.status_message.startswith("Completed successfully after")
    output = get_driver("slurm", "training_job").logs(job)
    assert "pt-team-a" in output.splitlines()[0] and "root" not in output and "CUDA=none" in output
    client.force_login(alice)
    page = client.get(f"/resources/{job.pk}/").content.decode()
    assert "Completed successfully" in page and "pt-team-a" in page and job.outputs["slurm_job_id"] in page


def test_exit_code_3_is_a_failure_with_its_code_and_retry_runs_it_again(
    slurm_worker, slurm_cluster, templates, api, alice
):
    job = _job(api(alice), "three", command="bash -c 'echo about to fail; exit 3'")
    job = _until(wait_for(job, [State.RUNNING, State.FAILED], timeout=10), State.FAILED, timeout=60)
    assert job.outputs["exit_code"] == 3
    assert "Failed with exit code 3" in job.status_message
    assert "about to fail" in get_driver("slurm", "training_job").logs(job)
    first_job = job.outputs["slurm_job_id"]
    assert api(alice).post(f"/api/v1/resources/{job.pk}/retry/").status_code == 202  # retry submits it again
    job = wait_for(job, State.RUNNING, timeout=10)
    assert job.outputs["slurm_job_id"] != first_job
    job = _until(job, State.FAILED, timeout=60)
    assert job.outputs["exit_code"] == 3 and len(_squeue(slurm_cluster, job)) == 2


def test_a_job_array_runs_each_task_and_shows_each_output(slurm_worker, slurm_cluster, templates, api, alice):
    job = _job(api(alice), "array", command="bash -c 'echo task=$SLURM_ARRAY_TASK_ID'", array_size=2)
    job = _until(wait_for(job, State.RUNNING, timeout=10), State.SUCCEEDED, timeout=60)
    output = get_driver("slurm", "training_job").logs(job)
    assert "== task 0 ==\ntask=0" in output and "== task 1 ==\ntask=1" in output
    assert job.outputs["exit_code"] == 0 and len(_squeue(slurm_cluster, job)) == 2


def test_a_job_over_its_time_limit_is_timed_out(slurm_worker, templates, alice, team_a):
    with transaction.atomic():  # the worker is rung after commit, so it submits the shortened job
        job = services.resource_request(
            template=templates["training-job-slurm"],
            team=team_a,
            owner=alice,
            name="slowpoke",
            parameters={"command": "sleep 300", "memory_gb": 1},
        )
        # 6 seconds instead of the form's 1-minute minimum, so the test stays short.
        Resource.objects.filter(pk=job.pk).update(parameters={**job.parameters, "max_runtime_minutes": 0.1})
    job = wait_for(job, State.RUNNING, timeout=10)
    job = _until(job, State.FAILED, timeout=120, every=1)
    assert job.status_message.startswith("Timed out: Slurm stopped it at its time limit of 6 s")
    assert job.outputs["slurm_state"] == "timeout"


def test_jobs_wait_for_the_only_gpus_and_one_is_cancelled_while_pending(
    slurm_worker, slurm_cluster, templates, api, alice, team_a
):
    team_a.max_gpus = 8
    team_a.save()
    api_alice = api(alice)
    holder = _job(api_alice, "holder", command="sleep 300", gpus=2)
    holder = wait_for(holder, State.RUNNING, timeout=10)
    holder = _until(holder, State.RUNNING)
    waiter = _job(api_alice, "waiter", command="bash -c 'echo gpus=$CUDA_VISIBLE_DEVICES'", gpus=1)
    doomed = _job(api_alice, "doomed", command="true", gpus=1)
    for resource in (waiter, doomed):
        wait_for(resource, State.RUNNING, timeout=10)
    deadline = time.monotonic() + 30
    while "Waiting in the queue" not in Resource.objects.get(pk=doomed.pk).status_message:
        control.poll_running()
        assert time.monotonic() < deadline
        time.sleep(0.3)
    waiter, doomed = Resource.objects.get(pk=waiter.pk), Resource.objects.get(pk=doomed.pk)
    assert waiter.status_message == (
        "Waiting in the queue of partition debug, 1st in line: the nodes it needs are busy."
    )
    assert doomed.status_message.startswith("Waiting in the queue of partition debug, 2nd in line")
    holder = Resource.objects.get(pk=holder.pk)
    assert holder.status_message.startswith("Running on node ") and "left" in holder.status_message

    assert api_alice.post(f"/api/v1/resources/{doomed.pk}/cancel/").status_code == 202
    doomed = wait_for(doomed, State.CANCELLED, timeout=20)
    assert "CANCELLED" in _squeue(slurm_cluster, doomed)[0]
    assert api_alice.post(f"/api/v1/resources/{holder.pk}/cancel/").status_code == 202
    wait_for(holder, State.CANCELLED, timeout=20)
    waiter = _until(waiter, State.SUCCEEDED, timeout=60)
    assert "gpus=0" in get_driver("slurm", "training_job").logs(waiter)


def test_slurm_gpus_count_against_the_team_quota(slurm_worker, templates, api, alice, team_a):
    team_a.max_gpus = 2
    team_a.save()
    api_alice = api(alice)
    _job(api_alice, "two-gpus", command="sleep 300", gpus=2)
    response = api_alice.post(
        "/api/v1/resources/",
        {"template": "training-job-slurm", "name": "one-more", "parameters": {"command": "true", "gpus": 1}},
        format="json",
    )
    assert response.status_code == 409 and "quota" in response.json()["message"]


@pytest.mark.parametrize(
    ("parameters", "field", "words"),
    [
        ({"partition": "nope"}, "partition", "no partition 'nope'; choose one of: debug, short"),
        ({"max_runtime_minutes": 90}, "max_runtime_minutes", "Partition debug allows at most 60 minutes (1 h)"),
        ({"partition": "short", "max_runtime_minutes": 5}, "max_runtime_minutes", "at most 2 minutes"),
        ({"cpus": 0}, "cpus", "CPUs must be at least 1; you gave 0."),
        ({"cpus": 3}, "cpus", "at most 2 CPUs; you asked for 3"),
        ({"memory_gb": 8}, "memory_gb", "at most 3.9 GB of memory"),
        ({"gpus": 5}, "gpus", "No node of the cluster has 5 GPUs: the most on one node is 2."),
        ({"command": "python 'unclosed"}, "command", "Command cannot be read"),
        ({"workdir": "../other-team"}, "workdir", "no '..'"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_limit(
    slurm_settings, slurm_cluster, templates, api, alice, parameters, field, words, db
):
    before = slurm_cluster.jobs()
    response = api(alice).post(
        "/api/v1/resources/",
        {"template": "training-job-slurm", "name": "bad", "parameters": {"command": "true", **parameters}},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert words in response.json()["fields"][field]
    assert Resource.objects.count() == 0 and slurm_cluster.jobs() == before


def test_the_form_offers_partitions_with_their_limits_and_readyz_reports_the_cluster(
    slurm_settings, templates, client, alice, keeper, settings, db
):
    client.force_login(alice)
    page = client.get("/resources/new/training-job-slurm/").content.decode()
    assert "debug (default): up to 1 h; nodes with up to 2 CPUs, 3.9 GB, 2 GPUs" in page
    assert "short: up to 2 min" in page
    client.force_login(keeper)  # /readyz tells its details to Keepers only
    ready = client.get("/readyz").json()
    assert ready["checks"]["slurm"] == "ok"
    settings.SLURM_CONF = str(Path(slurm_settings["SLURM_CONF"]).parent / "missing.conf")
    settings.SLURM_DEFAULT_CONF = "/nonexistent/slurm.conf"
    from provisioning.selectors import template_list

    assert not template_list().filter(driver="slurm").exists()
    assert "slurm" not in client.get("/readyz").json()["checks"]


def test_a_worker_killed_between_sbatch_and_saving_leaves_exactly_one_job(
    slurm_worker, slurm_cluster, templates, api, alice
):
    """The apply runs in a process that dies right after sbatch returned, before anything is saved; the worker's
    own run of the same operation then finds that job instead of submitting a second one."""
    slurm_worker.stop()
    job = _job(api(alice), "crashy", command="sleep 30")
    code = (
        "import os, django; django.setup()\n"
        "from provisioning.drivers import get_driver\n"
        "from provisioning.models import Resource\n"
        f"resource = Resource.objects.select_related('team', 'template').get(pk='{job.pk}')\n"
        "get_driver('slurm', 'training_job').apply(resource, print)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    dying = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=slurm_worker.env, capture_output=True, text=True, timeout=60
    )
    assert dying.returncode == -9, dying.stderr
    assert len(_squeue(slurm_cluster, job)) == 1
    assert Resource.objects.get(pk=job.pk).driver_state == {}
    slurm_worker.start()
    job = wait_for(job, State.RUNNING, timeout=20)
    assert len(_squeue(slurm_cluster, job)) == 1
    assert _squeue(slurm_cluster, job)[0].split()[0] == job.driver_state["job_id"]
    assert "interrupted" in job.operations.get().log


def _api_status(url, token):
    base = url.removesuffix("/lab")
    request = urllib.request.Request(f"{base}/api/status", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (the test cluster's notebook)
        return json.loads(response.read())


def test_a_notebook_on_the_cluster_answers_where_the_page_says(
    slurm_worker, slurm_cluster, templates, api, alice, settings
):
    settings.SLURM_WALLTIME_WARNING_MINUTES = 120  # the 60-minute wall time is "about to end": the warning comes
    warnings = []

    def receiver(sender, resource, warning, message, at, **kwargs):
        warnings.append((warning, message))

    resource_warning.connect(receiver)
    try:
        api_alice = api(alice)
        notebook = api_create(api_alice, "notebook-slurm", "nb", memory_gb=1)
        notebook = wait_for(notebook, State.RUNNING, timeout=10)
        notebook = _until(notebook, State.READY, timeout=120, every=0.5)
        assert notebook.status_message.startswith("Running on node ")
        url = notebook.outputs["url"]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/lab")
        token = api_alice.post(f"/api/v1/resources/{notebook.pk}/credentials/").json()["credentials"]["token"]
        assert "started" in _api_status(url, token)
        control.poll_running()  # the next look at a ready notebook warns about its wall time
        assert warnings and warnings[0][0] == "walltime" and "wall time ends" in warnings[0][1]
        assert Event.objects.filter(resource=notebook, message__startswith="Its wall time ends").count() == 1
        control.poll_running()
        assert len(warnings) == 1  # once per job
        assert "left: save your work" in Resource.objects.get(pk=notebook.pk).status_message

        folder = Path(notebook.driver_state["folder"])
        (folder / "analysis.txt").write_text("kept")
        assert api_alice.post(f"/api/v1/resources/{notebook.pk}/stop/").status_code == 202
        notebook = wait_for(notebook, State.STOPPED, timeout=20)
        deadline = time.monotonic() + 30
        while any(s in line for line in _squeue(slurm_cluster, notebook) for s in ("RUNNING", "COMPLETING")):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert (folder / "analysis.txt").read_text() == "kept"
        first_job = notebook.driver_state["job_id"]
        assert api_alice.post(f"/api/v1/resources/{notebook.pk}/start/").status_code == 202
        notebook = _until(wait_for(notebook, State.RUNNING, timeout=10), State.READY, timeout=120, every=0.5)
        assert notebook.driver_state["job_id"] != first_job
        assert "started" in _api_status(notebook.outputs["url"], token)  # the same token
        assert (folder / "analysis.txt").read_text() == "kept"
        api_alice.delete(f"/api/v1/resources/{notebook.pk}/")
        wait_for(notebook, State.DELETED, timeout=20)
        assert not folder.exists()
    finally:
        resource_warning.disconnect(receiver)


def test_one_squeue_read_serves_every_poll_for_a_second(slurm_settings, slurm_cluster):
    slurm_client.forget_all()
    first = slurm_client.queue()
    assert slurm_client.queue() is first  # the same answer object: no second squeue
    time.sleep(slurm_client.QUEUE_CACHE_SECONDS + 0.1)
    assert slurm_client.queue() is not first


def test_the_test_cluster_listens_on_loopback_only(slurm_cluster):
    out = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True, check=False).stdout
    lines = [line for line in out.splitlines() if "slurm" in line]
    assert lines and all(" 127.0.0.1:" in line for line in lines), lines
    assert os.path.exists(slurm_cluster.conf)
