"""A small Kustomize renderer for the features deploy/kubernetes uses (the kustomize binary is not always here).

Supported: `resources` (files and folders with a kustomization.yaml), `namespace`, `labels` (pairs, without
selectors), `images` (newName/newTag), and `patches` given by `path` (strategic merge: maps merge, lists of maps with a
`name` merge by name, other lists are replaced). Anything else raises, so the manifests cannot quietly outgrow it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

KNOWN = {"apiVersion", "kind", "namespace", "labels", "resources", "patches", "images"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass"}


def _load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _merge(base, patch):
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(x, dict) and "name" in x for x in base + patch)
    ):
        out = [copy.deepcopy(x) for x in base]
        index = {x["name"]: i for i, x in enumerate(out)}
        for item in patch:
            if item["name"] in index:
                out[index[item["name"]]] = _merge(out[index[item["name"]]], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def _containers(obj):
    spec = obj.get("spec", {})
    template = spec.get("template", {}).get("spec", {})
    return template.get("containers", []) + template.get("initContainers", [])


def render(folder: Path) -> list[dict]:
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KNOWN
    if unknown:
        raise ValueError(f"{folder}: kustomization fields this renderer does not know: {sorted(unknown)}")
    objects: list[dict] = []
    for entry in kustomization.get("resources", []):
        path = (folder / entry).resolve()
        objects += render(path) if path.is_dir() else _load(path)
    for patch_entry in kustomization.get("patches", []):
        if set(patch_entry) != {"path"}:
            raise ValueError(f"{folder}: only `path` patches are supported: {patch_entry}")
        for patch in _load(folder / patch_entry["path"]):
            key = (patch["kind"], patch["metadata"]["name"])
            matches = [i for i, o in enumerate(objects) if (o["kind"], o["metadata"]["name"]) == key]
            if len(matches) != 1:
                raise ValueError(f"{folder}: the patch of {key} matches {len(matches)} objects")
            objects[matches[0]] = _merge(objects[matches[0]], patch)
    namespace = kustomization.get("namespace")
    for obj in objects:
        if namespace and obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = namespace
        if namespace and obj["kind"] == "Namespace":
            obj["metadata"]["name"] = namespace
        if namespace and obj["kind"] in ("ClusterRoleBinding", "RoleBinding"):
            for subject in obj.get("subjects", []):
                if subject.get("kind") == "ServiceAccount":
                    subject["namespace"] = namespace
        for label in kustomization.get("labels", []):
            if label.get("includeSelectors"):
                raise ValueError("labels with includeSelectors are not supported")
            obj["metadata"].setdefault("labels", {}).update(label["pairs"])
            if label.get("includeTemplates") and "template" in obj.get("spec", {}):
                obj["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
        for image in kustomization.get("images", []):
            for container in _containers(obj):
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    return objects
