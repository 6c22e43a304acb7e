"""Processes of the local drivers: started in their own session, found again by pid + start time, ended as a group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from django.conf import settings

# Variables a user's program may see from the portal's own environment; nothing else leaks (no DATABASE_URL,
# no SECRET_KEY, no cloud keys).
PASSED_THROUGH = (
    "LANG",
    "LC_ALL",
    "TZ",
    "TERM",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "LD_LIBRARY_PATH",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)


def resource_dir(resource) -> Path:
    """The folder of a local resource (working folder, logs, Jupyter config) under the data folder."""
    return settings.DATA_DIR / "resources" / str(resource.id)


def gpus_or_wait(resource, *, noun: str) -> list[int]:
    """The GPUs the resource asked for, or Queued with its place in line (`noun`: what waits, e.g. "job")."""
    from provisioning import gpus
    from provisioning.drivers.base import Queued

    wanted = int(resource.parameters.get("gpus") or 0)
    allocation = gpus.allocate(resource, wanted)
    if allocation.position:
        ahead = allocation.position - 1
        raise Queued(
            f"Waiting for {wanted} GPU{'s' if wanted > 1 else ''}: "
            f"{ahead} {noun}{'s' if ahead != 1 else ''} ahead of yours.",
            position=allocation.position,
        )
    return allocation.gpus


def clean_env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    """A fresh environment for a user's program: PATH with the portal's Python first, HOME in its folder."""
    env = {key: os.environ[key] for key in PASSED_THROUGH if key in os.environ}
    python_bin = str(Path(sys.executable).parent)
    env.update(
        {
            "PATH": f"{python_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "PYTHONUNBUFFERED": "1",
            "LANG": env.get("LANG", "C.UTF-8"),
        }
    )
    env.update(extra)
    return env


def start(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> dict:
    """Start a process in a new session (so it outlives the worker and can be ended as a group)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    return {"pid": process.pid, "create_time": psutil.Process(process.pid).create_time()}


def alive(state: dict) -> bool:
    """Whether the process recorded in `state` still runs (and is the same process, not a reused pid)."""
    pid, created = state.get("pid"), state.get("create_time")
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if created and abs(process.create_time() - created) > 1:
            return False
        if process.status() == psutil.STATUS_ZOMBIE:
            process.wait(0)  # reap it if it is our child
            return False
        return True
    except (psutil.NoSuchProcess, psutil.TimeoutExpired, ChildProcessError):
        return False


def stop(state: dict, *, grace: float = 10.0) -> bool:
    """End the process group: SIGTERM, then SIGKILL after `grace` seconds. Returns whether anything was running."""
    if not alive(state):
        return False
    pid = state["pid"]
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not alive(state):
            break
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(psutil.NoSuchProcess, psutil.TimeoutExpired, ChildProcessError):
        psutil.Process(pid).wait(2)
    return True


def tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a file, read from its end (logs can be large)."""
    if not path.exists():
        return ""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size, block, data = handle.tell(), 8192, b""
        while size > 0 and data.count(b"\n") <= lines:
            step = min(block, size)
            size -= step
            handle.seek(size)
            data = handle.read(step) + data
    return b"\n".join(data.splitlines()[-lines:]).decode("utf-8", errors="replace")


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
