"""Isolation of notebook and job pods on a cluster (issue 12, point 7).

The NetworkPolicies are read by a small evaluator of the Kubernetes NetworkPolicy rules written here from the API
reference (networking.k8s.io/v1): a pod is isolated for a direction when a policy of its namespace with that
direction in `policyTypes` selects it; traffic flows only when the sender's egress AND the receiver's ingress allow
it; a peer with only `podSelector` means pods of the policy's own namespace, with only `namespaceSelector` every
pod of the matching namespaces, with both the matching pods of the matching namespaces; `ipBlock` matches by
address (pod addresses here are in 10.0.0.0/8, as on most clusters).
"""

import ipaddress
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from portal.models import Team
from provisioning.drivers.kubernetes.manifests import (
    NOTEBOOK_PORT,
    job_manifest,
    namespace_manifest,
    network_policy_manifests,
    notebook_manifests,
)
from provisioning.models import Resource

PROFILES = yaml.safe_load((Path(__file__).resolve().parents[3] / "provisioning" / "kube_profiles.yaml").read_text())


@dataclass
class Pod:
    namespace: str
    labels: dict
    ip: str
    namespace_labels: dict = field(default_factory=dict)


def _labels_match(selector: dict, labels: dict) -> bool:
    """A LabelSelector: matchLabels and matchExpressions; the empty selector matches everything."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": not (key in labels and labels[key] in values),
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


def _peer_matches(peer: dict, policy_namespace: str, other: Pod) -> bool:
    if "ipBlock" in peer:
        ip = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        inside = ip in ipaddress.ip_network(block["cidr"])
        return inside and not any(ip in ipaddress.ip_network(cidr) for cidr in block.get("except") or [])
    pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
    if namespaces is None and other.namespace != policy_namespace:
        return False
    if namespaces is not None and not _labels_match(namespaces, other.namespace_labels):
        return False
    return pods is None or _labels_match(pods, other.labels)


def _port_matches(rule_ports, port: int, protocol: str) -> bool:
    if not rule_ports:
        return True
    return any(p.get("protocol", "TCP") == protocol and p.get("port") in (None, port) for p in rule_ports)


def _allowed(policies: list[dict], pod: Pod, other: Pod, direction: str, port: int, protocol: str) -> bool:
    """Whether `pod`'s namespace policies let traffic in `direction` ("Ingress"/"Egress") with `other` through."""
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == pod.namespace
        and direction in p["spec"].get("policyTypes", ["Ingress"])
        and _labels_match(p["spec"]["podSelector"], pod.labels)
    ]
    if not selecting:
        return True  # not isolated in that direction
    for policy in selecting:
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(peer, pod.namespace, other) for peer in peers)
            if peer_ok and _port_matches(rule.get("ports"), port, protocol):
                return True
    return False


def reachable(policies, source: Pod, target: Pod, port: int, protocol: str = "TCP") -> bool:
    return _allowed(policies, source, target, "Egress", port, protocol) and _allowed(
        policies, target, source, "Ingress", port, protocol
    )


def _team_policies(*slugs):
    return [
        policy
        for slug in slugs
        for policy in network_policy_manifests(slug, ingress_namespace="ingress-nginx", portal_namespace="portal")
    ]


def _resource(team, kind, **parameters):
    return Resource(id=uuid.uuid4(), team=Team(slug=team, name=team), kind=kind, name="work", parameters=parameters)


def _pod_of(manifest: dict, ip: str) -> Pod:
    """The pod a StatefulSet or Job makes from its template, in its namespace with Kubernetes' namespace labels."""
    namespace = manifest["metadata"]["namespace"]
    labels = manifest["spec"]["template"]["metadata"]["labels"]
    team = labels["portal.research/team"]
    namespace_labels = {**namespace_manifest(team)["metadata"]["labels"], "kubernetes.io/metadata.name": namespace}
    return Pod(namespace, labels, ip, namespace_labels)


def _notebook_pod(team, ip):
    statefulset = next(
        m for m in notebook_manifests(_resource(team, "notebook"), PROFILES["cpu"]) if m["kind"] == "StatefulSet"
    )
    return _pod_of(statefulset, ip)


def _job_pod(team, ip):
    return _pod_of(job_manifest(_resource(team, "training_job", command="python train.py"), PROFILES["cpu"]), ip)


INGRESS_CONTROLLER = Pod(
    "ingress-nginx",
    {"app.kubernetes.io/name": "ingress-nginx"},
    "10.0.9.9",
    {"kubernetes.io/metadata.name": "ingress-nginx"},
)
PORTAL = Pod("portal", {"app": "portal"}, "10.0.8.8", {"kubernetes.io/metadata.name": "portal"})
COREDNS = Pod("kube-system", {"k8s-app": "kube-dns"}, "10.0.0.10", {"kubernetes.io/metadata.name": "kube-system"})
METADATA = Pod("", {}, "169.254.169.254")  # the cloud's metadata endpoint (credentials of the node)
API_SERVER = Pod("default", {"component": "apiserver"}, "10.96.0.1", {"kubernetes.io/metadata.name": "default"})
INTERNET = Pod("", {}, "151.101.0.223")  # pypi.org


def test_a_pod_of_team_a_is_not_reachable_from_team_b():
    policies = _team_policies("team-a", "team-b")
    a_notebook, a_job = _notebook_pod("team-a", "10.1.0.5"), _job_pod("team-a", "10.1.0.6")
    b_notebook, b_job = _notebook_pod("team-b", "10.2.0.5"), _job_pod("team-b", "10.2.0.6")
    for source in (b_notebook, b_job):
        for target in (a_notebook, a_job):
            for port in (NOTEBOOK_PORT, 22, 80, 6006):
                assert not reachable(policies, source, target, port), (source.labels, target.labels, port)
    # and the other way round
    assert not reachable(policies, a_job, b_notebook, NOTEBOOK_PORT)


def test_only_the_ingress_controller_and_the_portal_reach_notebooks():
    policies = _team_policies("team-a", "team-b")
    a_notebook, a_job = _notebook_pod("team-a", "10.1.0.5"), _job_pod("team-a", "10.1.0.6")
    assert reachable(policies, INGRESS_CONTROLLER, a_notebook, NOTEBOOK_PORT)
    assert reachable(policies, PORTAL, a_notebook, NOTEBOOK_PORT)  # idle culling reads Jupyter's activity
    assert not reachable(policies, INGRESS_CONTROLLER, a_notebook, 22)  # only the notebook's port
    assert not reachable(policies, INGRESS_CONTROLLER, a_job, 8080)  # jobs serve nothing
    assert not reachable(policies, a_job, a_notebook, NOTEBOOK_PORT)  # not even a pod of the same team


def test_egress_reaches_dns_and_the_internet_but_no_private_network():
    policies = _team_policies("team-a")
    a_job = _job_pod("team-a", "10.1.0.6")
    assert reachable(policies, a_job, COREDNS, 53, "UDP")
    assert reachable(policies, a_job, INTERNET, 443)  # pip install, datasets
    assert not reachable(policies, a_job, METADATA, 80)
    assert not reachable(policies, a_job, API_SERVER, 443)
    assert not reachable(policies, a_job, PORTAL, 8000)


def test_a_keeper_may_open_a_private_network_for_egress():
    policies = network_policy_manifests("team-a", ingress_namespace="ingress-nginx", egress_allow=["10.96.0.0/16"])
    assert reachable(policies, _job_pod("team-a", "10.1.0.6"), API_SERVER, 443)


def test_the_evaluator_itself_sees_an_open_namespace_as_open():
    """Without the policies every pod reaches every other: the tests above fail when the policies are missing."""
    a_notebook, b_job = _notebook_pod("team-a", "10.1.0.5"), _job_pod("team-b", "10.2.0.6")
    assert reachable([], b_job, a_notebook, NOTEBOOK_PORT)
    assert reachable(_team_policies("team-b"), INGRESS_CONTROLLER, a_notebook, 22)  # team-a has no policy


@pytest.mark.parametrize("kind", ["notebook", "job"])
def test_pods_hold_no_token_run_as_non_root_and_bound_every_empty_dir(kind):
    if kind == "notebook":
        manifest = next(
            m
            for m in notebook_manifests(_resource("team-a", "notebook"), PROFILES["gpu-1"])
            if m["kind"] == "StatefulSet"
        )
    else:
        manifest = job_manifest(_resource("team-a", "training_job", command="python x.py"), PROFILES["gpu-1"])
    pod = manifest["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in pod["containers"]:
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    empty_dirs = [v["emptyDir"] for v in pod["volumes"] if "emptyDir" in v]
    assert empty_dirs and all(d.get("sizeLimit") for d in empty_dirs)


def test_the_ingress_serves_tls_from_the_named_secret():
    manifests = notebook_manifests(
        _resource("team-a", "notebook"), PROFILES["cpu"], ingress_host="notebooks.example.org", tls_secret="nb-tls"
    )
    ingress = next(m for m in manifests if m["kind"] == "Ingress")
    assert ingress["spec"]["tls"] == [{"hosts": ["notebooks.example.org"], "secretName": "nb-tls"}]
    plain = notebook_manifests(_resource("team-a", "notebook"), PROFILES["cpu"], ingress_host="notebooks.example.org")
    assert "tls" not in next(m for m in plain if m["kind"] == "Ingress")["spec"]


@pytest.mark.parametrize(
    "notebook_host",
    ["portal.example.org", "PORTAL.example.org:443", "https://portal.example.org/", "localhost"],
)
def test_notebooks_on_the_portals_own_host_are_refused_at_start(notebook_host):
    from django.core.exceptions import ImproperlyConfigured

    from portal.origin_checks import check_notebook_host

    with pytest.raises(ImproperlyConfigured, match="portal's own host name"):
        check_notebook_host(
            notebook_host, portal_base_url="https://portal.example.org", allowed_hosts=["localhost", "127.0.0.1"]
        )
    check_notebook_host(
        "notebooks.example.org", portal_base_url="https://portal.example.org", allowed_hosts=["portal.example.org"]
    )


def test_the_settings_refuse_to_start_with_notebooks_on_the_portals_host(tmp_path):
    import os
    import subprocess
    import sys

    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "PORTAL_DATA_DIR": str(tmp_path),
        "PORTAL_BASE_URL": "https://portal.example.org",
        "KUBERNETES_INGRESS_HOST": "portal.example.org",
    }
    code = "import django; django.setup()"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=settings.BASE_DIR)
    assert run.returncode != 0 and "is the portal's own host name" in run.stderr
    env["KUBERNETES_INGRESS_HOST"] = "notebooks.example.org"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=settings.BASE_DIR)
    assert run.returncode == 0, run.stderr


def test_each_notebook_may_get_an_origin_of_its_own():
    from provisioning.drivers.kubernetes.manifests import notebook_host

    resource = _resource("team-a", "notebook")
    host = notebook_host(resource, "notebooks.example.org", per_notebook=True)
    assert host == f"nb-work-{resource.id.hex[:6]}.notebooks.example.org"
    assert notebook_host(resource, "notebooks.example.org") == "notebooks.example.org"
    ingress = notebook_manifests(resource, PROFILES["cpu"], ingress_host=host, tls_secret="wildcard-tls")[-1]
    assert ingress["spec"]["rules"][0]["host"] == host and ingress["spec"]["tls"][0]["hosts"] == [host]
