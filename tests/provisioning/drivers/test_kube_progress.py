"""Reading pods, events and jobs into words (pure functions), the retrying API call, and the YAML preview."""

import io

import pytest
import yaml
from django.core.management import call_command
from kubernetes.client.exceptions import ApiException

from provisioning.drivers.kubernetes import client as kube
from provisioning.drivers.kubernetes.client import Progress, job_outcome, pod_progress


def _pod(phase="Pending", conditions=(), containers=(), reason=None):
    status = {"phase": phase, "conditions": list(conditions), "containerStatuses": list(containers)}
    if reason:
        status["reason"] = reason
    return {"spec": {"containers": [{"name": "main", "image": "img:1"}]}, "status": status}


def _waiting(reason, message=""):
    return {"name": "main", "image": "img:1", "state": {"waiting": {"reason": reason, "message": message}}}


def test_no_pod_yet():
    assert pod_progress(None, []) == Progress("waiting", "Waiting for the cluster to create it...")


def test_unschedulable_gpu_pod_says_what_it_waits_for():
    pod = _pod(
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.",
            }
        ]
    )
    assert pod_progress(pod, [], gpus=2) == Progress(
        "waiting",
        "Waiting for a node with 2 free GPUs (0/4 nodes are available: 4 Insufficient nvidia.com/gpu.).",
        unschedulable=True,
    )
    assert pod_progress(pod, [], gpus=0).message.startswith("Waiting for room on the cluster")


def test_pulling_then_starting_then_running_then_ready():
    scheduled = [{"type": "PodScheduled", "status": "True"}]
    pulling = [{"reason": "Pulling", "message": 'Pulling image "img:1"'}]
    assert pod_progress(_pod(conditions=scheduled), pulling) == Progress(
        "starting", "Pulling the image img:1 (large images take a few minutes the first time)..."
    )
    assert pod_progress(_pod(conditions=scheduled), pulling + [{"reason": "Pulled"}]).message == "Starting..."
    running = _pod("Running", scheduled + [{"type": "Ready", "status": "False"}])
    assert pod_progress(running, []).phase == "running"
    ready = _pod("Running", scheduled + [{"type": "Ready", "status": "True"}])
    assert pod_progress(ready, []) == Progress("ready", "Running.")


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("ErrImagePull", "The image img:1 could not be pulled. A Keeper must fix the image of this profile: boom."),
        ("ImagePullBackOff", "The image img:1 could not be pulled. A Keeper must fix the image of this profile: boom."),
        ("InvalidImageName", "The image name img:1 is not valid. A Keeper must fix the image of this profile: boom."),
        ("CreateContainerConfigError", "The container could not be configured: boom."),
    ],
)
def test_unrecoverable_reasons_are_fatal(reason, words):
    assert pod_progress(_pod(containers=[_waiting(reason, "boom")]), []) == Progress("failed", words, fatal=True)


def test_crash_loop_gives_the_exit_code():
    container = _waiting("CrashLoopBackOff", "back-off 5m0s restarting failed container")
    container["lastState"] = {"terminated": {"exitCode": 137}}
    progress = pod_progress(_pod("Running", containers=[container]), [])
    assert progress.fatal
    assert progress.message == (
        "The program keeps crashing right after it starts (exit code 137); its log says why: "
        "back-off 5m0s restarting failed container."
    )


def test_failed_and_evicted_pods():
    container = {"name": "main", "state": {"terminated": {"exitCode": 3}}}
    assert pod_progress(_pod("Failed", containers=[container]), []) == Progress(
        "failed", "The program ended with exit code 3.", exit_code=3
    )
    evicted = _pod("Failed", reason="Evicted")
    assert pod_progress(evicted, []).message == "The cluster evicted it (the node ran out of memory or disk)."


def test_job_outcomes():
    assert job_outcome({"status": {"active": 1}}) is None
    assert job_outcome({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}) == (
        "succeeded",
        "Finished successfully.",
    )
    deadline = {"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}
    assert job_outcome({"status": {"conditions": [deadline]}})[1].startswith("Stopped: it reached its maximum run time")
    backoff = {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the"}
    assert job_outcome({"status": {"conditions": [backoff]}}) == ("failed", "The job failed: Job has reached the.")
    assert job_outcome(None)[0] == "failed"


def test_calls_are_retried_on_5xx_and_not_on_4xx(monkeypatch):
    monkeypatch.setattr(kube.time, "sleep", lambda seconds: None)
    answers = [ApiException(status=503, reason="Service Unavailable"), ApiException(status=500, reason="Oops"), "ok"]
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert kube.call(flaky, what="read") == "ok" and len(calls) == 3
    assert calls[0]["_request_timeout"] == kube.REQUEST_TIMEOUT

    def forbidden(**kwargs):
        raise ApiException(status=403, reason="Forbidden")

    with pytest.raises(ApiException):
        kube.call(forbidden)

    def down(**kwargs):
        raise ApiException(status=502, reason="Bad Gateway")

    with pytest.raises(kube.KubeError) as failure:
        kube.call(down, what="create the Job x")
    assert failure.value.retryable and failure.value.message == (
        "Could not create the Job x: the cluster answered 502 Bad Gateway."
    )


def test_preview_prints_every_manifest_as_yaml(templates):
    out = io.StringIO()
    call_command(
        "provisioning_preview",
        "jupyter-notebook-k8s",
        "--parameters",
        '{"profile": "gpu-1", "storage_gb": 30}',
        "--team",
        "vision",
        "--name",
        "thesis",
        stdout=out,
    )
    documents = list(yaml.safe_load_all(out.getvalue()))
    assert [d["kind"] for d in documents] == ["Namespace", "Secret", "PersistentVolumeClaim", "StatefulSet", "Service"]
    assert documents[0]["metadata"]["name"] == "team-vision"
    assert documents[2]["spec"]["resources"]["requests"]["storage"] == "30Gi"
    assert documents[3]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_the_size_choices_follow_the_profiles_keepers_edit(templates):
    template = templates["jupyter-notebook-k8s"]
    assert template.parameters_schema["properties"]["profile"]["enum"] == ["cpu", "gpu-1", "gpu-4"]
    template.config["profiles"] = {
        "small": {"label": "Small (1 core)", "image": "quay.io/jupyter/minimal-notebook:2025-10-20", "cpu": "1"},
        "cpu": template.config["profiles"]["cpu"],
    }
    template.save()
    template.refresh_from_db()
    choice = template.parameters_schema["properties"]["profile"]
    assert choice["enum"] == ["small", "cpu"]
    assert choice["x-labels"] == {"small": "Small (1 core)", "cpu": "CPU (2 cores, 8 GB)"}
    assert choice["default"] == "cpu"
