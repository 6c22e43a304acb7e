"""Per-team Unix accounts and team folders for sandboxed programs.

When the portal runs as root (CI, containers), every team gets an unprivileged account `pt-<team slug>`, made on
first use, that owns the team's folders; sandboxed programs run as it, never as root. When the portal runs as an
ordinary user it cannot make accounts: programs then run as the portal's own user, and only the sandbox (which
hides the portal's files) keeps them apart.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from portal.locks import file_lock

NAME_PREFIX = "pt-"
MAX_NAME = 32  # useradd's limit


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: Path


def running_as_root() -> bool:
    return os.geteuid() == 0


def account_name(slug: str) -> str:
    """`pt-<slug>`, shortened with a hash when the slug is too long for a Unix name."""
    name = NAME_PREFIX + slug.lower()
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(slug.encode()).hexdigest()[:8]
        name = f"{NAME_PREFIX}{slug.lower()[: MAX_NAME - len(NAME_PREFIX) - 9]}-{digest}"
    return name


def user_data_dir() -> Path:
    """Where user folders live (PORTAL_USER_DATA_DIR; default the data folder), possibly another disk."""
    return Path(settings.PORTAL_USER_DATA_DIR)


def _team_path(team) -> Path:
    return user_data_dir() / "teams" / team.slug


def _lock(name: str):
    return file_lock(Path(settings.DATA_DIR) / f".{name}.lock")


def _entry(pw) -> Account:
    return Account(pw.pw_name, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir))


def team_account(team) -> Account:
    """The Unix account a team's programs run as (made on demand when root; the portal's own user otherwise)."""
    if not running_as_root():
        return _entry(pwd.getpwuid(os.geteuid()))
    name = account_name(team.slug)
    try:
        return _entry(pwd.getpwnam(name))
    except KeyError:
        pass
    with _lock("accounts"):
        try:
            return _entry(pwd.getpwnam(name))
        except KeyError:
            pass
        done = subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                str(_team_path(team)),
                "--shell",
                "/usr/sbin/nologin",
                "--comment",
                f"portal team {team.slug}",
                name,
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode not in (0, 9):  # 9: made meanwhile by another process
            from provisioning.failures import DriverError

            raise DriverError(
                f"Could not make the team's Unix account {name}: {done.stderr.strip()}", reason="account_failed"
            )
    return _entry(pwd.getpwnam(name))


def own(path: Path, account: Account, mode: int = 0o700) -> Path:
    """Make `path` a folder owned by `account` (when root) with `mode`."""
    path.mkdir(parents=True, exist_ok=True)
    if running_as_root() and (path.stat().st_uid, path.stat().st_gid) != (account.uid, account.gid):
        os.chown(path, account.uid, account.gid)
    path.chmod(mode)
    return path


def write_new(path: Path, data: bytes, account: Account, mode: int = 0o644) -> bool:
    """Write a new file into a folder the team's account controls, as root, without following a link it planted
    (O_EXCL | O_NOFOLLOW). Returns False when something is already there (it is left alone)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        if running_as_root():
            os.fchown(handle.fileno(), account.uid, account.gid)
    return True


def traversable(path: Path) -> Path:
    """A portal-owned folder others may pass through but not list (for bind sources below it)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o711)
    return path


def team_folder(team) -> Path:
    """The folder every notebook and job of the team shares (read-write for the team's account only)."""
    traversable(user_data_dir())
    traversable(user_data_dir() / "teams")
    return own(_team_path(team), team_account(team))


def team_bucket_folders(team) -> list[Path]:
    """The team's folder buckets (buckets kept as folders when no S3 endpoint is configured)."""
    from provisioning.models import Resource

    paths = []
    for state in (
        Resource.objects.filter(team=team, kind="bucket")
        .exclude(state="deleted")
        .values_list("driver_state", flat=True)
    ):
        path = (state or {}).get("path")
        if path and Path(path).is_dir():
            traversable(Path(path).parent)
            paths.append(own(Path(path), team_account(team), 0o700))
    return paths
