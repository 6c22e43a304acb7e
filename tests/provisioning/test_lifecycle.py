"""Requests through the API and the web form, made real by a real Celery worker process."""

import re
import time
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.utils import timezone

from portal.models import AuditEvent
from provisioning import control, services
from provisioning.models import Operation, Resource, State
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker]


def _db_exists(name):
    with psycopg.connect(settings.PROVISIONING_POSTGRES_URL) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone())


def test_database_through_the_api(live_worker, templates, api, alice, bob, keeper):
    client = api(alice)
    started = time.monotonic()
    response = client.post(
        "/api/v1/resources/",
        {"template": "postgres-database", "name": "results", "parameters": {"storage_gb": 2}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    resource = wait_for(Resource(pk=response.json()["id"]), State.READY, timeout=15)
    elapsed = time.monotonic() - started
    assert elapsed < 15

    listed = client.get("/api/v1/resources/").json()["results"]
    assert [r["name"] for r in listed] == ["results"]
    assert "password" not in str(listed) and "dsn" not in str(listed)
    assert listed[0]["outputs"]["database"] == resource.outputs["database"]

    credentials = client.post(f"/api/v1/resources/{resource.pk}/credentials/")
    assert credentials.status_code == 200
    assert credentials["Cache-Control"] == "no-store"
    dsn = credentials.json()["credentials"]["dsn"]
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE t (x int)")
    assert AuditEvent.objects.filter(action="resource.reveal", actor=alice).count() == 1

    other = api(bob)
    assert other.get(f"/api/v1/resources/{resource.pk}/").status_code == 404
    assert other.post(f"/api/v1/resources/{resource.pk}/credentials/").status_code == 404
    assert other.delete(f"/api/v1/resources/{resource.pk}/").status_code == 404
    assert other.get("/api/v1/resources/").json()["results"] == []
    assert api(keeper).get(f"/api/v1/resources/{resource.pk}/").status_code == 200

    detail = client.get(f"/api/v1/resources/{resource.pk}/").json()
    assert detail["state"] == "ready"
    assert "delete" in detail["actions"]
    assert [op["action"] for op in detail["operations"]] == ["create"]
    logs = client.get(f"/api/v1/resources/{resource.pk}/logs/").json()
    assert "Created the database" in logs["log"]
    assert resource.secrets["password"] not in logs["log"]

    assert client.delete(f"/api/v1/resources/{resource.pk}/").status_code == 202
    resource = wait_for(resource, State.DELETED, timeout=15)
    assert not _db_exists(resource.driver_state["database"])
    assert client.post(f"/api/v1/resources/{resource.pk}/credentials/").status_code == 404


def test_database_through_the_web_form(live_worker, templates, signed_in, alice, bob):
    client = signed_in(alice)
    page = client.get("/resources/new/postgres-database/")
    assert page.status_code == 200
    assert "Expected size (GB)" in page.content.decode()
    response = client.post(
        "/resources/new/postgres-database/", {"name": "web-db", "storage_gb": "3", "connection_limit": "10"}
    )
    assert response.status_code == 302
    resource = Resource.objects.get(name="web-db")
    assert response["Location"] == f"/resources/{resource.pk}/"
    resource = wait_for(resource, State.READY, timeout=15)
    detail = client.get(f"/resources/{resource.pk}/").content.decode()
    assert "Ready" in detail and resource.outputs["database"] in detail
    assert resource.secrets["password"] not in detail
    revealed = client.post(f"/resources/{resource.pk}/reveal/").content.decode()
    assert resource.secrets["dsn"] in revealed
    assert signed_in(bob).get(f"/resources/{resource.pk}/").status_code == 404
    assert signed_in(bob).post(f"/resources/{resource.pk}/reveal/").status_code == 404
    client = signed_in(alice)
    client.post(f"/resources/{resource.pk}/delete/")
    wait_for(resource, State.DELETED, timeout=15)


def test_bucket_through_the_api(live_worker, templates, api, alice, s3_server):
    import boto3

    client = api(alice)
    one = client.post("/api/v1/resources/", {"template": "bucket", "name": "raw-data"}, format="json").json()
    two = client.post("/api/v1/resources/", {"template": "bucket", "name": "other-data"}, format="json").json()
    one = wait_for(Resource(pk=one["id"]), State.READY)
    two = wait_for(Resource(pk=two["id"]), State.READY)
    keys = client.post(f"/api/v1/resources/{one.pk}/credentials/").json()["credentials"]
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server["S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=keys["access_key_id"],
        aws_secret_access_key=keys["secret_access_key"],
    )
    s3.put_object(Bucket=one.outputs["bucket"], Key="hello.txt", Body=b"hello")
    assert s3.get_object(Bucket=one.outputs["bucket"], Key="hello.txt")["Body"].read() == b"hello"
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        s3.get_object(Bucket=two.outputs["bucket"], Key="anything")
    client.delete(f"/api/v1/resources/{one.pk}/")
    wait_for(one, State.DELETED)


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"template": "no-such", "name": "x1"}, "template", "no template 'no-such'"),
        ({"template": "postgres-database", "name": "Bad_Name"}, "name", "lowercase letters"),
        (
            {"template": "postgres-database", "name": "db1", "parameters": {"storage_gb": 9999}},
            "storage_gb",
            "at most 500",
        ),
        ({"template": "postgres-database", "name": "db1", "parameters": {"x": 1}}, "x", "Unknown parameter x"),
        ({"template": "postgres-database", "name": "db1", "parameters": "big"}, "parameters", "object"),
        ({"name": "db1"}, "template", "required"),
    ],
)
def test_bad_api_input_is_a_clear_400_and_nothing_is_left(templates, api, alice, body, field, words, db):
    response = api(alice).post("/api/v1/resources/", body, format="json")
    assert response.status_code == 400, response.json()
    payload = response.json()
    assert field in payload["fields"]
    assert words in (payload["message"] + str(payload["fields"]))
    assert Resource.objects.count() == 0 and Operation.objects.count() == 0


def test_over_quota_and_duplicate_over_the_api(templates, api, alice, team_a, db):
    team_a.max_databases = 1
    team_a.save()
    client = api(alice)
    assert (
        client.post("/api/v1/resources/", {"template": "postgres-database", "name": "db1"}, format="json").status_code
        == 201
    )
    duplicate = client.post("/api/v1/resources/", {"template": "postgres-database", "name": "db1"}, format="json")
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "duplicate_name"
    over = client.post("/api/v1/resources/", {"template": "postgres-database", "name": "db2"}, format="json")
    assert over.status_code == 409 and over.json()["error"] == "over_quota"
    assert "may use 1 databases" in over.json()["message"]
    assert Resource.objects.count() == 1


def test_over_quota_on_the_form_is_shown_next_to_it(templates, signed_in, alice, team_a, db):
    team_a.max_databases = 0
    team_a.save()
    page = signed_in(alice).post(
        "/resources/new/postgres-database/", {"name": "db1", "storage_gb": "1", "connection_limit": "5"}
    )
    assert page.status_code == 200
    assert "over your team&#x27;s quota" in page.content.decode()
    assert Resource.objects.count() == 0


def test_bad_form_input_is_shown_next_to_the_field(templates, signed_in, alice, db):
    page = signed_in(alice).post(
        "/resources/new/postgres-database/", {"name": "Bad Name", "storage_gb": "0", "connection_limit": "5"}
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert re.search(r"has-error.*name", html, re.S)
    assert "lowercase letters" in html
    assert Resource.objects.count() == 0


def test_same_idempotency_key_twice_makes_one_resource(templates, api, alice, db):
    client = api(alice)
    body = {"template": "bucket", "name": "once"}
    first = client.post("/api/v1/resources/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc-123")
    second = client.post("/api/v1/resources/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc-123")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert Resource.objects.count() == 1
    # The key with a different request (found by the outside fuzz run: it answered the first resource, 200)
    for other in (
        {"template": "postgres-database", "name": "once"},
        {"template": "bucket", "name": "twice"},
        {"template": "bucket", "name": "once", "parameters": {"storage_gb": 7}},
    ):
        response = client.post("/api/v1/resources/", other, format="json", HTTP_IDEMPOTENCY_KEY="abc-123")
        assert response.status_code == 409 and "already used for a different request" in response.json()["message"]
    same = client.post(
        "/api/v1/resources/", {**body, "parameters": {"storage_gb": 50}}, format="json", HTTP_IDEMPOTENCY_KEY="abc-123"
    )
    assert same.status_code == 200  # the value it has: the same request
    assert Resource.objects.count() == 1


def test_same_form_submitted_twice_makes_one_resource(templates, signed_in, alice, db):
    client = signed_in(alice)
    data = {"name": "twice", "storage_gb": "1", "connection_limit": "5", "idempotency_key": "form-key-1"}
    first = client.post("/resources/new/postgres-database/", data)
    second = client.post("/resources/new/postgres-database/", data)
    assert first["Location"] == second["Location"]
    assert Resource.objects.count() == 1


def test_a_killed_worker_is_recovered_by_reconcile(live_worker, templates, team_a, alice, settings):
    """SIGKILL the worker while it creates a database; a new worker plus reconcile finish it, once."""
    from provisioning.drivers.names import physical_name
    from provisioning.drivers.postgres.driver import LOCK_NAMESPACE

    resource = services.resource_request(
        template=templates["postgres-database"], team=team_a, owner=alice, name="crashy", parameters={}
    )
    name = physical_name(resource)
    # Hold the driver's per-database lock so the apply is caught half-way, inside the worker.
    blocker = psycopg.connect(settings.PROVISIONING_POSTGRES_URL, autocommit=True)
    blocker.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, name])
    try:
        operation = resource.operations.get()
        deadline = time.monotonic() + 120
        while Operation.objects.get(pk=operation.pk).state != "running":
            assert time.monotonic() < deadline, "the worker never started the operation"
            time.sleep(0.05)
        live_worker.kill()
    finally:
        blocker.close()
    assert Operation.objects.get(pk=operation.pk).state == "running"  # left behind by the dead worker
    live_worker.start()
    # Not taken over while its heartbeat is fresh, then taken over once it is stale: both judged by the heartbeat's
    # age, never by how fast this machine is (starting a worker may take long on a busy machine).
    # The age is read before reconcile looks (a take-over makes the heartbeat fresh again), with a margin for the time
    # reconcile takes to look on a busy machine.
    timeout = timedelta(seconds=settings.OPERATION_HEARTBEAT_TIMEOUT_SECONDS)
    age = timezone.now() - Operation.objects.get(pk=operation.pk).heartbeat_at
    report = control.reconcile()
    if age < timeout / 2:
        assert report["taken_over"] == 0  # its heartbeat was still fresh when reconcile looked
    taken_over = report["taken_over"]
    deadline = time.monotonic() + settings.OPERATION_HEARTBEAT_TIMEOUT_SECONDS + 120
    while not taken_over:
        assert time.monotonic() < deadline, "reconcile never took the dead worker's operation over"
        time.sleep(0.2)
        taken_over = control.reconcile()["taken_over"]
    assert taken_over == 1
    resource = wait_for(resource, State.READY, timeout=120)
    operation.refresh_from_db()
    assert operation.state == "succeeded" and operation.attempt == 2
    assert "takes over" in operation.log
    with psycopg.connect(settings.PROVISIONING_POSTGRES_URL) as conn:
        count = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s", ["team_a_crashy_%"]).fetchone()
    assert count == (1,)
    services.resource_delete(resource=resource, user=alice)
    wait_for(resource, State.DELETED)


def test_failure_leaves_a_retryable_state(live_worker, templates, team_a, alice, settings):
    """A failed create says why in words; retry works once the cause is gone, and delete works too."""
    resource = services.resource_request(
        template=templates["postgres-database"], team=team_a, owner=alice, name="flaky", parameters={}
    )
    resource = wait_for(resource, State.READY)
    from provisioning.drivers import get_driver

    get_driver("local", "database").destroy(resource, [].append)  # someone dropped it behind our back
    control.reconcile()
    resource = wait_for(resource, State.FAILED)
    assert "no longer exists" in resource.status_message
    assert "retry" in services.allowed_actions(resource, alice)
    # retry re-runs the last action (create): the database comes back
    Operation.objects.filter(resource=resource).update(action="create")
    services.resource_retry(resource=resource, user=alice)
    resource = wait_for(resource, State.READY)
    services.resource_delete(resource=resource, user=alice)
    wait_for(resource, State.DELETED)


@pytest.mark.django_db
def test_a_delete_after_a_stop_whose_worker_died_supersedes_it(templates, team_a, alice, settings):
    """Found by the outside fuzz run: a stop claimed by a worker that then died, and a delete asked for meanwhile.
    The take-over set the deleting resource to 'stopping', which the transition table refuses: the operation
    raised, stayed running, and reconcile took it over again and again, with the delete waiting behind it forever.
    Now the delete supersedes it: the stop is cancelled, the delete runs, the resource is gone."""
    from provisioning import engine
    from provisioning.models import OperationState
    from tests.factories import make_resource

    notebook = make_resource(templates["jupyter-notebook"], team_a, alice, name="nb", state="ready")
    services.resource_stop(resource=notebook, user=alice)
    stop = Operation.objects.get(resource=notebook, action="stop")
    assert engine.claim(stop.pk, "worker-that-dies") != "busy"  # claimed; then its worker dies
    services.resource_delete(resource=Resource.objects.get(pk=notebook.pk), user=alice)
    assert Resource.objects.get(pk=notebook.pk).state == State.DELETING
    stale = timezone.now() - timedelta(seconds=settings.OPERATION_HEARTBEAT_TIMEOUT_SECONDS + 60)
    Operation.objects.filter(pk=stop.pk).update(heartbeat_at=stale)

    assert engine.operation_execute(operation_id=stop.pk, worker="other") == "superseded"
    stop.refresh_from_db()
    assert stop.state == OperationState.CANCELLED and "being deleted" in stop.error
    assert Resource.objects.get(pk=notebook.pk).state == State.DELETING  # the delete's, untouched
    delete = Operation.objects.get(resource=notebook, action="delete")
    assert engine.operation_execute(operation_id=delete.pk, worker="other") == "succeeded"
    assert Resource.objects.get(pk=notebook.pk).state == State.DELETED
