"""A real one-node Slurm cluster for the session (tests/slurm/cluster.py), and the settings that point at it."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.slurm.cluster import Cluster, missing_reason

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def slurm_cluster():
    """munged, slurmctld and slurmd in a folder of their own (loopback only), stopped after the session.

    The packages are installed when missing and the tests run as root (scripts/test-system-deps.sh); otherwise the
    Slurm tests skip with the reason."""
    reason = missing_reason()
    if reason and os.geteuid() == 0:
        subprocess.run(["bash", str(BASE_DIR / "scripts" / "test-system-deps.sh")], check=False, timeout=600)
        reason = missing_reason()
    if reason:
        pytest.skip(reason)
    # Under /tmp, readable by the team accounts the jobs run as (pytest's own tmp folders are private to root).
    folder = Path(tempfile.mkdtemp(prefix="portal-slurm-"))
    folder.chmod(0o755)
    cluster = Cluster(folder)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.cancel_all()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _team_python(folder: Path) -> str:
    """A Python the team accounts can run, with the portal's packages (JupyterLab): the stand-in for a team's
    environment. The portal's own .venv links to a Python under /root, which other accounts cannot enter."""
    system = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")
    subprocess.run([system, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    site = next(folder.glob("lib/python3*/site-packages"))
    (site / "portal.pth").write_text(next(Path(sys.prefix).glob("lib/python3*/site-packages")).as_posix() + "\n")
    return str(folder / "bin" / "python")


@pytest.fixture(scope="session")
def slurm_env(slurm_cluster):
    """What the portal needs to use the test cluster (the test process and the worker both get it)."""
    return {
        "SLURM_PYTHON": _team_python(slurm_cluster.folder / "team-python"),
        "SLURM_CONF": str(slurm_cluster.conf),
        "SLURM_WORK_ROOT": str(slurm_cluster.folder / "jobs"),
        "SLURM_NOTEBOOK_BIND_ADDRESS": "127.0.0.1",
    }


@pytest.fixture
def slurm_settings(slurm_env, settings):
    """This test process uses the test cluster; Slurm's answers cached by an earlier test are forgotten."""
    from provisioning.drivers.slurm import client

    for key, value in slurm_env.items():
        setattr(settings, key, value)
    client.forget_all()
    yield slurm_env
    client.forget_all()


@pytest.fixture
def slurm_worker(live_worker, slurm_env, slurm_settings, slurm_cluster):
    """The session's real Celery worker, restarted once with the cluster's settings; jobs left are cancelled."""
    if any(live_worker.env.get(key) != value for key, value in slurm_env.items()):
        live_worker.stop()
        live_worker.env.update(slurm_env)
        live_worker.start()
    yield live_worker
    slurm_cluster.cancel_all()
