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


DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def dns_subdomain(value: str) -> str:
    if not DNS_SUBDOMAIN.match(value):
        raise ManifestError(f"{value!r} is not a valid Kubernetes object name")
    return value


def namespace_for(team_slug: str) -> str:
    return dns_label(f"team-{team_slug}"[:63].rstrip("-"))


def object_name(resource, prefix: str) -> str:
    """<prefix>-<name>-<6 hex of the id>, at most 63 characters."""
    suffix = resource.id.hex[:6]
    room = 63 - len(prefix) - len(suffix) - 2
    return dns_label(f"{prefix}-{resource.name[:room].rstrip('-')}-{suffix}")


def notebook_host(resource, ingress_host: str, *, per_notebook: bool = False) -> str:
    """The host name of a notebook behind the Ingress: the shared one, or `<notebook>.<host>` so that every notebook
    is an origin of its own (a notebook's page then cannot read another notebook's API with the visitor's cookies;
    needs wildcard DNS and a wildcard certificate)."""
    if not ingress_host or not per_notebook:
        return ingress_host
    return dns_subdomain(f"{object_name(resource, 'nb')}.{ingress_host.lower()}")


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


def notebook_manifests(
    resource, profile: dict, *, ingress_host: str = "", ingress_class: str = "", tls_secret: str = ""
) -> list[dict]:
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
        "automountServiceAccountToken": False,  # a scientist's code never holds a credential for the cluster's API
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
        if tls_secret:
            ingress["spec"]["tls"] = [{"hosts": [ingress_host], "secretName": dns_subdomain(tls_secret)}]
        manifests.append(ingress)
    return manifests


def results_secret_manifest(resource, key: dict) -> dict:
    """The job's results key (limited to its prefix), for its containers' environment."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": object_name(resource, "results"),
            "namespace": namespace_for(resource.team.slug),
            "labels": labels_for(resource, "training-job"),
        },
        "type": "Opaque",
        "stringData": {"AWS_ACCESS_KEY_ID": key["access_key_id"], "AWS_SECRET_ACCESS_KEY": key["secret_access_key"]},
    }


def results_env(resource, results: dict) -> list[dict]:
    """Where the job's results go (issue 15): the prefix's address, the endpoint, and the key from its Secret."""
    secret = object_name(resource, "results")
    env = [
        {"name": "PORTAL_RESULTS_URI", "value": f"s3://{results['bucket']}/{results['prefix']}"},
        {"name": "AWS_DEFAULT_REGION", "value": str(results.get("region") or "us-east-1")},
    ]
    if results.get("endpoint"):
        env.append({"name": "AWS_ENDPOINT_URL", "value": str(results["endpoint"])})
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.append({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": name}}})
    return env


def results_sidecar(resource, results: dict, *, script: str) -> dict:
    """A native sidecar (an init container that keeps running, Kubernetes 1.29+) copying /workspace to the prefix."""
    return {
        "name": "results-sync",
        "image": str(results["image"]),
        "restartPolicy": "Always",
        "command": ["/bin/sh", "-c", script],
        "env": [
            *results_env(resource, results),
            {"name": "PORTAL_RESULTS_SYNC_SECONDS", "value": str(int(results.get("seconds") or 30))},
            {"name": "PORTAL_WORKSPACE", "value": "/workspace"},
        ],
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "volumeMounts": [{"name": "workspace", "mountPath": "/workspace", "readOnly": True}],
        "securityContext": SECURITY_CONTEXT,
    }


def job_manifest(
    resource,
    profile: dict,
    *,
    queue: str = "",
    ttl_seconds: int = 7 * 24 * 3600,
    results: dict | None = None,
    sync_script: str = "",
) -> dict:
    """A batch/v1 Job: the command, env, GPUs, placement, /dev/shm in memory, deadline, no retries, cleanup TTL; with
    `results` ({bucket, prefix, endpoint, region, image, seconds}) also where its results go and their sidecar."""
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
    if results:
        env += results_env(resource, results)
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
    job = {
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
                    "automountServiceAccountToken": False,
                    "securityContext": POD_SECURITY,
                    "containers": [container],
                    "volumes": [
                        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm}},
                        {"name": "workspace", "emptyDir": {"sizeLimit": str(profile.get("workspace", "20Gi"))}},
                    ],
                    **_pod_placement(profile),
                },
            },
        },
    }
    if results:
        job["spec"]["template"]["spec"]["initContainers"] = [results_sidecar(resource, results, script=sync_script)]
    return job


# Where scientists' pods may send traffic: the internet, not the cluster's or the cloud's private networks (the API
# server, other teams' services, the metadata endpoint that hands out cloud credentials).
PRIVATE_NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"]
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by Kubernetes on every namespace


def network_policy_manifests(
    team_slug: str, *, ingress_namespace: str, portal_namespace: str = "", egress_allow: list[str] | tuple = ()
) -> list[dict]:
    """NetworkPolicies of a team's namespace: nothing reaches its pods, except the Ingress controller (and the
    portal, for idle culling) reaching notebooks; pods reach DNS and the internet, never private
    networks (other teams, the cluster's API, cloud metadata) unless a Keeper lists a network in `egress_allow`."""
    namespace = namespace_for(team_slug)
    labels = {"app.kubernetes.io/managed-by": MANAGED_BY, "portal.research/team": team_slug}
    meta = lambda name: {"name": name, "namespace": namespace, "labels": labels}  # noqa: E731
    sources = [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: dns_label(ingress_namespace)}}}]
    if portal_namespace:
        sources.append({"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: dns_label(portal_namespace)}}})
    internet = {"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_NETWORKS}}
    dns = {
        "to": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "kube-system"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    egress = [dns, {"to": [internet]}]
    if egress_allow:
        egress.append({"to": [{"ipBlock": {"cidr": str(cidr)}} for cidr in egress_allow]})
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("portal-deny-all"),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "egress": egress},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("portal-notebooks-from-ingress"),
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "notebook"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": sources, "ports": [{"protocol": "TCP", "port": NOTEBOOK_PORT}]}],
            },
        },
    ]
