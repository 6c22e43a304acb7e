"""Talking to a Kubernetes cluster: the client, safe writes, and reading pods into words a scientist understands.

The connection comes from KUBECONFIG (optionally a context) or, inside a cluster, from the service account. Writes
create an object and patch it when it exists (409), retrying 5xx answers and timeouts with backoff. `pod_progress`
and `job_outcome` are pure functions over the JSON of pods, events and jobs, tested by comparing their output.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from provisioning.drivers.base import DriverError

logger = logging.getLogger(__name__)

IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")  # noqa: S105 (a path, not a secret)
RETRIES = 4
REQUEST_TIMEOUT = (5, 30)  # connect, read (seconds)

_clients: dict[tuple, object] = {}
_lock = threading.Lock()


class KubeError(DriverError):
    """The cluster answered with an error we do not handle, or did not answer after the retries."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message, reason="kubernetes", retryable=retryable)
        self.status = status


def in_cluster() -> bool:
    return bool(settings.KUBERNETES_SERVICE_HOST) and IN_CLUSTER_TOKEN.exists()


def configured() -> bool:
    """Whether a cluster is configured: a kubeconfig file, or running inside a cluster."""
    if settings.KUBECONFIG:
        return any(Path(p).is_file() for p in settings.KUBECONFIG.split(os.pathsep) if p)
    return in_cluster()


def api_client():
    """One ApiClient per configuration per process (it holds a connection pool)."""
    from kubernetes import client, config

    key = (settings.KUBECONFIG, settings.KUBERNETES_CONTEXT, in_cluster())
    with _lock:
        if key not in _clients:
            if settings.KUBECONFIG:
                configuration = client.Configuration()
                config.load_kube_config(
                    config_file=settings.KUBECONFIG,
                    context=settings.KUBERNETES_CONTEXT or None,
                    client_configuration=configuration,
                )
            elif in_cluster():
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)
            else:
                raise KubeError("No Kubernetes cluster is configured (set KUBECONFIG, or run the portal in a cluster).")
            configuration.retries = False  # we retry ourselves, with backoff and words for people
            _clients[key] = client.ApiClient(configuration)
        return _clients[key]


def core():
    from kubernetes import client

    return client.CoreV1Api(api_client())


def call(fn, *args, what: str = "", **kwargs):
    """Call the API; retry 429, 5xx and network failures with backoff; 404/409 and other errors go to the caller."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    kwargs.setdefault("_request_timeout", REQUEST_TIMEOUT)
    delay = 0.5
    for attempt in range(1, RETRIES + 1):
        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            if exc.status == 429 or (exc.status or 0) >= 500:
                problem = f"the cluster answered {exc.status} {exc.reason}"
            else:
                raise
        except (HTTPError, OSError) as exc:
            problem = f"the cluster did not answer ({exc.__class__.__name__})"
        if attempt == RETRIES:
            raise KubeError(f"Could not {what or 'talk to the cluster'}: {problem}.", retryable=True)
        logger.warning("kubernetes %s: %s; retrying in %.1f s", what, problem, delay)
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


def status_of(exc) -> int | None:
    return getattr(exc, "status", None)


# The typed API of each kind we write: (api class, method suffix).
KINDS = {
    "Namespace": ("CoreV1Api", "namespace"),
    "Pod": ("CoreV1Api", "namespaced_pod"),
    "Secret": ("CoreV1Api", "namespaced_secret"),
    "PersistentVolumeClaim": ("CoreV1Api", "namespaced_persistent_volume_claim"),
    "Service": ("CoreV1Api", "namespaced_service"),
    "StatefulSet": ("AppsV1Api", "namespaced_stateful_set"),
    "Ingress": ("NetworkingV1Api", "namespaced_ingress"),
    "Job": ("BatchV1Api", "namespaced_job"),
}


def _api_for(kind: str):
    from kubernetes import client

    api_class, suffix = KINDS[kind]
    return getattr(client, api_class)(api_client()), suffix


def _namespaced(manifest) -> tuple:
    return (manifest["metadata"]["namespace"],) if manifest["kind"] != "Namespace" else ()


def create_or_patch(manifest: dict) -> dict:
    """Create the object; when it exists (409), patch it to the manifest. Returns the object as JSON."""
    from kubernetes.client.exceptions import ApiException

    api, suffix = _api_for(manifest["kind"])
    name = manifest["metadata"]["name"]
    what = f"create the {manifest['kind']} {name}"
    try:
        created = call(getattr(api, f"create_{suffix}"), *_namespaced(manifest), manifest, what=what)
    except ApiException as exc:
        if exc.status != 409:
            raise KubeError(f"Could not {what}: {_reason(exc)}", status=exc.status) from None
        try:
            created = call(getattr(api, f"patch_{suffix}"), name, *_namespaced(manifest), manifest, what=what)
        except ApiException as exc2:
            raise KubeError(
                f"Could not update the {manifest['kind']} {name}: {_reason(exc2)}", status=exc2.status
            ) from None
    return api_client().sanitize_for_serialization(created)


def read(kind: str, name: str, namespace: str | None) -> dict | None:
    """The object as JSON, or None when it does not exist."""
    from kubernetes.client.exceptions import ApiException

    api, suffix = _api_for(kind)
    args = (name, namespace) if namespace else (name,)
    try:
        found = call(getattr(api, f"read_{suffix}"), *args, what=f"read the {kind} {name}")
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise KubeError(f"Could not read the {kind} {name}: {_reason(exc)}", status=exc.status) from None
    return api_client().sanitize_for_serialization(found)


def patch(kind: str, name: str, namespace: str, body: dict) -> dict:
    from kubernetes.client.exceptions import ApiException

    api, suffix = _api_for(kind)
    try:
        patched = call(getattr(api, f"patch_{suffix}"), name, namespace, body, what=f"update the {kind} {name}")
    except ApiException as exc:
        raise KubeError(f"Could not update the {kind} {name}: {_reason(exc)}", status=exc.status) from None
    return api_client().sanitize_for_serialization(patched)


def scale(kind: str, name: str, namespace: str, replicas: int) -> bool:
    """Set the replicas through the scale subresource; False when the object does not exist."""
    from kubernetes.client.exceptions import ApiException

    api, suffix = _api_for(kind)
    try:
        call(getattr(api, f"patch_{suffix}_scale"), name, namespace, {"spec": {"replicas": replicas}}, what="scale")
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise KubeError(f"Could not scale the {kind} {name}: {_reason(exc)}", status=exc.status) from None
    return True


def delete(kind: str, name: str, namespace: str) -> bool:
    """Delete the object and what it owns (in the background); True if it existed. Idempotent."""
    from kubernetes.client.exceptions import ApiException

    api, suffix = _api_for(kind)
    try:
        call(
            getattr(api, f"delete_{suffix}"),
            name,
            namespace,
            propagation_policy="Background",
            what=f"delete the {kind} {name}",
        )
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise KubeError(f"Could not delete the {kind} {name}: {_reason(exc)}", status=exc.status) from None
    return True


def ensure_namespace(manifest: dict) -> None:
    """The team's namespace, created (labelled) when missing."""
    from kubernetes.client.exceptions import ApiException

    if read("Namespace", manifest["metadata"]["name"], None) is not None:
        return
    try:
        call(core().create_namespace, manifest, what=f"create the namespace {manifest['metadata']['name']}")
    except ApiException as exc:
        if exc.status != 409:  # made meanwhile by another worker: fine
            raise KubeError(f"Could not create the team's namespace: {_reason(exc)}", status=exc.status) from None


def pods_of(namespace: str, resource_id: str) -> list[dict]:
    """The pods labelled with the resource, newest first (labels checked here too, not only by the server)."""
    selector = f"portal.research/resource={resource_id}"
    listed = call(core().list_namespaced_pod, namespace, label_selector=selector, what="list the pods")
    pods = api_client().sanitize_for_serialization(listed).get("items") or []
    pods = [
        p for p in pods if (p.get("metadata", {}).get("labels") or {}).get("portal.research/resource") == resource_id
    ]
    return sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp") or "", reverse=True)


def events_of(namespace: str, pod_name: str) -> list[dict]:
    """The namespace's events about one pod, oldest first."""
    listed = call(
        core().list_namespaced_event,
        namespace,
        field_selector=f"involvedObject.kind=Pod,involvedObject.name={pod_name}",
        what="read the events",
    )
    events = api_client().sanitize_for_serialization(listed).get("items") or []
    events = [e for e in events if (e.get("involvedObject") or {}).get("name") == pod_name]
    return sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")


def pod_log(namespace: str, pod_name: str, tail: int) -> str:
    from kubernetes.client.exceptions import ApiException

    try:
        return call(
            core().read_namespaced_pod_log, namespace=namespace, name=pod_name, tail_lines=tail, what="read the log"
        )
    except ApiException as exc:
        if exc.status in (400, 404):  # not started yet, or gone
            return ""
        raise KubeError(f"Could not read the log: {_reason(exc)}", status=exc.status) from None


def check_ready() -> str | None:
    """For /readyz: None when the API server answers."""
    try:
        from kubernetes import client

        call(client.VersionApi(api_client()).get_code, what="reach the cluster", _request_timeout=(2, 3))
    except Exception as exc:  # any failure means not ready
        return f"kubernetes unreachable: {getattr(exc, 'message', exc.__class__.__name__)}"
    return None


def _reason(exc) -> str:
    import json

    try:
        return json.loads(exc.body).get("message") or exc.reason
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)


# Reading pods into words ---------------------------------------------------------------------------------------

FATAL_WAITING = {
    "ErrImagePull": "The image {image} could not be pulled",
    "ImagePullBackOff": "The image {image} could not be pulled",
    "InvalidImageName": "The image name {image} is not valid",
    "CrashLoopBackOff": "The program keeps crashing right after it starts",
    "CreateContainerConfigError": "The container could not be configured",
    "CreateContainerError": "The container could not be created",
}


@dataclass
class Progress:
    """Where a pod is, in words. `phase` is one of: waiting, starting, running, ready, succeeded, failed."""

    phase: str
    message: str
    fatal: bool = False
    unschedulable: bool = False
    exit_code: int | None = None


def _condition(pod: dict, kind: str) -> dict:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


def pod_progress(pod: dict | None, events: list[dict], *, gpus: int = 0) -> Progress:
    """What a scientist should read about this pod; `fatal` when waiting longer cannot help."""
    if pod is None:
        return Progress("waiting", "Waiting for the cluster to create it...")
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    containers = status.get("containerStatuses") or []
    image = next((c.get("image") for c in containers if c.get("image")), None) or next(
        (c.get("image") for c in (pod.get("spec") or {}).get("containers") or []), "?"
    )
    last_event = events[-1] if events else {}

    for container in containers:
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason", "")
        if reason in FATAL_WAITING:
            detail = waiting.get("message") or next(
                (e.get("message") for e in reversed(events) if e.get("type") == "Warning"), ""
            )
            text = FATAL_WAITING[reason].format(image=container.get("image") or image)
            if reason == "CrashLoopBackOff":
                terminated = (container.get("lastState") or {}).get("terminated") or {}
                if "exitCode" in terminated:
                    text += f" (exit code {terminated['exitCode']}); its log says why"
            if reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
                text += ". A Keeper must fix the image of this profile"
            return Progress("failed", f"{text}{': ' + detail if detail else ''}.", fatal=True)

    if phase == "Succeeded":
        return Progress("succeeded", "Finished successfully.", exit_code=0)
    if phase == "Failed":
        code = next(
            (
                ((c.get("state") or {}).get("terminated") or {}).get("exitCode")
                for c in containers
                if ((c.get("state") or {}).get("terminated") or {}).get("exitCode") is not None
            ),
            None,
        )
        why = status.get("reason") or ""
        text = f"The program ended with exit code {code}" if code is not None else "The pod failed"
        if why == "Evicted":
            text = "The cluster evicted it (the node ran out of memory or disk)"
        return Progress("failed", f"{text}{': ' + status['message'] if status.get('message') else ''}.", exit_code=code)

    scheduled = _condition(pod, "PodScheduled")
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        what = f"a node with {gpus} free GPU{'s' if gpus != 1 else ''}" if gpus else "room on the cluster"
        detail = scheduled.get("message") or (
            last_event.get("message") if last_event.get("reason") == "FailedScheduling" else ""
        )
        return Progress("waiting", f"Waiting for {what}{' (' + detail + ')' if detail else ''}.", unschedulable=True)
    if phase == "Running":
        if _condition(pod, "Ready").get("status") == "True":
            return Progress("ready", "Running.")
        return Progress("running", "Started; waiting for the program to answer...")
    # Pending and scheduled: creating containers, pulling the image
    if last_event.get("reason") == "Pulling":
        return Progress("starting", f"Pulling the image {image} (large images take a few minutes the first time)...")
    if last_event.get("reason") in ("Pulled", "Created", "Started"):
        return Progress("starting", "Starting...")
    if scheduled.get("status") == "True" or status.get("hostIP"):
        return Progress("starting", "Starting: preparing the container and its storage...")
    return Progress("waiting", "Waiting for the cluster to place it on a node...")


def job_outcome(job: dict | None) -> tuple[str, str] | None:
    """('succeeded'|'failed', words) once a Job has ended; None while it runs."""
    if job is None:
        return "failed", "The job disappeared from the cluster (deleted by someone?). Retry to run it again."
    status = job.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") in ("Complete", "SuccessCriteriaMet"):
            return "succeeded", "Finished successfully."
        if condition.get("type") in ("Failed", "FailureTarget"):
            if condition.get("reason") == "DeadlineExceeded":
                return (
                    "failed",
                    "Stopped: it reached its maximum run time. Save checkpoints and resume, or ask for more time.",
                )
            return (
                "failed",
                f"The job failed: {condition.get('message') or condition.get('reason') or 'no reason given'}.",
            )
    if status.get("succeeded"):
        return "succeeded", "Finished successfully."
    if status.get("failed"):
        return "failed", "The program ended with an error; its log says why."
    return None
