"""Where a resource's files are, for the file browser (which reads this; provisioning never imports it)."""

from __future__ import annotations

import os

# The file browser names a resource's files "resource-<id>" (and a team folder "team-<slug>").
RESOURCE_ROOT_PREFIX = "resource-"
# States in which a resource has no files worth showing (yet, or any more).
NO_FILES_STATES = ("deleted", "deleting", "rejected", "awaiting_approval", "requested")


def resource_folder(resource) -> tuple[str, str] | None:
    """Where a resource's files are, when the portal can reach them, else None:
    ("folder", path) on this machine; ("s3", "bucket" or "bucket/prefix/"); ("driver", path): on a cluster's file
    system or in a pod that only the driver reaches (its `files(resource)` capability: a Slurm job's or notebook's
    folder, a running Kubernetes notebook's volume)."""
    state = resource.driver_state or {}
    if resource.state in NO_FILES_STATES:
        return None
    if resource.kind == "bucket":
        if state.get("mode") == "s3" and state.get("bucket"):
            return "s3", state["bucket"]
        return ("folder", state["path"]) if state.get("path") else None
    if resource.driver == "local" and state.get("workdir"):
        return "folder", state["workdir"]
    if resource.driver == "slurm" and state.get("workdir"):
        return "driver", state["workdir"]
    if resource.driver == "kubernetes" and resource.kind == "notebook" and resource.state == "ready":
        # A running notebook, when the portal reaches it (Ingress, or inside the cluster): its Jupyter Contents API.
        from django.conf import settings

        url = (resource.outputs or {}).get("url", "")
        reachable = settings.KUBERNETES_INGRESS_HOST or settings.KUBERNETES_SERVICE_HOST
        return ("driver", url) if url and reachable else None
    results = state.get("results") or {}
    if resource.driver == "kubernetes" and results.get("bucket") and results.get("prefix"):
        return "s3", f"{results['bucket']}/{results['prefix']}"
    return None


def files_key(resource) -> str:
    """The file browser's name for this resource's files, or '' when it has none the portal can reach."""
    return f"{RESOURCE_ROOT_PREFIX}{resource.pk}" if resource_folder(resource) else ""


def team_folder_paths(team, *, depth: int = 2, limit: int = 300) -> list[str]:
    """Files and folders of the team folder, two levels deep, as paths a job can start from (folders end in /)."""
    from provisioning.sandbox import team_folder

    base = team_folder(team)
    found: list[str] = []
    for current, dirs, names in os.walk(base):
        relative = os.path.relpath(current, base)
        level = 0 if relative == "." else relative.count(os.sep) + 1
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))[:limit] if level < depth else []
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        found += [prefix + d + "/" for d in dirs] + [prefix + n for n in sorted(names) if not n.startswith(".")]
        if len(found) >= limit:
            break
    return sorted(found)[:limit]
