"""Slurm's commands, run as argument lists (never through a shell), with a clean environment.

Reads (squeue, sinfo, scontrol, sacct) run as the portal's own user; what acts for a team (sbatch, scancel, making
its folders) runs as the team's account: `--uid/--gid` when the portal is root on the submit host, else through
SLURM_SUBMIT_PREFIX (for example `sudo -n -u {account}`). One squeue call serves every poll for about a second.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import threading
import time
from pathlib import Path

from django.conf import settings

from provisioning.drivers.base import DriverError
from provisioning.drivers.slurm import parse

COMMAND_TIMEOUT_SECONDS = 20
QUEUE_CACHE_SECONDS = 1.0
PARTITION_CACHE_SECONDS = 30.0

_lock = threading.Lock()
_queue_cache: dict[tuple, tuple[float, list[parse.QueueRow]]] = {}
_partition_cache: dict[tuple, tuple[float, dict[str, parse.Partition]]] = {}


def conf_path() -> str:
    """The slurm.conf the tools use: SLURM_CONF, else the default one when it exists, else ""."""
    if settings.SLURM_CONF:
        return settings.SLURM_CONF
    return settings.SLURM_DEFAULT_CONF if Path(settings.SLURM_DEFAULT_CONF).is_file() else ""


def configured() -> bool:
    """A cluster is configured: a slurm.conf is found and the client tools are installed."""
    path = conf_path()
    return bool(path) and Path(path).is_file() and _tool("sbatch") is not None


def _tool(name: str) -> str | None:
    if settings.SLURM_BIN_DIR:
        candidate = Path(settings.SLURM_BIN_DIR) / name
        return str(candidate) if candidate.is_file() else None
    return shutil.which(name)


def environment() -> dict[str, str]:
    """What Slurm's tools (and so the jobs, through --export=ALL) see: nothing of the portal's own environment."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    if conf_path():
        env["SLURM_CONF"] = conf_path()
    return env


def run(argv: list[str], *, stdin: str | None = None, what: str, account=None) -> str:
    """Run one Slurm command; its standard output, or a DriverError with Slurm's own words."""
    tool = _tool(argv[0])
    if tool is None:
        raise DriverError(f"The Slurm command {argv[0]} is not installed on this machine.", reason="slurm_missing")
    argv = [tool, *argv[1:]]
    if account is not None:
        argv = as_account(argv, account)
    try:
        result = subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            env=environment(),
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DriverError(
            f"Slurm did not answer within {COMMAND_TIMEOUT_SECONDS} s when asked to {what}.",
            reason="slurm_timeout",
            retryable=True,
        ) from None
    except OSError as exc:
        raise DriverError(f"Could not run Slurm to {what}: {exc}.", reason="slurm_missing") from None
    if result.returncode:
        words = (result.stderr or result.stdout).strip().splitlines()
        raise DriverError(
            f"Slurm refused to {what}: {words[-1] if words else f'exit code {result.returncode}'}",
            reason="slurm_error",
            retryable="Unable to contact slurm controller" in result.stderr or "Socket timed out" in result.stderr,
        )
    return result.stdout


def _prefix(account) -> list[str]:
    return [part.replace("{account}", account.name) for part in shlex.split(settings.SLURM_SUBMIT_PREFIX)]


def as_account(argv: list[str], account) -> list[str]:
    """`argv` run for the team's account: --uid/--gid as root (sbatch only), else the configured prefix."""
    if account.uid == 0 or account.name == "root":
        raise DriverError("Jobs never run as root; map the team to an ordinary account.", reason="root_account")
    prefix = _prefix(account)
    if prefix:
        if Path(prefix[0]).name == "ssh":  # ssh hands its arguments to a remote shell: quote each one
            return [*prefix, shlex.join(argv)]
        return [*prefix, *argv]
    if os.geteuid() == 0:
        if Path(argv[0]).name == "sbatch":
            return [argv[0], f"--uid={account.uid}", f"--gid={account.gid}", *argv[1:]]
        return argv  # scancel as root acts on the account's jobs directly
    if account.uid != os.geteuid():
        raise DriverError(
            f"The portal cannot act as {account.name}: it does not run as root and SLURM_SUBMIT_PREFIX is not set.",
            reason="no_prefix",
        )
    return argv


def queue() -> list[parse.QueueRow]:
    """Every job Slurm knows (finished ones too, while it keeps them): one squeue call, shared for ~1 s."""
    key = (conf_path(),)
    with _lock:
        cached = _queue_cache.get(key)
        if cached and time.monotonic() - cached[0] < QUEUE_CACHE_SECONDS:
            return cached[1]
        text = run(
            ["squeue", "--noheader", "--all", "--states=all", f"--format={parse.QUEUE_FORMAT}"],
            what="list the queue",
        )
        rows = parse.queue_rows(text)
        _queue_cache[key] = (time.monotonic(), rows)
        return rows


def forget_queue() -> None:
    """After a submission or a cancel: the next poll asks Slurm again."""
    with _lock:
        _queue_cache.clear()


def partitions() -> dict[str, parse.Partition]:
    """The cluster's partitions with their limits (sinfo), shared for ~30 s."""
    key = (conf_path(),)
    with _lock:
        cached = _partition_cache.get(key)
        if cached and time.monotonic() - cached[0] < PARTITION_CACHE_SECONDS:
            return cached[1]
    text = run(["sinfo", "--noheader", "--Node", f"--format={parse.PARTITION_FORMAT}"], what="list its partitions")
    found = parse.partitions(text)
    with _lock:
        _partition_cache[key] = (time.monotonic(), found)
    return found


def job_records(job_id: str) -> list[dict[str, str]]:
    """scontrol's record of a job (one per array task); [] once Slurm has forgotten it."""
    try:
        text = run(["scontrol", "--oneliner", "show", "job", job_id], what=f"describe job {job_id}")
    except DriverError as exc:
        if "Invalid job id" in exc.message:
            return []
        raise
    return parse.scontrol_records(text)


def accounting_records(job_id: str) -> list[dict[str, str]]:
    """sacct's record of a job, when the cluster keeps accounting; [] otherwise."""
    try:
        text = run(
            [
                "sacct",
                "--noheader",
                "--parsable2",
                f"--delimiter={parse.SEP}",
                "--format=JobID,State,ExitCode,ElapsedRaw,NodeList",
                "--jobs",
                job_id,
            ],
            what=f"look up job {job_id} in accounting",
        )
    except DriverError:
        return []  # no accounting storage (sacct says so and fails): scontrol and the exit files decide
    return parse.sacct_records(text)


def submit(script: str, options: list[str], *, account) -> str:
    """sbatch with the script on standard input; the job id."""
    out = run(["sbatch", *options], stdin=script, what="accept the job", account=account)
    job_id = out.strip().split(";")[0]
    if not job_id.isdigit():
        raise DriverError(f"sbatch answered something unexpected: {out.strip()[:200]}", reason="slurm_error")
    forget_queue()
    return job_id


def cancel(job_id: str, *, account) -> None:
    run(["scancel", job_id], what=f"cancel job {job_id}", account=account)
    forget_queue()


def make_folder(path: Path, *, account) -> None:
    """Make the resource's folder, owned by the team's account (its job writes there)."""
    if os.geteuid() == 0 and not settings.SLURM_SUBMIT_PREFIX:
        root = account_root(account)
        if root != path and root not in path.parents:
            raise DriverError(f"{path} is outside {root}; the portal makes folders only there.", reason="folder")
        path.mkdir(parents=True, exist_ok=True)
        for folder in [path, *path.parents]:
            if folder == root.parent:
                break
            os.chown(folder, account.uid, account.gid)
        return
    _run_plain(as_account(["mkdir", "-p", "--", str(path)], account), what="make the job's folder")


def remove_folder(path: Path, *, account) -> None:
    if os.geteuid() == 0 and not settings.SLURM_SUBMIT_PREFIX:
        shutil.rmtree(path, ignore_errors=True)
        return
    _run_plain(as_account(["rm", "-rf", "--", str(path)], account), what="remove the job's folder")


def _run_plain(argv: list[str], *, what: str) -> None:
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, env=environment(), check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DriverError(f"Could not {what}: {exc}", reason="folder", retryable=True) from None
    if result.returncode:
        raise DriverError(f"Could not {what}: {result.stderr.strip()[-300:]}", reason="folder")


def account_root(account) -> Path:
    """The account's folder under SLURM_WORK_ROOT (on the file system the nodes share)."""
    return Path(settings.SLURM_WORK_ROOT) / account.name


_reachable: dict[tuple, tuple[float, bool]] = {}


def reachable() -> bool:
    """Whether the controller answers (sinfo); remembered for 30 s either way, so a dead one is not asked per page."""
    key = (conf_path(),)
    with _lock:
        cached = _reachable.get(key)
        if cached and time.monotonic() - cached[0] < PARTITION_CACHE_SECONDS:
            return cached[1]
    try:
        ok = bool(partitions())
    except DriverError:
        ok = False
    with _lock:
        _reachable[key] = (time.monotonic(), ok)
    return ok


def check_ready() -> str | None:
    """For /readyz: None when the controller answers."""
    try:
        run(["sinfo", "--noheader", "--format=%P"], what="answer /readyz")
    except DriverError as exc:
        return f"slurm unreachable: {exc.message}"
    return None


def forget_all() -> None:
    """Forget every cached answer (queue, partitions, reachability): after the cluster changed."""
    with _lock:
        _queue_cache.clear()
        _partition_cache.clear()
        _reachable.clear()
