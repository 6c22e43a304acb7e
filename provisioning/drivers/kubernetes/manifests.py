"""Pure builders of the Kubernetes objects of notebooks and training jobs (no I/O; tests compare whole dicts).

Profiles are defined by Keepers on the template (`config.profiles`): image, CPU and memory requests/limits, GPUs,
node selector, tolerations. Names are derived from the resource and checked as DNS labels; what a scientist typed
reaches a manifest only through validated parameters.
"""

from __future__ import annotations

import re
import shlex

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
MANAGED_BY = "research-portal"
NOTEBOOK_PORT = 8888
SHM_PATH = "/dev/shm"  # noqa: S108 (a mount path inside the container: shared memory for data loaders)


class ManifestError(ValueError):
    pass


def dns_label(value: str) -> str:
    if not DNS_LABEL.match(value):
        raise ManifestError(f"{value!r} is not a valid Kubernetes name (DNS label)")
    return value


def namespace_for(team_slug: str) -> str:
    return dns_label(f"team-{team_slug}"[:63].rstrip("-"))


def object_name(resource, prefix: str) -> str:
    """<prefix>-<name>-<6 hex of the id>, at most 63 characters."""
    suffix = resource.id.hex[:6]
    room = 63 - len(prefix) - len(suffix) - 2
    return dns_label(f"{prefix}-{resource.name[:room].rstrip('-')}-{suffix}")


def labels_for(resource, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/name": component,
        "portal.research/resource": str(resource.id),
        "portal.research/team": resource.team.slug,
    }


def namespace_manifest(team_slug: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": namespace_for(team_slug),
            "labels": {"app.kubernetes.io/managed-by": MANAGED_BY, "portal.research/team": team_slug},
        },
    }


def _resources(profile: dict) -> dict:
    requests = {"cpu": str(profile.get("cpu", "1")), "memory": str(profile.get("memory", "4Gi"))}
    limits = {
        "cpu": str(profile.get("cpu_limit", profile.get("cpu", "1"))),
        "memory": str(profile.get("memory_limit", profile.get("memory", "4Gi"))),
    }
    gpus = int(profile.get("gpus", 0))
    if gpus:
        limits["nvidia.com/gpu"] = str(gpus)
        requests["nvidia.com/gpu"] = str(gpus)
    return {"requests": requests, "limits": limits}


def _pod_placement(profile: dict) -> dict:
    spec = {}
    if profile.get("node_selector"):
        spec["nodeSelector"] = {str(k): str(v) for k, v in profile["node_selector"].items()}
    if profile.get("tolerations"):
        spec["tolerations"] = [dict(t) for t in profile["tolerations"]]
    return spec


SECURITY_CONTEXT = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "runAsGroup": 100,
    "fsGroup": 100,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def notebook_manifests(resource, profile: dict, *, ingress_host: str = "", ingress_class: str = "") -> list[dict]:
    """Secret (token), PVC (the work folder), StatefulSet (1 replica), Service, and an Ingress when a host is set."""
    namespace = namespace_for(resource.team.slug)
    name = object_name(resource, "nb")
    labels = labels_for(resource, "notebook")
    storage = f"{int(resource.parameters.get('storage_gb') or 10)}Gi"
    base_url = f"/notebooks/{name}/"
    container = {
        "name": "notebook",
        "image": profile["image"],
        "args": [
            "start-notebook.py",
            f"--ServerApp.base_url={base_url}",
            f"--ServerApp.port={NOTEBOOK_PORT}",
            "--ServerApp.ip=0.0.0.0",
        ],
        "ports": [{"name": "http", "containerPort": NOTEBOOK_PORT}],
        "env": [{"name": "JUPYTER_TOKEN", "valueFrom": {"secretKeyRef": {"name": name, "key": "token"}}}],
        "resources": _resources(profile),
        "volumeMounts": [{"name": "work", "mountPath": "/home/jovyan/work"}, {"name": "dshm", "mountPath": SHM_PATH}],
        "readinessProbe": {"tcpSocket": {"port": NOTEBOOK_PORT}, "periodSeconds": 5},
        "securityContext": SECURITY_CONTEXT,
    }
    pod_spec = {
        "securityContext": POD_SECURITY,
        "containers": [container],
        "volumes": [
            {"name": "work", "persistentVolumeClaim": {"claimName": name}},
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": profile.get("shm", "1Gi")}},
        ],
        **_pod_placement(profile),
    }
    manifests = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "type": "Opaque",
            "stringData": {"token": "<set by the driver>"},
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 1,
                "serviceName": name,
                "selector": {"matchLabels": {"portal.research/resource": str(resource.id)}},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "selector": {"portal.research/resource": str(resource.id)},
                "ports": [{"name": "http", "port": 80, "targetPort": NOTEBOOK_PORT}],
            },
        },
    ]
    if ingress_host:
        ingress = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "rules": [
                    {
                        "host": ingress_host,
                        "http": {
                            "paths": [
                                {
                                    "path": base_url,
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": name, "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        }
        if ingress_class:
            ingress["spec"]["ingressClassName"] = ingress_class
        manifests.append(ingress)
    return manifests


def job_manifest(resource, profile: dict, *, queue: str = "", ttl_seconds: int = 7 * 24 * 3600) -> dict:
    """A batch/v1 Job: the command, env, GPUs, placement, /dev/shm in memory, deadline, no retries, cleanup TTL."""
    namespace = namespace_for(resource.team.slug)
    name = object_name(resource, "job")
    labels = labels_for(resource, "training-job")
    if queue:
        labels["kueue.x-k8s.io/queue-name"] = dns_label(queue)
    command = resource.parameters.get("command") or ""
    argv = command if isinstance(command, list) else shlex.split(command)
    if not argv:
        raise ManifestError("the job has no command")
    env = [{"name": str(k), "value": str(v)} for k, v in sorted((resource.parameters.get("env") or {}).items())]
    shm = f"{int(resource.parameters.get('shm_gb') or 1)}Gi"
    container = {
        "name": "job",
        "image": profile["image"],
        "command": argv,
        "env": env,
        "resources": _resources(profile),
        "workingDir": "/workspace",
        "volumeMounts": [{"name": "dshm", "mountPath": SHM_PATH}, {"name": "workspace", "mountPath": "/workspace"}],
        "securityContext": SECURITY_CONTEXT,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "backoffLimit": int(profile.get("backoff_limit", 0)),
            "activeDeadlineSeconds": int(float(resource.parameters.get("max_runtime_minutes") or 60) * 60),
            "ttlSecondsAfterFinished": ttl_seconds,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": POD_SECURITY,
                    "containers": [container],
                    "volumes": [
                        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm}},
                        {"name": "workspace", "emptyDir": {}},
                    ],
                    **_pod_placement(profile),
                },
            },
        },
    }
