"""`make bench` (slurm): 50 job submissions (quick: 10) through the portal until all are in squeue, next to as many
bare sbatch calls.

Both go to the same real one-node test cluster (tests/slurm/cluster.py), started before the portal so the portal's
worker uses it. Needs root and Debian's slurm-wlm and munge; skipped with the reason otherwise.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tests.bench.common import figure, print_figures, size
from tests.slurm.cluster import Cluster, missing_reason

TITLE = "Slurm submissions"
_state: dict = {}


@contextlib.contextmanager
def cluster_for(which: list[str]):
    """Start the test cluster (and point the portal about to start at it) when the slurm benchmark is asked for."""
    if "slurm" not in which:
        yield
        return
    reason = missing_reason()
    if reason:
        _state["skip"] = reason
        yield
        return
    folder = Path(tempfile.mkdtemp(prefix="portal-bench-slurm-"))
    folder.chmod(0o755)
    cluster = Cluster(folder).start()
    _state["cluster"] = cluster
    os.environ.update(SLURM_CONF=str(cluster.conf), SLURM_WORK_ROOT=str(folder / "jobs"))
    try:
        yield
    finally:
        cluster.cancel_all()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _in_queue(cluster: Cluster, prefix: str) -> int:
    return sum(1 for line in cluster.jobs() if prefix in line)


def _wait_for_queue(cluster: Cluster, prefix: str, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while _in_queue(cluster, prefix) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {_in_queue(cluster, prefix)} of {count} jobs reached squeue")
        time.sleep(0.05)


def run(portal) -> dict:
    if "skip" in _state or "cluster" not in _state:
        print(f"\nslurm: skipped ({_state.get('skip', 'no cluster')})")
        return {"skipped": _state.get("skip", "no cluster"), "figures": []}
    count = size(50, 5)
    cluster: Cluster = _state["cluster"]
    stamp = int(time.time())
    started = time.perf_counter()
    ids = [
        portal.call(
            "POST",
            "/api/v1/resources/",
            {
                "template": "training-job-slurm",
                "team": "demo",
                "name": f"slurm-{stamp}-{i}",
                "parameters": {"command": "sleep 30", "memory_gb": 1},
            },
        )["id"]
        for i in range(count)
    ]
    requests_done = time.perf_counter() - started
    deadline = time.monotonic() + 300
    while sum(1 for line in cluster.jobs() if any(f"portal-{rid}" in line for rid in ids)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the portal's jobs did not all reach squeue within 300 s")
        time.sleep(0.05)
    portal_seconds = time.perf_counter() - started
    for resource_id in ids:
        portal.call("DELETE", f"/api/v1/resources/{resource_id}/")
    cluster.cancel_all()

    account = pwd.getpwnam("pt-demo") if _has_user("pt-demo") else pwd.getpwnam("nobody")
    script = "#!/bin/bash\nsleep 30\n"
    bare_times = []
    started = time.perf_counter()
    for i in range(count):
        one = time.perf_counter()
        subprocess.run(
            [
                "sbatch",
                "--parsable",
                f"--uid={account.pw_uid}",
                f"--gid={account.pw_gid}",
                f"--job-name=bare-{stamp}-{i}",
                "--mem=1024M",
                "--output=/dev/null",
            ],
            input=script,
            text=True,
            capture_output=True,
            check=True,
            env={"PATH": "/usr/bin:/bin", **cluster.env},
        )
        bare_times.append(time.perf_counter() - one)
    _wait_for_queue(cluster, f"bare-{stamp}-", count)
    bare_seconds = time.perf_counter() - started
    cluster.cancel_all()
    figures = [
        figure(
            f"{count} submissions through the portal (API), until all in squeue",
            portal_seconds,
            "s",
            peer=f"{count} bare sbatch calls, until all in squeue",
            peer_value=bare_seconds,
        )
    ]
    print_figures(TITLE, figures)
    print(
        f"  of which the API requests {requests_done:.2f} s; one bare sbatch, median "
        f"{statistics.median(bare_times) * 1000:.0f} ms"
    )
    return {
        "figures": figures,
        "details": {
            "count": count,
            "portal_seconds": portal_seconds,
            "portal_requests_seconds": requests_done,
            "bare_seconds": bare_seconds,
            "bare_sbatch_seconds": bare_times,
        },
    }


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
