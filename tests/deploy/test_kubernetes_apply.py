"""The base applied to the emulated API server (kmock) and read back; the RBAC rules against the driver's calls.

The RBAC test records what the portal really asks the API server (the emulator logs every request) while a notebook
and a training job go through their whole lives, then compares that with the ClusterRole, rule for rule.
"""

import json
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from portal.models import Membership
from provisioning import control
from provisioning.models import State
from tests.conftest import api_create, wait_for
from tests.deploy.kustomize import render
from tests.factories import TeamFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
KUBELET_AGENT = "emulated-kubelet"
CLUSTER_SCOPED = {"Namespace": "namespaces", "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings"}
PLURALS = {
    "ServiceAccount": "serviceaccounts",
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "Service": "services",
    "Deployment": "deployments",
    "Job": "jobs",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "NetworkPolicy": "networkpolicies",
    "Ingress": "ingresses",
    **CLUSTER_SCOPED,
}


def _client(kubeconfig: str, agent: str | None = None) -> k8s.ApiClient:
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    api = k8s.ApiClient(configuration)
    if agent:
        api.user_agent = agent
    return api


def _path(obj: dict, *, named: bool) -> str:
    group_version = obj["apiVersion"]
    prefix = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    plural = PLURALS[obj["kind"]]
    if obj["kind"] in CLUSTER_SCOPED:
        path = f"{prefix}/{plural}"
    else:
        path = f"{prefix}/namespaces/{obj['metadata']['namespace']}/{plural}"
    return f"{path}/{obj['metadata']['name']}" if named else path


def _call(api, method: str, path: str, body=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    headers["Authorization"] = api.configuration.auth_settings()["BearerToken"]["value"]
    response = api.call_api(method, api.configuration.host + path, header_params=headers, body=body)
    response.read()
    assert response.status < 300, f"{method} {path}: {response.status} {response.data[:300]!r}"
    return json.loads(response.data or b"{}")


def test_the_base_applies_to_the_emulated_cluster_and_reads_back(kube_server):
    objects = render(ROOT / "base")
    api = _client(kube_server)
    for obj in objects:
        _call(api, "POST", _path(obj, named=False), obj)
    for obj in objects:
        back = _call(api, "GET", _path(obj, named=True))
        assert back["metadata"]["name"] == obj["metadata"]["name"]
        for field in ("spec", "data", "stringData", "rules", "roleRef", "subjects"):
            if field in obj:
                assert back[field] == obj[field], f"{obj['kind']} {obj['metadata']['name']}: {field} differs"
    listed = _call(api, "GET", "/apis/apps/v1/namespaces/research-portal/deployments")
    names = {d["metadata"]["name"] for d in listed["items"]}
    assert {"portal-web", "portal-beat", "portal-worker-operations", "portal-worker-control"} <= names


# What the driver asks, as RBAC sees it -------------------------------------------------------------------------


def _as_rbac(method: str, path: str, query: str) -> tuple:
    """(apiGroup, resource[/subresource], verb) of one request, or ("nonResourceURL", path, verb)."""
    parts = [p for p in path.split("/") if p]
    if parts[0] == "api":
        group, rest = "", parts[2:]
    elif parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return ("nonResourceURL", path, method.lower())
    if rest[0] == "namespaces" and len(rest) > 2:
        rest = rest[2:]  # namespaced: drop namespaces/<ns>
    resource, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
    if method == "GET":
        verb = "get" if name else ("watch" if parse_qs(query).get("watch") == ["true"] else "list")
    else:
        verb = {
            "POST": "create",
            "PATCH": "patch",
            "PUT": "update",
            "DELETE": "delete" if name else "deletecollection",
        }[method]
    return (group, f"{resource}/{sub}" if sub else resource, verb)


def _granted(cluster_role: dict) -> set[tuple]:
    granted = set()
    for rule in cluster_role["rules"]:
        for verb in rule["verbs"]:
            for url in rule.get("nonResourceURLs", []):
                granted.add(("nonResourceURL", url, verb))
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    granted.add((group, resource, verb))
    return granted


def _pod(resource, name, namespace, *, ready=True, log=""):
    labels = {"portal.research/resource": str(resource.pk), "app.kubernetes.io/managed-by": "research-portal"}
    container = {
        "name": "main",
        "image": "x",
        "imageID": "",
        "restartCount": 0,
        "ready": ready,
        "state": {"running": {"startedAt": "2026-11-23T10:00:00Z"}},
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": {"emulator/log": log}},
        "spec": {"containers": [{"name": "main", "image": "x"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [container],
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True" if ready else "False"},
            ],
        },
    }


def _wait(read, *args, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read(*args)
        except k8s.ApiException as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def _until(resource, state, timeout=60.0):
    """Wait as the control loop would move it on: poll what is in motion, then look (nothing waits in a worker)."""
    deadline = time.monotonic() + timeout
    while True:
        control.poll_running()
        try:
            return wait_for(resource, state, timeout=0.5)
        except AssertionError:
            if time.monotonic() > deadline:
                raise


@pytest.mark.worker
@pytest.mark.slow
def test_rbac_rules_are_exactly_what_the_driver_calls(live_worker, kube_settings, templates, api, client):
    # With an Ingress host the notebook gets an Ingress too; the worker must see it, so it restarts with it.
    live_worker.stop()
    saved = dict(live_worker.env)
    live_worker.env.update(KUBERNETES_INGRESS_HOST="notebooks.example.org", KUBERNETES_INGRESS_CLASS="nginx")
    live_worker.start()
    try:
        _driver_lifecycle(kube_settings, api, client)
    finally:
        live_worker.stop()
        live_worker.env.clear()
        live_worker.env.update(saved)
        live_worker.start()


def _driver_lifecycle(kube_settings, api, client):
    log = Path(kube_settings).parent / "requests.log"
    start = log.stat().st_size if log.exists() else 0
    kubelet = _client(kube_settings, KUBELET_AGENT)
    core, batch = k8s.CoreV1Api(kubelet), k8s.BatchV1Api(kubelet)
    team = TeamFactory(slug=f"rbac-{uuid.uuid4().hex[:6]}")  # a new team: its namespace is created on the way
    user = UserFactory()
    Membership.objects.create(user=user, team=team, role=Membership.Role.ADMIN)
    scientist = api(user)
    namespace = f"team-{team.slug}"

    assert client.get("/readyz").status_code in (200, 503)  # asks the cluster's /version

    notebook = api_create(scientist, "jupyter-notebook-k8s", "nb", profile="cpu", storage_gb=5)
    name = f"nb-nb-{notebook.pk.hex[:6]}"
    _wait(k8s.AppsV1Api(kubelet).read_namespaced_stateful_set, name, namespace)
    core.create_namespaced_pod(namespace, _pod(notebook, f"{name}-0", namespace, log="started\n"))
    notebook = _until(notebook, State.READY, timeout=60)
    control.poll_running()  # the control loop reads the StatefulSet and its pod
    scientist.get(f"/api/v1/resources/{notebook.pk}/logs/")
    assert scientist.post(f"/api/v1/resources/{notebook.pk}/stop/").status_code == 202
    notebook = _until(notebook, State.STOPPED, timeout=60)
    assert scientist.post(f"/api/v1/resources/{notebook.pk}/start/").status_code == 202
    notebook = _until(notebook, State.READY, timeout=60)
    assert scientist.delete(f"/api/v1/resources/{notebook.pk}/").status_code == 202
    _until(notebook, State.DELETED, timeout=60)

    job = api_create(
        scientist, "training-job-k8s", "jb", profile="cpu", command="python train.py", max_runtime_minutes=5
    )
    job_name = f"job-jb-{job.pk.hex[:6]}"
    _wait(batch.read_namespaced_job, job_name, namespace)
    core.create_namespaced_pod(namespace, _pod(job, f"{job_name}-abcde", namespace, ready=False, log="epoch 1\n"))
    job = _until(job, State.RUNNING, timeout=60)
    assert "epoch 1" in scientist.get(f"/api/v1/resources/{job.pk}/logs/").json()["output"]
    batch.patch_namespaced_job_status(
        job_name, namespace, {"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}}
    )
    control.poll_running()
    job = _until(job, State.SUCCEEDED, timeout=60)
    scientist.delete(f"/api/v1/resources/{job.pk}/")
    _until(job, State.DELETED, timeout=60)

    with log.open() as handle:
        handle.seek(start)
        lines = [line.rstrip("\n").split("\t") for line in handle if line.strip()]
    called = {_as_rbac(m, p, q) for m, p, q, agent in lines if agent != KUBELET_AGENT}
    role = next(
        o
        for o in render(ROOT / "base")
        if o["kind"] == "ClusterRole" and o["metadata"]["name"] == "research-portal-driver"
    )
    granted = _granted(role)
    # The client asks /version/ or /version depending on its release: both are granted, one is called.
    granted_urls = {g for g in granted if g[0] == "nonResourceURL"}
    assert {c for c in called if c[0] == "nonResourceURL"} <= granted_urls
    assert called - granted_urls == granted - granted_urls, (
        f"the driver calls but the role lacks: {sorted(called - granted)}; "
        f"the role grants but the driver never calls: {sorted(granted - granted_urls - called)}"
    )
