"""Memory, CPU and process limits of one sandboxed program: cgroups where the portal may write them, else rlimits.

A program's cgroups are made before it starts (`limits_prepare`) and joined by the first process of its command line
(see `sandbox_command`), so everything it starts is counted. The supervisor (drivers/local/jobrunner.py, which
imports nothing of the portal) reads whether the kernel stopped it for memory and removes the cgroups when it ends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "portal"
V1_CONTROLLERS = ("memory", "cpu", "pids")
CPU_PERIOD_US = 100_000


@dataclass(frozen=True)
class Limits:
    """`name`: the cgroup's folder name (the resource id); None values mean no limit of that kind."""

    name: str
    memory_mb: int | None = None
    cpus: float | None = None
    pids: int | None = 1024


def cgroup_mode() -> str:
    """ "v2" or "v1" when the portal may make cgroups here, else "none" (rlimits only)."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return "v2" if os.access(CGROUP_ROOT, os.W_OK) else "none"
    if all((CGROUP_ROOT / c).is_dir() and os.access(CGROUP_ROOT / c, os.W_OK) for c in V1_CONTROLLERS):
        return "v1"
    return "none"


def cgroup_dirs(limits: Limits, mode: str | None = None) -> list[Path]:
    """The cgroup folders the program joins (one per controller in v1, one in v2; none without cgroups)."""
    mode = mode or cgroup_mode()
    if mode == "v1":
        return [CGROUP_ROOT / c / PARENT / limits.name for c in V1_CONTROLLERS]
    if mode == "v2":
        return [CGROUP_ROOT / PARENT / limits.name]
    return []


def _write(path: Path, value: str, *, required: bool = True) -> None:
    try:
        path.write_text(value)
    except OSError:
        if required:
            raise


def limits_prepare(limits: Limits) -> list[Path]:
    """Make the program's cgroups with its limits (idempotent); returns the folders to join."""
    mode = cgroup_mode()
    dirs = cgroup_dirs(limits, mode)
    if mode == "v2":
        parent = CGROUP_ROOT / PARENT
        parent.mkdir(exist_ok=True)
        for folder in (CGROUP_ROOT, parent):
            _write(folder / "cgroup.subtree_control", "+memory +cpu +pids", required=False)
        group = dirs[0]
        group.mkdir(exist_ok=True)
        if limits.memory_mb:
            _write(group / "memory.max", str(limits.memory_mb * 1024 * 1024))
            _write(group / "memory.swap.max", "0", required=False)
        if limits.cpus:
            _write(group / "cpu.max", f"{int(limits.cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}")
        if limits.pids:
            _write(group / "pids.max", str(limits.pids))
    elif mode == "v1":
        for folder in dirs:
            folder.mkdir(parents=True, exist_ok=True)
        memory, cpu, pids = dirs
        if limits.memory_mb:
            value = str(limits.memory_mb * 1024 * 1024)
            _write(memory / "memory.limit_in_bytes", value)
            _write(memory / "memory.memsw.limit_in_bytes", value, required=False)  # no escape into swap
        if limits.cpus:
            _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(cpu / "cpu.cfs_quota_us", str(int(limits.cpus * CPU_PERIOD_US)))
        if limits.pids:
            _write(pids / "pids.max", str(limits.pids))
    return dirs


def rlimit_args(limits: Limits, mode: str | None = None) -> list[str]:
    """prlimit options used where no cgroup can hold the program: its address space (a rough memory limit)."""
    mode = mode or cgroup_mode()
    if mode != "none" or not limits.memory_mb:
        return []
    return [f"--as={limits.memory_mb * 1024 * 1024}"]
