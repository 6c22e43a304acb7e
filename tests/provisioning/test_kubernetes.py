"""Notebooks and training jobs on Kubernetes, against an emulated API server (kmock) on 127.0.0.1.

The portal and its real Celery worker use the official client on the emulator. kmock runs no controllers, so the
tests do what the scheduler and the kubelet would: create the pods and write their status through the API.
"""

import time

import pytest
from kubernetes import client as k8s

from provisioning import control, services
from provisioning.models import Resource, State
from tests.conftest import api_create, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def control_loop(beat_process):
    """A real beat that polls what is in motion every second (the worker runs the polls on its `control` queue)."""
    beat_process.start(POLL_INTERVAL_SECONDS="1")
    return beat_process


def _wait_object(read, *args, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return read(*args)
        except k8s.ApiException as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def _gone(read, *args) -> bool:
    try:
        read(*args)
    except k8s.ApiException as exc:
        return exc.status == 404
    return False


def _pod(resource, name, namespace, *, phase="Running", ready=True, waiting=None, log=""):
    """The pod a StatefulSet or Job controller would make, with the status a kubelet would write."""
    labels = {"portal.research/resource": str(resource.pk), "app.kubernetes.io/managed-by": "research-portal"}
    image = "quay.io/jupyter/scipy-notebook:2025-10-20"
    container = {"name": "main", "image": image, "imageID": "", "restartCount": 0, "ready": ready}
    container["state"] = {"waiting": waiting} if waiting else {"running": {"startedAt": "2026-11-23T10:00:00Z"}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": {"emulator/log": log}},
        "spec": {"containers": [{"name": "main", "image": container["image"]}]},
        "status": {
            "phase": phase,
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True" if ready else "False"},
            ],
            "containerStatuses": [container],
        },
    }


def test_notebook_on_the_cluster(control_loop, kube_settings, kube_api, templates, api, alice, client):
    core, apps = k8s.CoreV1Api(kube_api), k8s.AppsV1Api(kube_api)
    scientist = api(alice)
    notebook = api_create(scientist, "jupyter-notebook-k8s", "thesis", profile="gpu-1", storage_gb=20)
    name, namespace = f"nb-thesis-{notebook.pk.hex[:6]}", "team-team-a"

    statefulset = _wait_object(apps.read_namespaced_stateful_set, name, namespace)
    assert core.read_namespace(namespace).metadata.labels["portal.research/team"] == "team-a"
    labels = statefulset.metadata.labels
    assert labels["portal.research/resource"] == str(notebook.pk)
    assert labels["app.kubernetes.io/managed-by"] == "research-portal"
    pod_spec = statefulset.spec.template.spec
    assert pod_spec.automount_service_account_token is False
    # The team's namespace got its NetworkPolicies (teams apart; only the Ingress controller reaches notebooks).
    networking = k8s.NetworkingV1Api(kube_api)
    deny = _wait_object(networking.read_namespaced_network_policy, "portal-deny-all", namespace)
    assert deny.spec.pod_selector.match_labels is None and deny.spec.policy_types == ["Ingress", "Egress"]
    assert not deny.spec.ingress
    notebooks = _wait_object(networking.read_namespaced_network_policy, "portal-notebooks-from-ingress", namespace)
    assert notebooks.spec.pod_selector.match_labels == {"app.kubernetes.io/name": "notebook"}
    sources = [peer.namespace_selector.match_labels for peer in notebooks.spec.ingress[0]._from]
    assert sources == [{"kubernetes.io/metadata.name": "ingress-nginx"}]
    assert statefulset.spec.replicas == 1
    assert pod_spec.containers[0].resources.limits == {"cpu": "8", "memory": "64Gi", "nvidia.com/gpu": "1"}
    assert pod_spec.node_selector == {"nvidia.com/gpu.present": "true"}
    assert [(t.key, t.operator, t.effect) for t in pod_spec.tolerations] == [("nvidia.com/gpu", "Exists", "NoSchedule")]
    service = _wait_object(core.read_namespaced_service, name, namespace)
    assert service.metadata.labels["portal.research/resource"] == str(notebook.pk)
    claim = _wait_object(core.read_namespaced_persistent_volume_claim, name, namespace)
    assert claim.spec.resources.requests == {"storage": "20Gi"}
    assert claim.metadata.labels["portal.research/resource"] == str(notebook.pk)

    # No pod yet: the scientist reads what it waits for, not Kubernetes words.
    deadline = time.monotonic() + 10
    while "Waiting" not in Resource.objects.get(pk=notebook.pk).status_message and time.monotonic() < deadline:
        time.sleep(0.1)
    notebook.refresh_from_db()
    assert notebook.state == State.PROVISIONING and "Waiting for the cluster" in notebook.status_message

    core.create_namespaced_pod(namespace, _pod(notebook, f"{name}-0", namespace))
    notebook = wait_for(notebook, State.READY, timeout=20)
    assert notebook.outputs["url"].endswith(f"/notebooks/{name}/lab")
    assert notebook.outputs["profile"] == "1 GPU (8 cores, 64 GB)"
    credentials = scientist.post(f"/api/v1/resources/{notebook.pk}/credentials/").json()["credentials"]
    secret = core.read_namespaced_secret(name, namespace)
    assert secret.string_data == {"token": credentials["token"]}  # kmock keeps stringData as written
    assert credentials["token"] not in "".join(op.log for op in notebook.operations.all())

    client.force_login(alice)
    html = client.get(f"/resources/{notebook.pk}/").content.decode()
    before_details = html.split('id="technical-details"')[0]
    assert "StatefulSet" not in before_details and "namespace" not in before_details.lower()
    assert "StatefulSet" in html  # inside the folded technical details

    assert scientist.post(f"/api/v1/resources/{notebook.pk}/stop/").status_code == 202
    notebook = wait_for(notebook, State.STOPPED)
    assert apps.read_namespaced_stateful_set(name, namespace).spec.replicas == 0
    assert core.read_namespaced_persistent_volume_claim(name, namespace)  # the files are kept

    assert scientist.post(f"/api/v1/resources/{notebook.pk}/start/").status_code == 202
    notebook = wait_for(notebook, State.READY, timeout=20)
    assert apps.read_namespaced_stateful_set(name, namespace).spec.replicas == 1

    assert scientist.delete(f"/api/v1/resources/{notebook.pk}/").status_code == 202
    wait_for(notebook, State.DELETED)
    assert _gone(apps.read_namespaced_stateful_set, name, namespace)
    assert _gone(core.read_namespaced_service, name, namespace)
    assert _gone(core.read_namespaced_persistent_volume_claim, name, namespace)
    assert _gone(core.read_namespaced_secret, name, namespace)


def test_training_job_on_the_cluster_shows_its_log(
    live_worker, control_loop, kube_settings, kube_api, templates, api, alice
):
    core, batch = k8s.CoreV1Api(kube_api), k8s.BatchV1Api(kube_api)
    scientist = api(alice)
    job = api_create(
        scientist,
        "training-job-k8s",
        "sweep",
        profile="cpu",
        command="python train.py --lr 0.1",
        max_runtime_minutes=30,
        env={"EPOCHS": "3"},
    )
    name, namespace = f"job-sweep-{job.pk.hex[:6]}", "team-team-a"
    made = _wait_object(batch.read_namespaced_job, name, namespace)
    container = made.spec.template.spec.containers[0]
    assert container.command == ["python", "train.py", "--lr", "0.1"]
    assert [(e.name, e.value) for e in container.env] == [("EPOCHS", "3")]
    assert made.spec.active_deadline_seconds == 1800 and made.spec.backoff_limit == 0
    assert made.metadata.labels["portal.research/resource"] == str(job.pk)

    log = "epoch 1 loss 0.91\nepoch 2 loss 0.52\n"
    core.create_namespaced_pod(namespace, _pod(job, f"{name}-x7k2p", namespace, ready=False, log=log))
    job = wait_for(job, State.RUNNING, timeout=20)
    output = scientist.get(f"/api/v1/resources/{job.pk}/logs/").json()["output"]
    assert "epoch 2 loss 0.52" in output

    batch.patch_namespaced_job_status(
        name, namespace, {"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}}
    )
    control.poll_running()
    job = wait_for(job, State.SUCCEEDED)
    assert job.status_message == "Finished successfully."

    scientist.delete(f"/api/v1/resources/{job.pk}/")
    wait_for(job, State.DELETED)
    assert _gone(batch.read_namespaced_job, name, namespace)


def test_an_image_that_cannot_be_pulled_fails_at_once(
    live_worker, control_loop, kube_settings, kube_api, templates, api, alice
):
    core, batch = k8s.CoreV1Api(kube_api), k8s.BatchV1Api(kube_api)
    job = api_create(api(alice), "training-job-k8s", "typo", profile="cpu", command="python train.py")
    name, namespace = f"job-typo-{job.pk.hex[:6]}", "team-team-a"
    _wait_object(batch.read_namespaced_job, name, namespace)
    waiting = {
        "reason": "ErrImagePull",
        "message": 'rpc error: code = NotFound desc = failed to pull image "quay.io/jupyter/scipy-notebok": not found',
    }
    core.create_namespaced_pod(namespace, _pod(job, f"{name}-b8d1q", namespace, phase="Pending", waiting=waiting))
    job = wait_for(job, State.FAILED, timeout=20)
    assert "could not be pulled" in job.status_message and "not found" in job.status_message
    deadline = time.monotonic() + 20
    while not _gone(batch.read_namespaced_job, name, namespace) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(batch.read_namespaced_job, name, namespace)  # not left pulling on a node
    assert "retry" in services.allowed_actions(job, alice)


def test_a_gpu_pod_with_no_room_says_so_then_fails(
    live_worker, control_loop, kube_settings, kube_api, templates, api, alice
):
    """The worker's limit for unschedulable pods is 5 s in the tests (10 minutes by default)."""
    core = k8s.CoreV1Api(kube_api)
    notebook = api_create(api(alice), "jupyter-notebook-k8s", "big", profile="gpu-1")
    name, namespace = f"nb-big-{notebook.pk.hex[:6]}", "team-team-a"
    _wait_object(k8s.AppsV1Api(kube_api).read_namespaced_stateful_set, name, namespace)
    pod = _pod(notebook, f"{name}-0", namespace, phase="Pending", ready=False)
    pod["status"] = {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
                "lastTransitionTime": "2026-11-23T10:00:00Z",
            }
        ],
    }
    core.create_namespaced_pod(namespace, pod)
    notebook = wait_for(notebook, State.FAILED, timeout=30)
    assert "Waiting for a node with 1 free GPU" in notebook.status_message
    assert "smaller profile" in notebook.status_message


def test_bad_input_for_the_cluster_is_a_clear_400(kube_settings, templates, api, alice, db):
    scientist = api(alice)
    response = scientist.post(
        "/api/v1/resources/",
        {
            "template": "training-job-k8s",
            "name": "bad-job",
            "parameters": {"profile": "gpu-64", "command": "python a.py"},
        },
        format="json",
    )
    assert response.status_code == 400 and "profile" in response.json()["fields"]
    response = scientist.post(
        "/api/v1/resources/",
        {
            "template": "training-job-k8s",
            "name": "bad-job",
            "parameters": {"profile": "cpu", "command": "python 'a.py"},
        },
        format="json",
    )
    assert response.status_code == 400 and "quotes" in response.json()["fields"]["command"]
    response = scientist.post(  # 4 GPUs: over the team's quota of 2 (approval comes after the quota)
        "/api/v1/resources/",
        {"template": "jupyter-notebook-k8s", "name": "bad-nb", "parameters": {"profile": "gpu-4"}},
        format="json",
    )
    assert response.status_code == 409 and "quota" in response.json()["message"]


def test_readyz_reports_the_cluster(kube_settings, client, keeper):
    client.force_login(keeper)  # the details are for Keepers
    body = client.get("/readyz").json()
    assert body["checks"]["kubernetes"] == "ok"


def test_without_a_cluster_nothing_kubernetes_shows(settings, templates, api, alice, client, keeper):
    settings.KUBECONFIG = ""
    listed = [t["slug"] for t in api(alice).get("/api/v1/templates/").json()]
    assert "jupyter-notebook" in listed and "jupyter-notebook-k8s" not in listed and "training-job-k8s" not in listed
    response = api(alice).post(
        "/api/v1/resources/",
        {"template": "jupyter-notebook-k8s", "name": "bad-nb", "parameters": {"profile": "cpu"}},
        format="json",
    )
    assert response.status_code == 400 and response.json()["error"] == "unknown_template"
    client.force_login(alice)
    assert client.get("/resources/new/jupyter-notebook-k8s/").status_code == 404
    for url in ("/", "/resources/new/", "/search/?q=cluster"):
        assert "on the cluster" not in client.get(url).content.decode(), url
    client.force_login(keeper)
    assert "kubernetes" not in client.get("/readyz").json()["checks"]


def test_pods_that_never_start_hold_up_nothing(
    live_worker, control_loop, kube_settings, kube_api, templates, api, alice
):
    """A cluster without a kubelet: pods never start. No worker waits for them, so a database request beside them
    is ready at once, and deleting the notebooks while they are still starting removes their objects at once."""
    apps = k8s.AppsV1Api(kube_api)
    scientist = api(alice)
    notebooks = [api_create(scientist, "jupyter-notebook-k8s", f"slow{i}", profile="cpu") for i in (1, 2)]
    database = api_create(scientist, "postgres-database", "results", storage_gb=1)
    started = time.monotonic()
    # The promise is 10 s: about 1 s on an idle machine, 6-9 s on this 2-core machine at load 5 (both worker slots'
    # first Kubernetes calls cost seconds there). Bounded at 20 s so a busy machine does not flake, and still far
    # below the 60 s a worker would wait for each notebook's pod if it waited (KUBERNETES_START_TIMEOUT_SECONDS).
    wait_for(database, State.READY, timeout=20)
    print(f"database ready {time.monotonic() - started:.1f} s after two never-starting notebooks")
    names = [(f"nb-slow{i}-{nb.pk.hex[:6]}", "team-team-a") for i, nb in zip((1, 2), notebooks, strict=True)]
    for name, namespace in names:
        _wait_object(apps.read_namespaced_stateful_set, name, namespace)
    for notebook in notebooks:
        deadline = time.monotonic() + 30
        while notebook.operations.exclude(state="succeeded").exists():  # until its create has only started it
            assert time.monotonic() < deadline, notebook.operations.get().log
            time.sleep(0.1)
        notebook = wait_for(notebook, State.PROVISIONING)
        assert "Waiting" in notebook.status_message  # it says what it waits for; no worker holds it
    started = time.monotonic()
    for notebook in notebooks:
        assert scientist.delete(f"/api/v1/resources/{notebook.pk}/").status_code == 202
    for notebook in notebooks:
        wait_for(notebook, State.DELETED, timeout=30)
    assert time.monotonic() - started < 30
    for name, namespace in names:
        assert _gone(apps.read_namespaced_stateful_set, name, namespace)
