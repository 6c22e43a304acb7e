"""The bucket driver against a real S3 + IAM API on loopback (moto's server, with key checking on)."""

from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from provisioning.drivers import get_driver
from tests.factories import make_resource

pytestmark = pytest.mark.django_db


def _resource(templates, team, owner, name="data", **parameters):
    return make_resource(templates["bucket"], team, owner, name, parameters)


def _apply(resource):
    result = get_driver("s3", "bucket").apply(resource, [].append)
    resource.outputs, resource.secrets, resource.driver_state = result.outputs, result.secrets, result.state
    resource.save()
    return result


def _client_with(result, endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=result.secrets["access_key_id"],
        aws_secret_access_key=result.secrets["secret_access_key"],
        region_name="us-east-1",
    )


def test_bucket_with_its_own_key(s3_settings, templates, team_a, alice):
    result = _apply(_resource(templates, team_a, alice, versioning=True))
    assert result.outputs["bucket"].startswith("team-a-data-")
    assert result.outputs["endpoint"] == s3_settings["S3_ENDPOINT_URL"]
    s3 = _client_with(result, s3_settings["S3_ENDPOINT_URL"])
    s3.put_object(Bucket=result.outputs["bucket"], Key="results/run1.csv", Body=b"a,b\n1,2\n")
    body = s3.get_object(Bucket=result.outputs["bucket"], Key="results/run1.csv")["Body"].read()
    assert body == b"a,b\n1,2\n"


def test_keys_of_one_bucket_cannot_reach_another(s3_settings, templates, team_a, alice):
    one = _apply(_resource(templates, team_a, alice, name="one"))
    two = _apply(_resource(templates, team_a, alice, name="two"))
    s3 = _client_with(one, s3_settings["S3_ENDPOINT_URL"])
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=two.outputs["bucket"], Key="x", Body=b"x")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        s3.list_objects_v2(Bucket=two.outputs["bucket"])


def test_apply_twice_keeps_the_key(s3_settings, templates, team_a, alice):
    resource = _resource(templates, team_a, alice)
    first = _apply(resource)
    second = _apply(resource)
    assert first.secrets == second.secrets


def test_destroy_empties_and_removes_and_is_idempotent(s3_settings, templates, team_a, alice):
    resource = _resource(templates, team_a, alice, versioning=True)
    result = _apply(resource)
    s3 = _client_with(result, s3_settings["S3_ENDPOINT_URL"])
    for i in range(3):
        s3.put_object(Bucket=result.outputs["bucket"], Key=f"k{i}", Body=b"v1")
        s3.put_object(Bucket=result.outputs["bucket"], Key=f"k{i}", Body=b"v2")
    driver = get_driver("s3", "bucket")
    assert driver.poll(resource).state == "ready"
    driver.destroy(resource, [].append)
    admin = boto3.client(
        "s3",
        endpoint_url=s3_settings["S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=s3_settings["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=s3_settings["S3_SECRET_ACCESS_KEY"],
    )
    assert result.outputs["bucket"] not in [b["Name"] for b in admin.list_buckets()["Buckets"]]
    assert driver.poll(resource).state == "missing"
    driver.destroy(resource, [].append)


def test_folder_bucket_when_no_endpoint(settings, templates, team_a, alice, tmp_path):
    settings.S3_ENDPOINT_URL = ""
    settings.DATA_DIR = tmp_path
    resource = _resource(templates, team_a, alice)
    result = _apply(resource)
    path = Path(result.outputs["path"])
    assert path.is_dir() and path.parent == tmp_path / "buckets"
    assert result.secrets == {}
    (path / "file.txt").write_text("kept")
    _apply(resource)
    assert (path / "file.txt").read_text() == "kept"
    get_driver("s3", "bucket").destroy(resource, [].append)
    assert not path.exists()
