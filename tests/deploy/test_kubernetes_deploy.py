"""deploy/kubernetes: the manifests render (base and both overlays), validate against the Kubernetes 1.33 schemas,
hold every setting, apply to the emulated API server, and grant the portal exactly the API calls its driver makes."""

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from django.conf import settings

from tests.deploy.kustomize import render

ROOT = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
FOLDERS = {"base": ROOT / "base", "small": ROOT / "overlays" / "small", "production": ROOT / "overlays" / "production"}
KUBERNETES = "1.33"
QUEUES = {"operations", "control", "previews"}
# Settings the cluster itself provides, or that only make sense outside one.
NOT_IN_CONFIG = {
    "KUBERNETES_SERVICE_HOST": "set by Kubernetes in every pod",
    "KUBECONFIG": "inside the cluster the driver uses the pod's service account",
    "KUBERNETES_CONTEXT": "the same",
}


def _by_kind(objects, kind):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _pod_specs(objects):
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield obj["metadata"]["name"], obj["spec"]["template"]["spec"]


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_every_manifest_validates_against_kubernetes_1_33(folder):
    objects = render(FOLDERS[folder])
    assert len(objects) > 20
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with its built-in kustomize) is not installed")
@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_the_python_renderer_agrees_with_kubectl_kustomize(folder):
    done = subprocess.run(["kubectl", "kustomize", str(FOLDERS[folder])], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    theirs = sorted(yaml.safe_load_all(done.stdout), key=lambda o: (o["kind"], o["metadata"]["name"]))
    ours = sorted(render(FOLDERS[folder]), key=lambda o: (o["kind"], o["metadata"]["name"]))
    assert ours == theirs


def test_every_setting_is_in_the_config_map_or_the_secret():
    objects = render(FOLDERS["base"])
    config = set(_by_kind(objects, "ConfigMap")["portal-config"]["data"])
    secret = set(_by_kind(objects, "Secret")["portal-secrets"]["stringData"])
    assert not config & secret, "a setting is both in the ConfigMap and the Secret"
    expected = settings.ENV_VARS - set(NOT_IN_CONFIG)
    assert config | secret == expected, (
        f"missing: {sorted(expected - config - secret)}; unknown: {sorted((config | secret) - expected)}"
    )
    for name in ("SECRET_KEY", "PORTAL_ENCRYPTION_KEYS", "DATABASE_URL", "REDIS_URL", "METRICS_TOKEN", "BACKUP_KEY"):
        assert name in secret


def test_web_workers_beat_and_migrations():
    objects = render(FOLDERS["base"])
    deployments = _by_kind(objects, "Deployment")
    web = deployments["portal-web"]["spec"]["template"]["spec"]
    main = web["containers"][0]
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "migrate --check" in " ".join(web["initContainers"][0]["args"])  # the web waits for the migrations
    queues = {}
    for name, deployment in deployments.items():
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        if "worker" in args:
            assert args[:4] == ["celery", "-A", "portal", "worker"]
            queues[args[args.index("-Q") + 1]] = name
    assert set(queues) == QUEUES
    beat = deployments["portal-beat"]
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["strategy"] == {"type": "Recreate"}
    assert "beat" in beat["spec"]["template"]["spec"]["containers"][0]["args"]
    job = _by_kind(objects, "Job")["portal-migrate"]
    assert "migrate --noinput" in " ".join(job["spec"]["template"]["spec"]["containers"][0]["args"])
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in _by_kind(objects, "HorizontalPodAutoscaler").values()}
    assert hpas == {"portal-web", *queues.values()}
    assert "portal-web" in _by_kind(objects, "PodDisruptionBudget")
    ingress = _by_kind(objects, "Ingress")["portal"]
    assert ingress["spec"]["tls"][0]["secretName"] == "portal-tls"
    policies = _by_kind(objects, "NetworkPolicy")
    assert policies["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_every_container_is_non_root_with_requests_and_limits(folder):
    for name, spec in _pod_specs(render(FOLDERS[folder])):
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"] + spec.get("initContainers", []):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}, name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name


def test_overlays_differ_where_they_should():
    small = render(FOLDERS["small"])
    production = render(FOLDERS["production"])
    assert "postgres" in _by_kind(small, "StatefulSet") and "redis" in _by_kind(small, "Deployment")
    assert "postgres" not in _by_kind(production, "StatefulSet") and "redis" not in _by_kind(production, "Deployment")
    assert _by_kind(small, "Secret")["portal-secrets"]["stringData"]["DATABASE_URL"].startswith("postgres://portal:")
    assert "@postgres:5432" in _by_kind(small, "Secret")["portal-secrets"]["stringData"]["DATABASE_URL"]
    assert "sslmode=verify-full" in _by_kind(production, "Secret")["portal-secrets"]["stringData"]["DATABASE_URL"]
    web = _by_kind(production, "Deployment")["portal-web"]
    assert web["spec"]["replicas"] == 3
    assert web["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example.org/research-portal:1.0.0"
