"""The Kubernetes builders, compared whole and validated against the real Kubernetes 1.33 schemas (offline)."""

import uuid
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from portal.models import Team
from provisioning.drivers.kubernetes.manifests import (
    ManifestError,
    job_manifest,
    namespace_manifest,
    notebook_manifests,
)
from provisioning.models import Resource

PROFILES = yaml.safe_load((Path(__file__).resolve().parents[3] / "provisioning" / "kube_profiles.yaml").read_text())
KUBERNETES = "1.33"
RID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def _resource(kind="notebook", **parameters):
    return Resource(id=RID, team=Team(slug="team-a", name="Team A"), kind=kind, name="thesis", parameters=parameters)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_manifest_of_every_profile_is_valid_kubernetes(profile):
    manifests = [
        namespace_manifest("team-a"),
        *notebook_manifests(
            _resource(storage_gb=20), PROFILES[profile], ingress_host="portal.example.org", ingress_class="nginx"
        ),
        job_manifest(
            _resource(
                "training_job", command="python train.py --epochs 3", env={"A": "1"}, max_runtime_minutes=90, shm_gb=8
            ),
            PROFILES[profile],
            queue="team-a",
        ),
    ]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


LABELS = {
    "app.kubernetes.io/managed-by": "research-portal",
    "portal.research/resource": str(RID),
    "portal.research/team": "team-a",
}
SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "runAsGroup": 100,
    "fsGroup": 100,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def test_cpu_job_whole():
    job = job_manifest(
        _resource(
            "training_job", command="python train.py --lr '0.1'", env={"B": "2", "A": "1"}, max_runtime_minutes=30
        ),
        PROFILES["cpu"],
    )
    labels = {**LABELS, "app.kubernetes.io/name": "training-job"}
    assert job == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "job-thesis-123456", "namespace": "team-team-a", "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 1800,
            "ttlSecondsAfterFinished": 604800,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": POD_SECURITY,
                    "containers": [
                        {
                            "name": "job",
                            "image": "quay.io/jupyter/scipy-notebook:2025-10-20",
                            "command": ["python", "train.py", "--lr", "0.1"],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "resources": {
                                "requests": {"cpu": "2", "memory": "8Gi"},
                                "limits": {"cpu": "2", "memory": "8Gi"},
                            },
                            "workingDir": "/workspace",
                            "volumeMounts": [
                                {"name": "dshm", "mountPath": "/dev/shm"},
                                {"name": "workspace", "mountPath": "/workspace"},
                            ],
                            "securityContext": SECURITY,
                        }
                    ],
                    "volumes": [
                        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
                        {"name": "workspace", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def test_gpu_job_whole():
    job = job_manifest(
        _resource(
            "training_job", command=["torchrun", "--nproc-per-node=1", "train.py"], max_runtime_minutes=600, shm_gb=16
        ),
        PROFILES["gpu-1"],
        queue="gpu-queue",
    )
    labels = {**LABELS, "app.kubernetes.io/name": "training-job", "kueue.x-k8s.io/queue-name": "gpu-queue"}
    assert job == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "job-thesis-123456", "namespace": "team-team-a", "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 36000,
            "ttlSecondsAfterFinished": 604800,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": POD_SECURITY,
                    "containers": [
                        {
                            "name": "job",
                            "image": "quay.io/jupyter/pytorch-notebook:cuda12-2025-10-20",
                            "command": ["torchrun", "--nproc-per-node=1", "train.py"],
                            "env": [],
                            "resources": {
                                "requests": {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "1"},
                                "limits": {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "1"},
                            },
                            "workingDir": "/workspace",
                            "volumeMounts": [
                                {"name": "dshm", "mountPath": "/dev/shm"},
                                {"name": "workspace", "mountPath": "/workspace"},
                            ],
                            "securityContext": SECURITY,
                        }
                    ],
                    "volumes": [
                        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}},
                        {"name": "workspace", "emptyDir": {}},
                    ],
                    "nodeSelector": {"nvidia.com/gpu.present": "true"},
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                },
            },
        },
    }


def test_gpu_notebook_objects():
    secret, pvc, statefulset, service, ingress = notebook_manifests(
        _resource(storage_gb=50), PROFILES["gpu-1"], ingress_host="portal.example.org"
    )
    assert [m["kind"] for m in (secret, pvc, statefulset, service, ingress)] == [
        "Secret",
        "PersistentVolumeClaim",
        "StatefulSet",
        "Service",
        "Ingress",
    ]
    assert {m["metadata"]["name"] for m in (secret, pvc, statefulset, service, ingress)} == {"nb-thesis-123456"}
    assert all(m["metadata"]["labels"]["portal.research/resource"] == str(RID) for m in (pvc, statefulset, service))
    assert pvc["spec"]["resources"]["requests"]["storage"] == "50Gi"
    pod = statefulset["spec"]["template"]["spec"]
    assert statefulset["spec"]["replicas"] == 1
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "nb-thesis-123456", "key": "token"}
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/notebooks/nb-thesis-123456/"
    assert len(notebook_manifests(_resource(), PROFILES["cpu"])) == 4  # no Ingress without a host


@pytest.mark.parametrize("name", ["UPPER", "a_b", "x" * 70, "-lead"])
def test_names_that_are_not_dns_labels_are_refused(name):
    from provisioning.drivers.kubernetes.manifests import dns_label

    with pytest.raises(ManifestError):
        dns_label(name)


def test_a_job_without_a_command_is_refused():
    with pytest.raises(ManifestError):
        job_manifest(_resource("training_job", command=""), PROFILES["cpu"])
