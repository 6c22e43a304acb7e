"""Isolation of scientists' programs on this machine: the sandbox, team accounts, limits and the user environment.

The four names other parts rely on: `team_account(team)`, `team_python(team)`, `team_folder(team)` and
`sandbox_command(argv, *, account, workdir, binds, limits)`. `sandbox_for(resource, ...)` puts them together for
the local notebook and job drivers.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from provisioning.sandbox import userenv
from provisioning.sandbox.accounts import (
    Account,
    account_name,
    own,
    running_as_root,
    team_account,
    team_bucket_folders,
    team_folder,
    traversable,
    write_new,
)
from provisioning.sandbox.command import sandbox_command, sandbox_problem
from provisioning.sandbox.limits import Limits, cgroup_dirs, limits_prepare

__all__ = [
    "Account",
    "account_name",
    "Limits",
    "cgroup_dirs",
    "limits_for",
    "local_compute_problem",
    "own",
    "sandbox_command",
    "sandbox_for",
    "sandbox_problem",
    "team_account",
    "team_folder",
    "team_python",
    "traversable",
    "write_new",
]


def _driver_error(message: str, reason: str):
    from provisioning.failures import DriverError

    return DriverError(message, reason=reason)


def local_compute_problem() -> str | None:
    """Why notebooks and jobs cannot run on this machine now (no working sandbox, no user environment), or None."""
    problem = sandbox_problem()
    if problem:
        return problem
    if not userenv.base_ready():
        return (
            "The Python environment of notebooks and jobs is not built on this machine yet. "
            "Fix: run `make run`, or `.venv/bin/python -m provisioning.sandbox.userenv`."
        )
    return None


def team_python(team) -> str:
    """The python of the team's environment (its writable layer over the shared base), never the portal's."""
    if not userenv.base_ready():
        raise _driver_error(
            "The Python environment of notebooks and jobs is not built on this machine yet. A Keeper builds it with "
            "`make run` (or `.venv/bin/python -m provisioning.sandbox.userenv`).",
            "no_user_env",
        )
    account = team_account(team)
    layer = team_folder(team) / ".python"
    run_as = []
    if running_as_root():
        run_as = ["setpriv", f"--reuid={account.uid}", f"--regid={account.gid}", "--clear-groups", "--no-new-privs"]
    try:
        return str(userenv.build_layer(layer, userenv.base_dir(), run_as=run_as))
    except subprocess.CalledProcessError as exc:
        raise _driver_error(
            f"The team's Python environment could not be made in {layer}: {exc.stderr.decode(errors='replace')}",
            "no_user_env",
        ) from None


def limits_for(resource) -> Limits:
    """The memory and CPU a notebook or job asked for (the template's sizes), or the template's defaults."""
    parameters, config = resource.parameters or {}, (resource.template.config or {}) if resource.template_id else {}
    memory_gb = parameters.get("memory_gb") or config.get("memory_gb")
    cpus = parameters.get("cpus") or config.get("cpus")
    from django.conf import settings

    return Limits(
        name=str(resource.id),
        memory_mb=int(float(memory_gb) * 1024) if memory_gb else None,
        cpus=float(cpus) if cpus else None,
        pids=settings.PORTAL_SANDBOX_MAX_PROCESSES // 2,
    )


def _readable_python_root() -> list[Path]:
    """The interpreter's prefix when it lives in a hidden folder (a Python under the portal user's home)."""
    prefix = Path(os.path.realpath(userenv.system_python())).parent.parent
    return [] if prefix in (Path("/usr"), Path("/usr/local")) else [prefix]


def sandbox_for(resource, argv: list[str], *, workdir: Path, extra_binds: list[Path] = ()) -> tuple[list, Limits]:
    """The sandboxed command line of a local notebook or job, its cgroups made; raises when no sandbox works."""
    problem = sandbox_problem()
    if problem:
        raise _driver_error(problem, "no_sandbox")
    team = resource.team
    account = team_account(team)
    binds = [team_folder(team), *team_bucket_folders(team), *extra_binds]
    limits = limits_for(resource)
    limits_prepare(limits)
    ro = [userenv.base_dir(), *_readable_python_root()]
    return sandbox_command(argv, account=account, workdir=workdir, binds=binds, limits=limits, ro_binds=ro), limits
