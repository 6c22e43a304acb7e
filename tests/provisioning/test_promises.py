"""Issue 13: the engine keeps what the pages promise. Each test failed before its fix."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from portal.errors import NotAllowed, PortalError
from portal.models import AuditEvent
from portal.signals import resource_warning
from provisioning import control, gpus, services
from provisioning.models import Operation, Resource, State
from provisioning.states import TRANSITIONS, InvalidTransition
from tests.conftest import api_create, wait_for

DRIFT_PROBE = Path(settings.BASE_DIR) / "tests" / "fixtures" / "terraform" / "drift-probe"


def _finish(job, timeout=60.0):
    """Let the control loop poll the job (as beat would) until it leaves the running states."""
    deadline = time.monotonic() + timeout
    while Resource.objects.get(pk=job.pk).state in (
        State.RUNNING,
        State.REQUESTED,
        State.PROVISIONING,
    ):
        assert time.monotonic() < deadline, Resource.objects.get(pk=job.pk).status_message
        control.poll_running()
        time.sleep(0.2)
    return Resource.objects.get(pk=job.pk)


# The states and their table ---------------------------------------------------------------------------------------


def test_every_state_but_deleted_has_a_way_out():
    for state in State:
        if state == State.DELETED:
            assert TRANSITIONS[state] == frozenset()
        else:
            assert TRANSITIONS[state] & {State.DELETING, State.DELETED}, state


@pytest.mark.django_db
def test_a_write_the_table_forbids_is_refused(templates, team_a, alice):
    resource = services.resource_request(
        template=templates["postgres-database"], team=team_a, owner=alice, name="table", parameters={}
    )
    with pytest.raises(InvalidTransition):  # requested -> deleted skips deleting: refused
        resource.state = State.DELETED
        resource.save()
    for state in (State.DELETING, State.DELETED):
        resource.state = state
        resource.save()
    resource = Resource.objects.get(pk=resource.pk)
    resource.state = State.READY
    with pytest.raises(InvalidTransition):
        resource.save()
    assert Resource.objects.get(pk=resource.pk).state == State.DELETED


# Requests: fixed values win, hidden parameters are refused, quotas read the merged parameters ---------------------


@pytest.mark.django_db
def test_template_fixed_values_win_and_the_api_refuses_them(templates, api, alice):
    template = templates["postgres-database"]
    template.defaults = {"connection_limit": 5}
    template.save()
    client = api(alice)
    response = client.post(
        "/api/v1/resources/",
        {"template": "postgres-database", "name": "sneaky", "parameters": {"connection_limit": 500}},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "hidden_parameter" and "connection_limit" in body["message"]
    assert not Resource.objects.exists()
    resource = api_create(client, "postgres-database", "honest")
    assert resource.parameters["connection_limit"] == 5


@pytest.mark.django_db
def test_the_form_never_shows_a_fixed_value(templates, signed_in, alice):
    template = templates["postgres-database"]
    page = signed_in(alice).get("/resources/new/postgres-database/").content.decode()
    assert 'name="connection_limit"' in page
    template.defaults = {"connection_limit": 5}
    template.save()
    page = signed_in(alice).get("/resources/new/postgres-database/").content.decode()
    assert 'name="connection_limit"' not in page and 'name="storage_gb"' in page


@pytest.mark.django_db
def test_parameters_left_off_the_form_are_refused_by_the_api(templates, api, alice):
    template = templates["postgres-database"]
    template.config = {**template.config, "visible_parameters": ["storage_gb"]}
    template.save()
    response = api(alice).post(
        "/api/v1/resources/",
        {"template": "postgres-database", "name": "hidden", "parameters": {"connection_limit": 50}},
        format="json",
    )
    assert response.status_code == 400 and response.json()["error"] == "hidden_parameter"
    assert not Resource.objects.exists()


@pytest.mark.django_db
def test_quota_reads_the_merged_parameters(templates, api, alice, team_a):
    team_a.max_gpus = 1
    team_a.save()
    template = templates["training-job"]
    template.defaults = {"gpus": 2}
    template.save()
    response = api(alice).post(
        "/api/v1/resources/", {"template": "training-job", "name": "greedy", "parameters": {}}, format="json"
    )
    assert response.status_code == 409 and response.json()["error"] == "over_quota"
    assert not Resource.objects.exists()


@pytest.mark.django_db
def test_start_checks_the_quota_again(templates, team_a, alice):
    """Team GPU quota 1: A stopped, B ready with the GPU, start A is refused with the reason; never both ready."""
    team_a.max_gpus = 1
    team_a.save()
    template = templates["jupyter-notebook"]
    a = Resource.objects.create(
        team=team_a, owner=alice, template=template, kind="notebook", driver="local", name="a",
        parameters={"gpus": 1}, state=State.STOPPED,
    )  # fmt: skip
    Resource.objects.create(
        team=team_a, owner=alice, template=template, kind="notebook", driver="local", name="b",
        parameters={"gpus": 1}, state=State.READY,
    )  # fmt: skip
    with pytest.raises(PortalError) as refused:
        services.resource_start(resource=a, user=alice)
    assert refused.value.code == "over_quota" and "quota" in refused.value.message
    a.refresh_from_db()
    assert a.state == State.STOPPED and not a.operations.exists()


# Dead ends --------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rejected_request_can_be_deleted(templates, team_a, alice, keeper):
    template = templates["postgres-database"]
    template.approval_rule = {"always": True}
    template.save()
    resource = services.resource_request(template=template, team=team_a, owner=alice, name="nope", parameters={})
    assert resource.state == State.AWAITING_APPROVAL
    services.resource_reject(resource=resource, user=keeper, reason="too big")
    resource.refresh_from_db()
    assert services.allowed_actions(resource, alice) == {"delete"}
    services.resource_delete(resource=resource, user=alice)
    resource.refresh_from_db()
    assert resource.state == State.DELETED
    assert not Resource.objects.visible().filter(pk=resource.pk).exists()


@pytest.mark.django_db
def test_a_keeper_forgets_what_cannot_be_deleted(templates, team_a, alice, keeper):
    """The infrastructure cannot be reached, so delete keeps failing: a Keeper confirms "forget it"; audited, with a
    warning of what may be left behind, and gone from the team's list."""
    resource = Resource.objects.create(
        team=team_a, owner=alice, template=templates["terraform-example"], kind="terraform", driver="terraform",
        name="stuck", state=State.FAILED, status_message="Delete failed: could not install the provider.",
        driver_state={"version": 1, "workspace": "res-stuck"},
    )  # fmt: skip
    assert "forget" not in services.allowed_actions(resource, alice)
    with pytest.raises(NotAllowed):
        services.resource_forget(resource=resource, user=alice)
    assert "forget" in services.allowed_actions(resource, keeper)
    services.resource_forget(resource=resource, user=keeper)
    resource.refresh_from_db()
    assert resource.state == State.DELETED
    assert "res-stuck" in resource.warning and "may still exist" in resource.warning
    assert not Resource.objects.visible().filter(team=team_a).exists()
    audit = AuditEvent.objects.get(action="resource.forget")
    assert audit.data["left_behind"] == {"workspace": "res-stuck"}


@pytest.mark.django_db
def test_the_loop_warns_an_owner_before_expiry_once(templates, team_a, alice, django_capture_on_commit_callbacks):
    heard = []

    def receiver(sender, resource, warning, message, at, **kwargs):
        heard.append((resource.pk, warning))

    resource_warning.connect(receiver)
    try:
        resource = Resource.objects.create(
            team=team_a, owner=alice, template=templates["postgres-database"], kind="database", driver="local",
            name="soon", state=State.READY, expires_at=timezone.now() + timedelta(hours=2),
        )  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            assert control.expiry_warn() == 1
        with django_capture_on_commit_callbacks(execute=True):
            assert control.expiry_warn() == 0  # once
        warning = Resource.objects.get(pk=resource.pk).warning
        Resource.objects.filter(pk=resource.pk).update(warning="")  # e.g. cleared by a later state change
        with django_capture_on_commit_callbacks(execute=True):
            assert control.expiry_warn() == 0  # still once
        Resource.objects.filter(pk=resource.pk).update(warning=warning)
    finally:
        resource_warning.disconnect(receiver)
    resource.refresh_from_db()
    assert "expiry date" in resource.warning
    assert heard == [(resource.pk, "expiry")]


# Queues -----------------------------------------------------------------------------------------------------------


def test_three_queues_with_routes():
    from portal.celery import app
    from portal.launcher import __doc__ as launcher_doc

    assert app.conf.task_default_queue == "control"
    route = app.amqp.router.route
    assert route({}, "provisioning.operation_run")["queue"].name == "operations"
    assert route({}, "provisioning.preview")["queue"].name == "previews"
    assert route({}, "provisioning.reconcile")["queue"].name == "control"
    assert route({}, "notifications.send")["queue"].name == "control"  # anything not routed
    assert "operations" in launcher_doc and "control" in launcher_doc


def test_make_run_starts_a_worker_for_every_queue():
    import ast

    source = (Path(settings.BASE_DIR) / "portal" / "launcher.py").read_text()
    queues = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.List):
            values = [n.value for n in node.elts if isinstance(n, ast.Constant)]
            if "--queues" in values:
                queues |= set(values[values.index("--queues") + 1].split(","))
    assert queues == {"operations", "control", "previews"}


# Local jobs and the GPU queue, with a real worker -------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.slow
def test_retry_runs_a_failed_job_again_in_the_same_folder(live_worker, templates, api, alice):
    """Exit 4 the first time, 0 the second (a flag file in its folder): ends succeeded after Retry."""
    client = api(alice)
    command = (
        "python -c \"import os, sys; seen = os.path.exists('flag'); open('flag', 'w').close(); "
        "print('second run' if seen else 'first run'); sys.exit(0 if seen else 4)\""
    )
    job = api_create(client, "training-job", "flaky", command=command)
    wait_for(job, [State.RUNNING, State.FAILED], timeout=60)
    job = _finish(job)
    assert job.state == State.FAILED and job.outputs["exit_code"] == 4
    assert client.post(f"/api/v1/resources/{job.pk}/retry/").status_code == 202
    wait_for(job, [State.RUNNING, State.SUCCEEDED, State.FAILED], timeout=60)
    job = _finish(job)
    assert job.state == State.SUCCEEDED, job.status_message
    output = client.get(f"/api/v1/resources/{job.pk}/logs/").json()["output"]
    assert "second run" in output
    client.delete(f"/api/v1/resources/{job.pk}/")
    wait_for(job, State.DELETED, timeout=60)


@pytest.mark.worker
@pytest.mark.slow
def test_the_gpu_queue_keeps_its_order_through_reconcile_and_cancel(live_worker, templates, api, alice, team_a):
    """Two GPUs in the tests: A takes both; B then C wait, in the order they joined, through many reconciles (also
    ones that ring their doorbells again); cancel A and B runs, then C."""
    team_a.max_gpus = 8
    team_a.save()
    client = api(alice)
    a = api_create(client, "training-job", "job-a", gpus=2, command="python -c 'import time; time.sleep(600)'")
    wait_for(a, State.RUNNING, timeout=60)
    b = api_create(client, "training-job", "job-b", gpus=2, command="python -c 'print(1)'")
    b = wait_for(b, State.QUEUED, timeout=60)
    c = api_create(client, "training-job", "job-c", gpus=1, command="python -c 'print(2)'")
    c = wait_for(c, State.QUEUED, timeout=60)
    assert "0 jobs ahead" in b.status_message and "1 job ahead" in c.status_message
    joined = Resource.objects.get(pk=b.pk).queued_at
    requeued = 0
    for _ in range(5):
        # As if their doorbells were lost: reconcile rings them again; the worker finds no GPU and keeps them waiting.
        Operation.objects.filter(resource__in=[b, c], state="queued").update(
            enqueued_at=timezone.now() - timedelta(hours=1)
        )
        requeued += control.reconcile()["requeued"]  # one may be on the worker right now, finding no GPU again
        deadline = time.monotonic() + 60
        while Operation.objects.filter(resource__in=[b, c], state="running").exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert requeued >= 1
    for waiting in (b, c):
        waiting = Resource.objects.get(pk=waiting.pk)
        assert waiting.state == State.QUEUED, waiting.status_message
    assert Resource.objects.get(pk=b.pk).queued_at == joined
    assert gpus.held_by(b) == [] and gpus.held_by(c) == []
    assert client.post(f"/api/v1/resources/{a.pk}/cancel/").status_code == 202
    a = wait_for(a, State.CANCELLED, timeout=60)
    assert "start" not in services.allowed_actions(a, alice) and "retry" in services.allowed_actions(a, alice)
    b = wait_for(b, [State.RUNNING, State.SUCCEEDED], timeout=60)
    assert Resource.objects.get(pk=c.pk).state == State.QUEUED  # B needs both GPUs; C waits behind it
    assert _finish(b).state == State.SUCCEEDED
    c = wait_for(c, [State.RUNNING, State.SUCCEEDED], timeout=60)
    assert _finish(c).state == State.SUCCEEDED
    for resource in (a, b, c):
        services.resource_delete(resource=resource, user=alice)
    for resource in (a, b, c):
        wait_for(resource, State.DELETED, timeout=60)


# The scheduled work runs on the beat schedule -----------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.slow
def test_the_poller_on_beat_sees_a_job_end_within_seconds(beat_process, templates, api, alice):
    """No test code polls here: beat runs provisioning.poll_running every POLL_INTERVAL_SECONDS (2 s by default)."""
    beat_process.start()
    job = api_create(api(alice), "training-job", "quick", command="python -c 'print(42)'")
    wait_for(job, State.SUCCEEDED, timeout=60)
    job = Resource.objects.get(pk=job.pk)
    result = Path(job.driver_state["result"])
    finished_at = timezone.datetime.fromtimestamp(result.stat().st_mtime, tz=timezone.get_current_timezone())
    seen_at = job.events.filter(message__contains="Finished").latest("at").at
    # Within 5 s of its end on an idle machine; generous here, as the machine may be busy.
    assert (seen_at - finished_at).total_seconds() < 20
    services.resource_delete(resource=job, user=alice)
    wait_for(job, State.DELETED, timeout=60)


@pytest.mark.worker
@pytest.mark.slow
def test_drift_is_flagged_by_the_scheduled_task(beat_process, api, alice, tmp_path):
    """A Terraform resource whose real infrastructure changes outside the portal is flagged by drift_check on beat,
    not by calling it; a template change is told apart from it."""
    from provisioning.drivers.terraform.templates import template_from_module

    probe = tmp_path / "probe"
    template_from_module(
        path=str(DRIFT_PROBE),
        slug="drift-probe",
        name="Drift probe",
        kind="terraform",
        fixed={"probe_file": str(probe)},
    )
    resource = api_create(api(alice), "drift-probe", "watched", label="one")
    resource = wait_for(resource, State.READY, timeout=120)
    assert resource.warning == ""
    probe.write_text("changed by hand")  # the infrastructure changes outside the portal
    beat_process.start(DRIFT_CHECK_INTERVAL_SECONDS="2")
    deadline = time.monotonic() + 120
    while not Resource.objects.get(pk=resource.pk).warning:
        assert time.monotonic() < deadline, "drift_check on beat never flagged the resource"
        time.sleep(0.3)
    resource.refresh_from_db()
    assert resource.warning.startswith("Drift: the real infrastructure changed"), resource.warning

    probe.unlink()  # the infrastructure is back; now the template's input changes instead
    Resource.objects.filter(pk=resource.pk).update(parameters={**resource.parameters, "label": "two"})
    deadline = time.monotonic() + 120
    while not Resource.objects.get(pk=resource.pk).warning.startswith("The template changed"):
        assert time.monotonic() < deadline, Resource.objects.get(pk=resource.pk).warning
        time.sleep(0.3)
    beat_process.stop()
    services.resource_delete(resource=resource, user=alice)
    wait_for(resource, State.DELETED, timeout=120)


@pytest.mark.django_db(transaction=True)  # the loop closes its connection after a poll
def test_a_notebook_that_dies_while_starting_is_judged_by_the_control_loop(templates, team_a, alice):
    """Apply only starts the server; the loop's poll (not a waiting worker) sees it die and says why."""
    import subprocess

    from provisioning.drivers.local import process as local_process

    notebook = Resource.objects.create(
        team=team_a, owner=alice, template=templates["jupyter-notebook"], kind="notebook", driver="local",
        name="dies", parameters={}, state=State.PROVISIONING,
    )  # fmt: skip
    root = local_process.resource_dir(notebook)
    root.mkdir(parents=True, exist_ok=True)
    (root / "notebook.log").write_text("Traceback: jupyterlab could not bind its port\n")
    ended = subprocess.Popen(["true"])
    state = {"pid": ended.pid, "create_time": time.time(), "port": 1, "started_at": time.time()}
    ended.wait()
    Resource.objects.filter(pk=notebook.pk).update(driver_state=state)
    notebook.refresh_from_db()
    assert control.follow(notebook.pk, time.time()) == "done"
    notebook.refresh_from_db()
    assert notebook.state == State.FAILED
    assert "stopped while starting" in notebook.status_message and "could not bind" in notebook.status_message


@pytest.mark.django_db(transaction=True)  # the loop closes its connection after a poll
def test_a_notebook_that_never_answers_is_followed_then_stopped(templates, team_a, alice):
    """Still starting: the loop rings for another look (nothing waits); past the start timeout it is stopped."""
    import subprocess

    import psutil

    from provisioning.drivers.local import notebook as local_notebook
    from provisioning.drivers.local import process as local_process

    notebook = Resource.objects.create(
        team=team_a, owner=alice, template=templates["jupyter-notebook"], kind="notebook", driver="local",
        name="silent", parameters={}, state=State.PROVISIONING,
    )  # fmt: skip
    silent = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        state = {"pid": silent.pid, "create_time": psutil.Process(silent.pid).create_time(),
                 "port": local_process.free_port("127.0.0.1"), "started_at": time.time()}  # fmt: skip
        notebook.driver_state, notebook.secrets = state, {"token": "t"}
        notebook.save()
        assert control.follow(notebook.pk, time.time()) == "following"
        notebook.refresh_from_db()
        assert notebook.state == State.PROVISIONING and notebook.status_message.startswith("Starting JupyterLab")
        late = time.time() - local_notebook.START_TIMEOUT_SECONDS - 5
        Resource.objects.filter(pk=notebook.pk).update(driver_state={**state, "started_at": late})
        control.follow(notebook.pk, late)
        notebook.refresh_from_db()
        assert notebook.state == State.FAILED and "did not answer within" in notebook.status_message
        assert silent.wait(timeout=60) is not None  # the loop ended it
    finally:
        silent.kill()
