"""A real one-node Slurm 22.05 cluster in a folder of its own: its own munge daemon and socket, its own ports.

Used by tests/slurm/conftest.py and by `make bench` (tests/bench/slurm.py). Needs root (slurmd runs jobs as other
users) and Debian's `slurm-wlm` and `munge` packages. The node declares two GPUs as generic resources backed by
character devices made with mknod, so GPU requests queue as on a real GPU node.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

GPUS = 2
CPUS = 2
MEMORY_MB = 4000


def missing_reason() -> str | None:
    """Why a cluster cannot start here, or None."""
    if os.geteuid() != 0:
        if not shutil.which("slurmctld") or not shutil.which("munged"):
            return "Slurm tests need root (or the slurm-wlm and munge packages and root to run slurmd); neither here"
        return "Slurm tests need root: slurmd starts jobs as other users"
    for tool in ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "scontrol", "sinfo", "scancel"):
        if not shutil.which(tool):
            return f"{tool} is missing (install Debian's slurm-wlm and munge: scripts/test-system-deps.sh)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """Start with `Cluster(folder).start()`, stop with `.stop()`. `env` is what clients need (SLURM_CONF)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.conf = self.folder / "slurm.conf"
        self.host = socket.gethostname().split(".")[0]
        self.env = {"SLURM_CONF": str(self.conf)}
        self.procs: list[subprocess.Popen] = []
        self.munge_pid_file = self.folder / "munge" / "munged.pid"

    def _write_config(self) -> None:
        f = self.folder
        for sub in ("state", "spool", "log", "run", "munge", "gpu", "jobs"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        for index in range(GPUS):
            device = f / "gpu" / f"gpu{index}"
            if not device.exists():
                subprocess.run(["mknod", str(device), "c", "1", "3"], check=True)  # like /dev/null
        ctld_port, d_port = _free_port(), _free_port()
        self.conf.write_text(
            f"""ClusterName=portaltest
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={f / "munge" / "munge.socket"}
CryptoType=crypto/munge
StateSaveLocation={f / "state"}
SlurmdSpoolDir={f / "spool"}/slurmd-%n
SlurmctldPidFile={f / "run" / "slurmctld.pid"}
SlurmdPidFile={f / "run" / "slurmd.pid"}
SlurmctldLogFile={f / "log" / "slurmctld.log"}
SlurmdLogFile={f / "log" / "slurmd.log"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
MinJobAge=300
KillWait=2
InactiveLimit=0
ReturnToService=2
MpiDefault=none
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
GresTypes=gpu
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={CPUS} RealMemory={MEMORY_MB} Gres=gpu:{GPUS} State=UNKNOWN
PartitionName=debug Nodes={self.host} Default=YES MaxTime=60 State=UP
PartitionName=short Nodes={self.host} MaxTime=2 State=UP
"""
        )
        devices = f / "gpu" / f"gpu[0-{GPUS - 1}]"
        (f / "gres.conf").write_text(f"AutoDetect=off\nNodeName={self.host} Name=gpu File={devices}\n")

    def _start_munge(self) -> None:
        f = self.folder / "munge"
        munge = pwd.getpwnam("munge")
        key = f / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        for path in (f, key):
            os.chown(path, munge.pw_uid, munge.pw_gid)
        f.chmod(0o755)  # clients (jobs of other users included) reach the socket
        proc = subprocess.Popen(
            [
                "setpriv",
                f"--reuid={munge.pw_uid}",
                f"--regid={munge.pw_gid}",
                "--clear-groups",
                "munged",
                "--foreground",
                "--force",
                f"--key-file={key}",
                f"--socket={f / 'munge.socket'}",
                f"--pid-file={self.munge_pid_file}",
                f"--log-file={f / 'munged.log'}",
                f"--seed-file={f / 'munged.seed'}",
            ],
            stdout=(f / "munged.out").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        self._wait(lambda: (f / "munge.socket").exists(), 20, "munged", f / "munged.log")

    def _wait(self, ready, timeout: float, what: str, log: Path) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                text = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
                raise RuntimeError(f"{what} did not start within {timeout:.0f} s:\n{text}")
            time.sleep(0.1)

    def _daemon(self, name: str) -> None:
        proc = subprocess.Popen(
            [name, "-D", "-f", str(self.conf)],
            env={**os.environ, **self.env},
            stdout=(self.folder / "log" / f"{name}.out").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)

    def run(self, *argv: str, check: bool = True) -> str:
        result = subprocess.run(
            list(argv), env={**os.environ, **self.env}, capture_output=True, text=True, timeout=30, check=False
        )
        if check and result.returncode:
            raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr or result.stdout}")
        return result.stdout

    def start(self) -> Cluster:
        self._write_config()
        self._start_munge()
        self._daemon("slurmctld")
        self._daemon("slurmd")

        def idle() -> bool:
            out = subprocess.run(
                ["sinfo", "--noheader", "--format=%t"],
                env={**os.environ, **self.env},
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout
            return any(state.strip().startswith("idle") for state in out.splitlines())

        self._wait(idle, 60, "the Slurm node", self.folder / "log" / "slurmctld.log")
        return self

    def jobs(self) -> list[str]:
        """Every job in the queue, as `id name state` lines (for tests that count jobs)."""
        out = self.run("squeue", "--noheader", "--all", "--states=all", "--format=%i %j %T")
        return [line.strip() for line in out.splitlines() if line.strip()]

    def cancel_all(self) -> None:
        self.run("scancel", "--full", *[line.split()[0] for line in self.jobs()], check=False) if self.jobs() else None

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
        self.procs.clear()
