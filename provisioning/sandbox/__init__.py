"""The smallest version of the sandbox contract the file browser needs (issue 12's branch brings the real one:
per-team Unix accounts and the sandbox itself). Here: the portal's own account, and the team folder's place."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: Path


def team_account(team) -> Account:
    entry = pwd.getpwuid(os.geteuid())
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))


def team_folder(team) -> Path:
    """The folder every notebook and job of the team shares."""
    path = settings.DATA_DIR / "teams" / team.slug / "shared"
    path.mkdir(parents=True, exist_ok=True)
    return path
