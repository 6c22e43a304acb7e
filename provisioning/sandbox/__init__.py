"""Team Unix accounts and the user environment: the SMALLEST version of the isolation branch's contract (issue 12a).

Written by the Slurm branch (issue 16), which needs `team_account`; the isolation branch's module replaces this
one at merge time. Contract: `team_account(team) -> Account(name, uid, gid, home)` (Unix name `pt-<team slug>`,
made on demand when the portal runs as root; else the portal's own user), `team_python(team)`, `team_folder(team)`,
`sandbox_command(argv, *, account, workdir, binds, limits)`.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

_lock = threading.Lock()


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str


def account_name(team) -> str:
    """`pt-<slug>`, shortened with a hash when the slug would pass Unix's 32-character limit."""
    name = f"pt-{team.slug}"
    if len(name) > 32:
        name = f"pt-{team.slug[:20]}-{hashlib.sha256(team.slug.encode()).hexdigest()[:8]}"
    return name


def team_folder(team) -> Path:
    """The team's shared folder under the data folder."""
    return settings.DATA_DIR / "teams" / team.slug


def team_account(team) -> Account:
    """The team's Unix account (made on demand as root); the portal's own user when it does not run as root."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)
    name = account_name(team)
    with _lock:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--home-dir",
                    str(team_folder(team)),
                    "--shell",
                    "/usr/sbin/nologin",
                    name,
                ],
                check=False,
                capture_output=True,
                timeout=30,
            )
            entry = pwd.getpwnam(name)  # made now, or by another process at the same moment
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


def team_python(team) -> str:
    """The Python of the team's environment. Smallest version: the configured one (TEAM_PYTHON), else this one."""
    return getattr(settings, "TEAM_PYTHON", "") or sys.executable


def sandbox_command(argv: list[str], *, account: Account, workdir, binds=(), limits=None) -> list[str]:
    """`argv` run as `account` in `workdir`. Smallest version: drop to the account when root; no bubblewrap."""
    if os.geteuid() != 0:
        return list(argv)
    return ["setpriv", f"--reuid={account.uid}", f"--regid={account.gid}", "--clear-groups", *argv]
