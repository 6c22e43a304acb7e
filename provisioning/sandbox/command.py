"""The command line that runs a user's program in a bubblewrap sandbox, and the check that one works here.

Order of the parts (each `exec`s the next, so they are one process):
  sh (joins the program's cgroups) -> prlimit (process cap of the account; memory when no cgroup) ->
  setpriv (as root only: the team's account, no groups, no new privileges) -> bwrap -> the program.
Inside bwrap the order of mounts matters: every `--tmpfs` that hides a folder comes before the `--bind`s below it.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from provisioning.sandbox.accounts import Account, running_as_root
from provisioning.sandbox.limits import Limits, cgroup_dirs, cgroup_mode, rlimit_args

# Processes (and threads) one team account may have at once, over all its notebooks and jobs.
DEFAULT_MAX_PROCESSES = 2048

JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@"'


def hidden_paths() -> list[Path]:
    """Folders a sandboxed program must not see: the data folders, the repository's var/, the portal's home."""
    from django.conf import settings

    candidates = [
        Path(settings.DATA_DIR),
        Path(settings.PORTAL_USER_DATA_DIR),
        Path(settings.BASE_DIR) / "var",
        Path.home(),
        Path("/root"),
        *[Path(p) for p in settings.PORTAL_SANDBOX_HIDE],
    ]
    system = {Path(p) for p in ("/", "/usr", "/etc", "/bin", "/lib", "/lib64", "/sbin", "/var", "/opt", "/srv")}
    found = {p.resolve() for p in candidates if p.is_dir()} - system
    return sorted(found, key=lambda p: len(p.parts))


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _tool(name: str) -> str:
    """A system tool by its full path (found with the portal's PATH, never the program's)."""
    return shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin") or name


def sandbox_command(
    argv: Sequence[str],
    *,
    account: Account,
    workdir: Path,
    binds: Sequence[Path] = (),
    limits: Limits | None = None,
    ro_binds: Sequence[Path] = (),
    hide: Sequence[Path] | None = None,
) -> list[str]:
    """`argv` wrapped so it runs as `account` seeing the system read-only, `workdir` and `binds` read-write,
    `ro_binds` read-only, a private /tmp, its own PID namespace and /proc, and none of `hide` (default:
    `hidden_paths()`). Pure: it makes nothing; `limits_prepare(limits)` makes the cgroups it joins."""
    if running_as_root() and account.uid == 0:
        raise ValueError("a sandboxed program never runs as root")
    hide = hidden_paths() if hide is None else [Path(p) for p in hide]
    command: list[str] = []
    mode = cgroup_mode()
    if limits is not None:
        dirs = cgroup_dirs(limits, mode)
        if dirs:
            command += ["/bin/sh", "-c", JOIN_CGROUPS, "sandbox", *map(str, dirs), "--"]
    prlimit = rlimit_args(limits, mode) if limits is not None else []
    if running_as_root():
        from django.conf import settings

        prlimit.append(f"--nproc={settings.PORTAL_SANDBOX_MAX_PROCESSES}")
    if prlimit:
        command += [_tool("prlimit"), *prlimit, "--"]
    if running_as_root():
        command += [
            _tool("setpriv"),
            f"--reuid={account.uid}",
            f"--regid={account.gid}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
        ]
    command += [
        bwrap_path() or "bwrap",
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",  # noqa: S108 (a fresh, private /tmp inside the sandbox)
        "--tmpfs", "/var/tmp",  # noqa: S108
        "--tmpfs", "/dev/shm",  # noqa: S108
    ]  # fmt: skip
    for device in sorted(glob.glob("/dev/nvidia*")):  # GPUs (which ones it may use: CUDA_VISIBLE_DEVICES)
        command += ["--dev-bind", device, device]
    for folder in hide:
        command += ["--tmpfs", str(folder)]
    for folder in ro_binds:
        command += ["--ro-bind", str(folder), str(folder)]
    for folder in [*binds, workdir]:
        command += ["--bind", str(folder), str(folder)]
    command += ["--chdir", str(workdir), "--", *argv]
    return command


def _probe_account() -> Account:
    import pwd

    entry = pwd.getpwnam("nobody") if running_as_root() else pwd.getpwuid(os.geteuid())
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, Path("/"))


@functools.lru_cache(maxsize=1)
def _check(at_minute: int) -> str | None:
    if not bwrap_path():
        if running_as_root():
            return (
                "bubblewrap is not installed, so notebooks and jobs on this machine cannot be sandboxed. "
                "Fix: `apt-get install bubblewrap` (make run does it when run as root)."
            )
        return (
            "bubblewrap is not installed, so notebooks and jobs on this machine cannot be sandboxed. "
            "Fix: ask an administrator to run `sudo apt-get install bubblewrap`, then restart the portal."
        )
    probe = Path("/")
    try:
        done = subprocess.run(
            sandbox_command(["/bin/true"], account=_probe_account(), workdir=probe, hide=[]),
            capture_output=True,
            text=True,
            timeout=20,
            env={"PATH": "/usr/bin:/bin"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"The sandbox (bubblewrap) could not be started: {exc}."
    if done.returncode != 0:
        return (
            "The sandbox (bubblewrap) does not work here: "
            + (done.stderr.strip() or f"exit code {done.returncode}")
            + ". Fix: enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 and "
            "user.max_user_namespaces > 0), or run the portal in a container that allows them."
        )
    return None


def sandbox_problem() -> str | None:
    """None when sandboxed programs can run here; else why not and how to fix it (checked at most each minute)."""
    return _check(int(time.time() // 60))
