"""A Kubernetes job's results: a prefix of the results bucket (moto on loopback) that the job writes with a key for
that prefix only; the file browser and the training curves read it. kmock runs no pods, so the test plays the pod's
part: it writes the metrics with the key the job's Secret holds, as the sidecar (or the job itself) would."""

import base64

import boto3
import pytest
from botocore.exceptions import ClientError
from kubernetes import client as k8s

from provisioning.folders import files_key
from provisioning.models import State
from tests.conftest import api_create, wait_for
from tests.factories import MembershipFactory, UserFactory
from tests.provisioning.test_kubernetes import _gone, _wait_object

pytestmark = [pytest.mark.worker, pytest.mark.slow]
BUCKET = "portal-results"


@pytest.fixture
def results_worker(live_worker, kube_settings, s3_settings, settings):
    """The worker with a results bucket configured (and without it again afterwards, for the other tests)."""
    settings.KUBERNETES_RESULTS_BUCKET = BUCKET
    live_worker.stop()
    live_worker.env["KUBERNETES_RESULTS_BUCKET"] = BUCKET
    live_worker.start()
    yield live_worker
    live_worker.stop()
    live_worker.env.pop("KUBERNETES_RESULTS_BUCKET", None)
    live_worker.start()


def _secret_value(secret, name: str) -> str:
    if secret.data and name in secret.data:
        return base64.b64decode(secret.data[name]).decode()
    return secret.string_data[name]


def test_a_kubernetes_jobs_results_prefix_is_its_files_and_curves(
    results_worker, kube_api, s3_settings, templates, api, alice, client, team_b
):
    core, batch = k8s.CoreV1Api(kube_api), k8s.BatchV1Api(kube_api)
    scientist = api(alice)
    job = api_create(scientist, "training-job-k8s", "curves", profile="cpu", command="python train.py")
    name, namespace = f"job-curves-{job.pk.hex[:6]}", "team-team-a"
    made = _wait_object(batch.read_namespaced_job, name, namespace)
    job = wait_for(job, State.RUNNING, timeout=20)
    prefix = f"team-a/curves-{str(job.pk)[:8]}/"
    assert job.driver_state["results"]["prefix"] == prefix
    assert job.outputs["results"] == f"s3://{BUCKET}/{prefix}"

    # The manifest says where results go, with the key from the job's Secret, and a sidecar copies /workspace there.
    env = {e.name: e for e in made.spec.template.spec.containers[0].env}
    assert env["PORTAL_RESULTS_URI"].value == f"s3://{BUCKET}/{prefix}"
    assert env["AWS_ENDPOINT_URL"].value == s3_settings["S3_ENDPOINT_URL"]
    assert env["AWS_ACCESS_KEY_ID"].value_from.secret_key_ref.name == f"results-curves-{job.pk.hex[:6]}"
    sidecar = made.spec.template.spec.init_containers[0]
    assert sidecar.name == "results-sync" and sidecar.restart_policy == "Always"
    assert sidecar.volume_mounts[0].mount_path == "/workspace" and sidecar.volume_mounts[0].read_only
    secret = core.read_namespaced_secret(f"results-curves-{job.pk.hex[:6]}", namespace)

    # The pod's part: write metrics and a checkpoint with the job's own key, which reaches its prefix only.
    pod_s3 = boto3.client(
        "s3",
        endpoint_url=s3_settings["S3_ENDPOINT_URL"],
        aws_access_key_id=_secret_value(secret, "AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=_secret_value(secret, "AWS_SECRET_ACCESS_KEY"),
        region_name="us-east-1",
    )
    metrics = "".join(f'{{"step": {s}, "loss": {1 / s:.3f}, "accuracy": {s / 6:.3f}}}\n' for s in range(1, 6))
    pod_s3.put_object(Bucket=BUCKET, Key=prefix + "metrics.jsonl", Body=metrics.encode())
    pod_s3.put_object(Bucket=BUCKET, Key=prefix + "checkpoints/model.txt", Body=b"weights 0.961\n")
    with pytest.raises(ClientError) as refused:
        pod_s3.put_object(Bucket=BUCKET, Key="team-b/other-job/metrics.jsonl", Body=b"{}")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"

    key = files_key(job)
    assert key == f"resource-{job.pk}"
    listing = scientist.get(f"/api/v1/files/{key}/").json()
    assert sorted((e["name"], e["is_dir"]) for e in listing["entries"]) == [
        ("checkpoints", True),
        ("metrics.jsonl", False),
    ]
    inner = scientist.get(f"/api/v1/files/{key}/", {"path": "checkpoints"}).json()["entries"]
    assert [(e["name"], e["path"], e["size"]) for e in inner] == [("model.txt", "checkpoints/model.txt", 14)]
    download = scientist.get(f"/api/v1/files/{key}/download/", {"path": "checkpoints/model.txt"})
    assert download.status_code == 302  # a short-lived presigned address on the storage server
    assert f"/{BUCKET}/{prefix}checkpoints/model.txt" in download["Location"]
    for path in ("../", "../team-b/x", "/etc/passwd", "checkpoints/../../x"):
        answer = scientist.get(f"/api/v1/files/{key}/download/", {"path": path})
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_path", path

    # It is one of the team's roots, in the API and on the file browser's first page.
    assert key in {root["key"] for root in scientist.get("/api/v1/files/").json()}
    client.force_login(alice)
    page = client.get(f"/resources/{job.pk}/").content.decode()
    assert f"/files/{key}/" in client.get("/files/").content.decode()
    assert f"/files/{key}/" in page and "Training curves" in page
    assert "Open its files" in page and "For the terminal" in page  # the s3:// address only under "For the terminal"
    curves = client.get(f"/files/curves/{job.pk}/").content.decode()
    assert "<svg" in curves and "loss" in curves and "accuracy" in curves

    bob = MembershipFactory(user=UserFactory(username="bob-k8s"), team=team_b).user
    assert api(bob).get(f"/api/v1/files/{key}/").status_code == 404
    assert api(bob).get(f"/api/v1/files/{key}/download/", {"path": "metrics.jsonl"}).status_code == 404
    client.force_login(bob)
    assert client.get(f"/files/{key}/").status_code == 404
    assert client.get(f"/files/curves/{job.pk}/").status_code == 404

    # Deleting the job removes its results and its key.
    scientist.delete(f"/api/v1/resources/{job.pk}/")
    wait_for(job, State.DELETED, timeout=30)
    admin_s3 = boto3.client(
        "s3",
        endpoint_url=s3_settings["S3_ENDPOINT_URL"],
        aws_access_key_id=s3_settings["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=s3_settings["S3_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    assert admin_s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("KeyCount") == 0
    assert _gone(core.read_namespaced_secret, f"results-curves-{job.pk.hex[:6]}", namespace)
