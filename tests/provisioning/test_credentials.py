"""Credential rotation against the real servers: PostgreSQL refuses the old password, moto (key checking on) the
old bucket keys; the new ones work, the reveal shows them, everything is audited."""

import time
from datetime import timedelta

import boto3
import psycopg
import pytest
from botocore.exceptions import ClientError
from django.utils import timezone

from portal.models import AuditEvent
from provisioning.drivers import get_driver
from provisioning.models import CredentialPolicy, CredentialRotation, Resource, State
from tests.factories import make_resource

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _ready(template, team, owner, name, **parameters):
    """A resource made by its real driver in this process, then ready (the worker rotates it)."""
    resource = make_resource(template, team, owner, name, parameters)
    result = get_driver(resource.driver, resource.kind).apply(resource, [].append)
    resource.outputs, resource.secrets, resource.driver_state = result.outputs, result.secrets, result.state
    resource.state = State.READY
    resource.save()
    return resource


def _wait_rotated(resource, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        rotation = CredentialRotation.objects.filter(resource=resource).order_by("-created_at").first()
        if rotation and rotation.state in (CredentialRotation.State.DONE, CredentialRotation.State.FAILED):
            assert rotation.state == CredentialRotation.State.DONE, rotation.error
            return Resource.objects.get(pk=resource.pk)
        assert time.monotonic() < deadline, "the rotation did not finish"
        time.sleep(0.2)


def _s3(secrets, endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=secrets["access_key_id"],
        aws_secret_access_key=secrets["secret_access_key"],
        region_name="us-east-1",
    )


def test_database_password_rotation(live_worker, templates, team_a, alice, api):
    resource = _ready(templates["postgres-database"], team_a, alice, "results")
    old_dsn = resource.secrets["dsn"]
    with psycopg.connect(old_dsn) as conn:
        conn.execute("CREATE TABLE kept (x int)")
    client = api(alice)
    response = client.post(f"/api/v1/resources/{resource.pk}/rotate/", {"reason": "laptop stolen"}, format="json")
    assert response.status_code == 202, response.json()
    resource = _wait_rotated(resource)

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(old_dsn).close()
    new_dsn = client.post(f"/api/v1/resources/{resource.pk}/credentials/").json()["credentials"]["dsn"]
    assert new_dsn != old_dsn
    with psycopg.connect(new_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,), "the data is kept"
    assert client.get(f"/api/v1/resources/{resource.pk}/rotation/").json()["state"] == "done"
    actions = set(AuditEvent.objects.filter(target_id=str(resource.pk)).values_list("action", flat=True))
    assert {"resource.rotate_requested", "resource.rotate", "resource.reveal"} <= actions
    assert "Credentials" not in str(AuditEvent.objects.filter(action="resource.rotate").values("data"))


def test_bucket_key_rotation(live_worker, s3_settings, templates, team_a, alice, api):
    resource = _ready(templates["bucket"], team_a, alice, "data")
    old = resource.secrets
    bucket, endpoint = resource.outputs["bucket"], s3_settings["S3_ENDPOINT_URL"]
    _s3(old, endpoint).put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    assert api(alice).post(f"/api/v1/resources/{resource.pk}/rotate/").status_code == 202
    resource = _wait_rotated(resource)
    new = api(alice).post(f"/api/v1/resources/{resource.pk}/credentials/").json()["credentials"]
    assert new["access_key_id"] != old["access_key_id"]
    with pytest.raises(ClientError) as refused:
        _s3(old, endpoint).get_object(Bucket=bucket, Key="a.txt")
    assert refused.value.response["Error"]["Code"] in ("InvalidAccessKeyId", "AccessDenied")
    assert _s3(new, endpoint).get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"a"


def test_a_keeper_rotates_every_credential_of_a_team(live_worker, templates, team_a, alice, bob, keeper, api):
    one = _ready(templates["postgres-database"], team_a, alice, "one")
    two = _ready(templates["postgres-database"], team_a, alice, "two")
    assert api(alice).post("/api/v1/teams/team-a/rotate-credentials/").status_code == 403
    response = api(keeper).post("/api/v1/teams/team-a/rotate-credentials/")
    assert response.status_code == 202 and len(response.json()["rotations"]) == 2
    for resource in (one, two):
        _wait_rotated(resource)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(resource.secrets["dsn"]).close()
    assert AuditEvent.objects.filter(action="team.rotate_credentials", actor=keeper).exists()


def test_rotation_is_refused_in_plain_words_and_changes_nothing(live_worker, templates, team_a, alice, bob, api):
    resource = _ready(templates["postgres-database"], team_a, alice, "busy")
    assert api(bob).post(f"/api/v1/resources/{resource.pk}/rotate/").status_code == 404
    Resource.objects.filter(pk=resource.pk).update(state=State.STOPPED)
    response = api(alice).post(f"/api/v1/resources/{resource.pk}/rotate/")
    assert response.status_code == 409
    assert response.json()["message"] == "Credentials can be rotated when the resource is ready; it is stopped."
    assert not CredentialRotation.objects.exists()
    with psycopg.connect(resource.secrets["dsn"]) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_credentials_page_shows_ages_and_warns_past_the_keepers_limit(
    live_worker, templates, team_a, alice, keeper, client, api
):
    old = _ready(templates["postgres-database"], team_a, alice, "old-one")
    Resource.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    _ready(templates["postgres-database"], team_a, alice, "fresh")
    client.force_login(keeper)
    response = client.post("/credentials/policy/", {"max_age_days": "30"})
    assert response.status_code == 302 and CredentialPolicy.current().max_age_days == 30
    client.force_login(alice)
    page = client.get("/credentials/").content.decode()
    assert "1 credential is older than 30 days" in page
    assert "40 days" in page and "0 days" in page
    body = api(alice).get("/api/v1/credentials/").json()
    assert body["max_age_days"] == 30
    assert {(c["name"], c["too_old"]) for c in body["credentials"]} == {("old-one", True), ("fresh", False)}
