"""The Kubernetes job's results (issue 15): the Secret, the env and the native sidecar, valid Kubernetes 1.33."""

import kubernetes_validate

from provisioning.drivers.kubernetes import results
from provisioning.drivers.kubernetes.manifests import job_manifest, results_secret_manifest
from tests.provisioning.drivers.test_kube_manifests import KUBERNETES, PROFILES, _resource

RESULTS = {
    "bucket": "portal-results",
    "prefix": "team-a/thesis-12345678/",
    "endpoint": "https://s3.example.org",
    "region": "eu-west-1",
    "image": "amazon/aws-cli:2.22.35",
    "seconds": 30,
}
KEY_REFS = [
    {"name": name, "valueFrom": {"secretKeyRef": {"name": "results-thesis-123456", "key": name}}}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
]
WHERE = [
    {"name": "PORTAL_RESULTS_URI", "value": "s3://portal-results/team-a/thesis-12345678/"},
    {"name": "AWS_DEFAULT_REGION", "value": "eu-west-1"},
    {"name": "AWS_ENDPOINT_URL", "value": "https://s3.example.org"},
    *KEY_REFS,
]


def test_the_results_secret_env_and_sidecar_are_valid_and_whole():
    job = _resource("training_job", command="python train.py", env={"A": "1"})
    manifest = job_manifest(job, PROFILES["cpu"], results=RESULTS, sync_script=results.SYNC_SCRIPT)
    secret = results_secret_manifest(job, {"access_key_id": "AK", "secret_access_key": "SK"})
    for obj in (manifest, secret):
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    pod = manifest["spec"]["template"]["spec"]
    assert pod["containers"][0]["env"] == [{"name": "A", "value": "1"}, *WHERE]
    assert pod["initContainers"] == [
        {
            "name": "results-sync",
            "image": "amazon/aws-cli:2.22.35",
            "restartPolicy": "Always",  # a native sidecar: it runs beside the job and is stopped when the job ends
            "command": ["/bin/sh", "-c", results.SYNC_SCRIPT],
            "env": [
                *WHERE,
                {"name": "PORTAL_RESULTS_SYNC_SECONDS", "value": "30"},
                {"name": "PORTAL_WORKSPACE", "value": "/workspace"},
            ],
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
            "volumeMounts": [{"name": "workspace", "mountPath": "/workspace", "readOnly": True}],
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }
    ]
    assert secret["metadata"]["name"] == "results-thesis-123456" and secret["metadata"]["namespace"] == "team-team-a"
    assert secret["stringData"] == {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"}


def test_without_a_results_bucket_the_job_is_unchanged():
    job = _resource("training_job", command="python train.py")
    assert "initContainers" not in job_manifest(job, PROFILES["cpu"])["spec"]["template"]["spec"]


def test_the_key_may_touch_its_own_prefix_only():
    policy = results.prefix_policy("portal-results", "team-a/job-1/")
    objects = next(s for s in policy["Statement"] if "s3:PutObject" in s["Action"])
    assert objects["Resource"] == "arn:aws:s3:::portal-results/team-a/job-1/*"
    listing = next(s for s in policy["Statement"] if s["Action"] == ["s3:ListBucket"])
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["team-a/job-1/*"]}}
