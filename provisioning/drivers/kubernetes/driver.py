"""Notebooks and training jobs on a Kubernetes cluster, through the same forms as on one machine.

Scientists pick a profile (CPU, 1 GPU, 4 GPUs...) that Keepers define on the template (`config.profiles`); the
builders in kube_manifests.py turn it into objects, kube.py writes them and reads pods back into words. The driver is
offered only when a cluster is configured.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime

import yaml
from django.conf import settings
from django.utils import timezone

from provisioning.drivers.base import IN_PROGRESS, Driver, DriverError, Outputs, Status, register
from provisioning.drivers.kubernetes import client as kube
from provisioning.drivers.kubernetes import results
from provisioning.drivers.kubernetes.manifests import (
    ManifestError,
    job_manifest,
    namespace_for,
    namespace_manifest,
    network_policy_manifests,
    notebook_host,
    notebook_manifests,
    object_name,
    results_secret_manifest,
)
from provisioning.drivers.shared import jupyter_last_activity, split_command

STATE_VERSION = 1


def profiles_of(config: dict | None) -> dict:
    return dict((config or {}).get("profiles") or {})


def _profile_error(parameters, config) -> str | None:
    profiles = profiles_of(config)
    if not profiles:
        return "This template has no profiles; a Keeper must add some."
    if parameters.get("profile") not in profiles:
        return f"Pick one of the profiles: {', '.join(p.get('label', k) for k, p in profiles.items())}."
    return None


def _since(timestamp: str | None) -> float:
    if not timestamp:
        return 0.0
    try:
        when = datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (timezone.now() - when).total_seconds()


def team_network_policies(team_slug: str) -> list[dict]:
    try:
        return network_policy_manifests(
            team_slug,
            ingress_namespace=settings.KUBERNETES_INGRESS_NAMESPACE,
            portal_namespace=settings.KUBERNETES_PORTAL_NAMESPACE,
            egress_allow=settings.KUBERNETES_EGRESS_ALLOW_CIDRS,
        )
    except ManifestError as exc:
        raise DriverError(str(exc), reason="invalid_manifest") from None


def _as_yaml(manifests: list[dict]) -> str:
    return yaml.safe_dump_all(manifests, sort_keys=False, default_flow_style=False)


class KubernetesDriver(Driver):
    name = "kubernetes"
    label = "on the Kubernetes cluster"

    @classmethod
    def available(cls) -> bool:
        return kube.configured()

    @classmethod
    def warm_up(cls) -> None:
        import kubernetes.client  # noqa: F401  (seconds to import on a busy machine: once, before the pool forks)

    # Shared parts -------------------------------------------------------------------------------------------------

    def validate(self, parameters, *, team, config=None):
        problem = _profile_error(parameters, config)
        return {"profile": problem} if problem else {}

    def usage(self, parameters, config=None):
        profile = profiles_of(config).get(parameters.get("profile")) or {}
        return {"gpus": int(profile.get("gpus") or 0)}

    def _profile(self, resource) -> tuple[str, dict]:
        """The profile chosen at request time; kept in driver_state so later edits by Keepers do not move it."""
        state = resource.driver_state or {}
        if state.get("profile_spec"):
            return state["profile"], state["profile_spec"]
        key = resource.parameters.get("profile")
        profile = profiles_of(resource.template.config).get(key)
        if not profile:
            raise DriverError(
                f"The profile '{key}' no longer exists on this template. Delete this one and request it again.",
                reason="no_profile",
            )
        return key, profile

    def _connect(self) -> None:
        if not kube.configured():
            raise DriverError(
                "No Kubernetes cluster is configured for the portal any more. Tell the Keepers.", reason="no_cluster"
            )

    def _write(self, manifests: list[dict], log) -> dict[str, dict]:
        written = {}
        for manifest in manifests:
            written[manifest["kind"]] = kube.create_or_patch(manifest)
            log(f"Wrote {manifest['kind']} {manifest['metadata']['namespace']}/{manifest['metadata']['name']}.")
        return written

    def _ensure_namespace(self, resource, log) -> str:
        """The team's namespace and its NetworkPolicies (teams apart; only the Ingress reaches notebooks)."""
        manifest = namespace_manifest(resource.team.slug)
        kube.ensure_namespace(manifest)
        for policy in team_network_policies(resource.team.slug):
            kube.create_or_patch(policy)
        return manifest["metadata"]["name"]

    @staticmethod
    def _unschedulable_too_long(progress, pod) -> float:
        """Seconds the pod has found no node, when that is past the limit; 0 otherwise."""
        if not progress.unschedulable:
            return 0.0
        conditions = ((pod or {}).get("status") or {}).get("conditions") or []
        since = next((c.get("lastTransitionTime") for c in conditions if c.get("type") == "PodScheduled"), None)
        waited = _since(since)
        return waited if waited > settings.KUBERNETES_UNSCHEDULABLE_LIMIT_SECONDS else 0.0

    def _newest_pod(self, resource, namespace) -> dict | None:
        pods = kube.pods_of(namespace, str(resource.id))
        return pods[0] if pods else None

    def logs(self, resource, tail: int = 200) -> str:
        state = resource.driver_state or {}
        if not state.get("namespace") or not kube.configured():
            return ""
        try:
            pod = state.get("pod") or (self._newest_pod(resource, state["namespace"]) or {}).get("metadata", {}).get(
                "name"
            )
            return kube.pod_log(state["namespace"], pod, tail) if pod else ""
        except kube.KubeError as exc:
            return f"(The log cannot be read right now: {exc.message})"


@register
class KubeNotebookDriver(KubernetesDriver):
    kinds = frozenset({"notebook"})
    can_stop = True

    def usage(self, parameters, config=None):
        return {
            **super().usage(parameters, config),
            "notebooks": 1,
            "storage_gb": int(parameters.get("storage_gb") or 0),
        }

    def _build(self, resource, profile) -> list[dict]:
        try:
            return notebook_manifests(
                resource,
                profile,
                ingress_host=self._host(resource),
                ingress_class=settings.KUBERNETES_INGRESS_CLASS,
                tls_secret=settings.KUBERNETES_INGRESS_TLS_SECRET,
            )
        except ManifestError as exc:
            raise DriverError(str(exc), reason="invalid_manifest") from None

    @staticmethod
    def _host(resource) -> str:
        return notebook_host(
            resource, settings.KUBERNETES_INGRESS_HOST, per_notebook=settings.KUBERNETES_INGRESS_SUBDOMAINS
        )

    def _url(self, resource, name: str, namespace: str) -> str:
        if settings.KUBERNETES_INGRESS_HOST:
            base = f"{settings.KUBERNETES_INGRESS_SCHEME}://{self._host(resource)}"
        else:  # reachable inside the cluster only
            base = f"http://{name}.{namespace}.svc.cluster.local"
        return f"{base}/notebooks/{name}/lab"

    def apply(self, resource, log) -> Outputs:
        self._connect()
        key, profile = self._profile(resource)
        namespace = self._ensure_namespace(resource, log)
        token = resource.secrets.get("token") or secrets.token_urlsafe(32)
        manifests = self._build(resource, profile)
        for manifest in manifests:
            if manifest["kind"] == "Secret":
                manifest["stringData"] = {"token": token}
        if hasattr(log, "add_secrets"):  # the token never shows in the operation log
            log.add_secrets({"token": token})
        written = self._write(manifests, log)
        name = manifests[0]["metadata"]["name"]
        self._own(written, manifests, namespace, log)
        state = {
            "version": STATE_VERSION,
            "namespace": namespace,
            "name": name,
            "pod": f"{name}-0",
            "profile": key,
            "profile_spec": profile,
            "started_at": time.time(),
        }
        # Nothing waits in a worker: the control loop polls the pod until it is ready (see poll).
        pod = kube.read("Pod", state["pod"], namespace)
        events = kube.events_of(namespace, state["pod"]) if pod else []
        progress = kube.pod_progress(pod, events, gpus=int(profile.get("gpus") or 0))
        getattr(log, "progress", log)(progress.message)
        url = self._url(resource, name, namespace)
        outputs = {"url": url, "profile": profile.get("label", key)}
        if resource.parameters.get("storage_gb"):
            outputs["storage"] = f"{resource.parameters['storage_gb']} GB, kept when it stops"
        return Outputs(
            outputs=outputs,
            secrets={"token": token, "url_with_token": f"{url}?token={token}"},
            state=state,
            resource_state=IN_PROGRESS,
            message=progress.message,
        )

    def _own(self, written, manifests, namespace, log) -> None:
        """Make the StatefulSet the owner of the other objects, so deleting it removes them all (real clusters)."""
        owner = written.get("StatefulSet", {}).get("metadata", {})
        if not owner.get("uid"):
            log("The API server gave no uid to the StatefulSet, so no owner references; delete removes each by name.")
            return
        reference = {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "name": owner["name"],
            "uid": owner["uid"],
            "blockOwnerDeletion": False,
        }
        for manifest in manifests:
            if manifest["kind"] in ("StatefulSet", "Namespace"):
                continue
            kube.patch(
                manifest["kind"],
                manifest["metadata"]["name"],
                namespace,
                {"metadata": {"ownerReferences": [reference]}},
            )

    def poll(self, resource) -> Status:
        state = resource.driver_state or {}
        if not state.get("name"):
            return Status("pending")
        statefulset = kube.read("StatefulSet", state["name"], state["namespace"])
        if statefulset is None:
            return Status("missing", "The notebook's server is gone from the cluster. Delete it and request a new one.")
        if not (statefulset.get("spec") or {}).get("replicas"):
            return Status("stopped", "Stopped; your files are kept.")
        pod = kube.read("Pod", state["pod"], state["namespace"])
        events = kube.events_of(state["namespace"], state["pod"]) if pod else []
        progress = kube.pod_progress(pod, events, gpus=int(state.get("profile_spec", {}).get("gpus") or 0))
        if progress.fatal:
            return Status("failed", progress.message)
        starting = resource.state in ("provisioning", "starting")
        if progress.phase == "ready":
            if starting:
                return Status("ready", "Ready: open it with the Open notebook button.")
            return Status("ready", "Running.", last_activity_at=self._last_activity(resource))
        if not starting:
            return Status("ready", f"Restarting: {progress.message}")
        if waited := self._unschedulable_too_long(progress, pod):
            return Status(
                "failed",
                f"{progress.message} It waited {round(waited / 60)} minutes for room on the cluster; pick a "
                "smaller profile, or try again later.",
            )
        if time.time() - state.get("started_at", time.time()) > settings.KUBERNETES_START_TIMEOUT_SECONDS:
            return Status(
                "failed",
                f"It did not start within {settings.KUBERNETES_START_TIMEOUT_SECONDS // 60} minutes (last: "
                f"{progress.message}) Start it again, or tell the Keepers if it happens again.",
            )
        return Status("pending", progress.message)

    def files(self, resource):
        """The running notebook's volume (~/work), through its own Jupyter Contents API (notebook_files.py), when the
        portal reaches the notebook (Ingress, or in the cluster) as idle culling does; None when it is not running."""
        from provisioning.drivers.kubernetes.notebook_files import NotebookContents

        url, token = (resource.outputs or {}).get("url", ""), resource.secrets.get("token", "")
        if resource.state != "ready" or not url.endswith("/lab") or not token:
            return None
        if not (settings.KUBERNETES_INGRESS_HOST or kube.in_cluster()):
            return None
        return NotebookContents(url[: -len("/lab")], token)

    def _last_activity(self, resource):
        """Jupyter's own last activity, for idle culling, when the worker can reach the notebook (Ingress or
        in-cluster); None otherwise (then it is not culled)."""
        if not (settings.KUBERNETES_INGRESS_HOST or kube.in_cluster()):
            return None
        url, token = resource.outputs.get("url", ""), resource.secrets.get("token", "")
        if not url.endswith("/lab") or not token:
            return None
        try:
            return jupyter_last_activity(url[: -len("/lab")], token, timeout=2)
        except (OSError, ValueError):
            return None

    def stop(self, resource, log) -> None:
        state = resource.driver_state or {}
        if not state.get("name"):
            log("The notebook was never started.")
            return
        if not kube.scale("StatefulSet", state["name"], state["namespace"], 0):
            log("The notebook's server was already gone.")
            return
        log("Scaled the notebook to 0: its server stops, its volume and your files are kept.")

    def start(self, resource, log) -> Outputs:
        return self.apply(resource, log)

    def destroy(self, resource, log) -> None:
        state = resource.driver_state or {}
        namespace = state.get("namespace") or namespace_for(resource.team.slug)
        name = state.get("name") or object_name(resource, "nb")
        self._connect()
        for kind in ("Ingress", "Service", "StatefulSet", "PersistentVolumeClaim", "Secret"):
            if kube.delete(kind, name, namespace):
                log(f"Deleted {kind} {namespace}/{name}.")

    def preview(self, resource) -> str:
        _, profile = self._profile(resource)
        return _as_yaml(
            [
                namespace_manifest(resource.team.slug),
                *self._build(resource, profile),
                *team_network_policies(resource.team.slug),
            ]
        )


@register
class KubeJobDriver(KubernetesDriver):
    kinds = frozenset({"training_job"})
    can_cancel = True

    def validate(self, parameters, *, team, config=None):
        errors = super().validate(parameters, team=team, config=config)
        try:
            if not split_command(parameters.get("command")):
                errors["command"] = "Give the command to run, for example: python train.py --epochs 10"
        except ValueError as exc:
            errors["command"] = f"The command cannot be read ({exc}); check its quotes."
        return errors

    def _build(self, resource, profile, config, where: dict | None = None) -> dict:
        extra = {}
        if where:
            extra = {
                "results": {
                    **where,
                    "endpoint": settings.KUBERNETES_RESULTS_ENDPOINT_URL or settings.S3_ENDPOINT_URL,
                    "region": settings.S3_REGION,
                    "image": settings.KUBERNETES_RESULTS_SYNC_IMAGE,
                    "seconds": settings.KUBERNETES_RESULTS_SYNC_SECONDS,
                },
                "sync_script": results.SYNC_SCRIPT,
            }
        try:
            return job_manifest(resource, profile, queue=str((config or {}).get("queue") or ""), **extra)
        except ManifestError as exc:
            raise DriverError(str(exc), reason="invalid_manifest") from None

    def apply(self, resource, log) -> Outputs:
        self._connect()
        key, profile = self._profile(resource)
        namespace = self._ensure_namespace(resource, log)
        manifest = self._build(resource, profile, resource.template.config)
        name = manifest["metadata"]["name"]
        where = (resource.driver_state or {}).get("results")
        existing = kube.read("Job", name, namespace)
        if existing is not None and kube.job_outcome(existing) is not None:
            # Run again (retry): a finished Job cannot be restarted, so it is replaced.
            kube.delete("Job", name, namespace)
            log(f"Removed the earlier, finished run {name}.")
            if kube.read("Job", name, namespace) is not None:  # never wait here: try again shortly
                raise DriverError("The earlier run of this job is still being removed.", retryable=True)
            existing = None
        if existing is None:
            manifests = [manifest]
            if results.configured():  # issue 15: the results prefix, its key (a fresh one per run) and the sidecar
                place, job_key = results.prepare(resource, log)
                where = {k: place[k] for k in ("bucket", "prefix", "user")}
                manifests = [
                    results_secret_manifest(resource, job_key),
                    self._build(
                        resource,
                        profile,
                        resource.template.config,
                        {"bucket": place["bucket"], "prefix": place["prefix"]},
                    ),
                ]
            self._write(manifests, log)
        else:
            log(f"The job {name} was already started; following it.")
        state = {
            "version": STATE_VERSION,
            "namespace": namespace,
            "name": name,
            "profile": key,
            "profile_spec": profile,
            "started_at": time.time(),
        }
        if where:
            state["results"] = where
        resource.driver_state = state  # _newest_pod and logs read it
        # Nothing waits in a worker: the control loop polls the job (see poll) and ends it on a fatal pod state.
        pod = self._newest_pod(resource, namespace)
        events = kube.events_of(namespace, pod["metadata"]["name"]) if pod else []
        progress = kube.pod_progress(pod, events, gpus=int(profile.get("gpus") or 0))
        message = "Running." if progress.phase in ("running", "ready", "succeeded") else progress.message
        outputs = {"profile": profile.get("label", key)}
        if where:
            outputs["results"] = f"s3://{where['bucket']}/{where['prefix']}"
        return Outputs(outputs=outputs, state=state, resource_state="running", message=message)

    def poll(self, resource) -> Status:
        state = resource.driver_state or {}
        if not state.get("name"):
            return Status("pending")
        job = kube.read("Job", state["name"], state["namespace"])
        pod = self._newest_pod(resource, state["namespace"])
        events = kube.events_of(state["namespace"], pod["metadata"]["name"]) if pod else []
        progress = kube.pod_progress(pod, events, gpus=int(state.get("profile_spec", {}).get("gpus") or 0))
        outputs = dict(resource.outputs)
        if progress.exit_code is not None:
            outputs["exit_code"] = progress.exit_code
        if state.get("started_at"):
            outputs["runtime_seconds"] = round(time.time() - state["started_at"])
        outcome = kube.job_outcome(job)
        if outcome is not None:
            return Status(outcome[0], outcome[1], outputs=outputs)
        if progress.fatal or progress.phase in ("succeeded", "failed"):
            return Status("failed" if progress.fatal else progress.phase, progress.message, outputs=outputs)
        if self._unschedulable_too_long(progress, pod):
            return Status("failed", f"{progress.message} It waited too long for room on the cluster.", outputs=outputs)
        return Status("running", "Running." if progress.phase in ("running", "ready") else progress.message)

    def end_failed(self, resource, log) -> None:
        """A failed job's pod must not stay pulling a broken image for hours on a GPU node: the loop ends it."""
        self.stop(resource, log)

    def stop(self, resource, log) -> None:
        state = resource.driver_state or {}
        if state.get("name") and kube.delete("Job", state["name"], state["namespace"]):
            log("Cancelled the job: the cluster ends its pod.")
        else:
            log("The job was not running.")

    def destroy(self, resource, log) -> None:
        self._connect()
        state = resource.driver_state or {}
        name = state.get("name") or object_name(resource, "job")
        namespace = state.get("namespace") or namespace_for(resource.team.slug)
        if kube.delete("Job", name, namespace):
            log(f"Deleted Job {namespace}/{name} and its pods.")
        if kube.delete("Secret", object_name(resource, "results"), namespace):
            log("Deleted its results key.")
        results.remove(state, log)

    @staticmethod
    def _preview_results(resource) -> dict | None:
        if not results.configured():
            return None
        place = results.place(resource)
        return {"bucket": place["bucket"], "prefix": place["prefix"]}

    def preview(self, resource) -> str:
        _, profile = self._profile(resource)
        return _as_yaml(
            [
                namespace_manifest(resource.team.slug),
                self._build(resource, profile, resource.template.config, self._preview_results(resource)),
                *team_network_policies(resource.team.slug),
            ]
        )
