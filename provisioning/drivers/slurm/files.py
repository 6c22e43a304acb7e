"""A Slurm job's working folder for the file browser, read where the cluster keeps it and as the team's account.

The driver reaches the cluster through its local client tools; the job's folder lives on the file system the nodes
share (SLURM_WORK_ROOT). Every file operation runs `folder_helper.py` (standard library only) as the team's account,
the same way the driver acts for the team: through SLURM_SUBMIT_PREFIX when one is set (`sudo -n -u {account}`, or
`ssh login-node` where the shared file system is mounted only there), else with setpriv when the portal is root.
So the account's own permissions apply, and the helper refuses any path (symlinks resolved) outside the job's root.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from portal.errors import NotFound, PortalError
from provisioning.drivers.base import DriverError, FileEntry
from provisioning.drivers.slurm import client

HELPER = (Path(__file__).with_name("folder_helper.py")).read_text()
CHUNK = 1024 * 1024
REFUSALS = {  # the helper's refusal codes -> (HTTP status, PortalError code)
    "outside": (400, "invalid_path"),
    "invalid_path": (400, "invalid_path"),
    "not_a_folder": (400, "not_a_folder"),
    "is_a_folder": (400, "is_a_folder"),
    "exists": (409, "exists"),
    "denied": (403, "permission_denied"),
}


def _unreachable(message: str) -> PortalError:
    return PortalError(message, code="storage_unavailable", status_code=503)


def helper_argv(operation: str, root: str, *args: str, account) -> list[str]:
    """The helper's command line, run as `account` the way the driver runs anything for the team."""
    argv = ["python3", "-I", "-c", HELPER, operation, root, *args]
    if settings.SLURM_SUBMIT_PREFIX:
        try:
            return client.as_account(argv, account)
        except DriverError as exc:
            raise _unreachable(exc.message) from None
    if os.geteuid() == 0:
        if account.uid <= 0:
            raise _unreachable("Jobs' files are never read as root; a Keeper maps the team to an ordinary account.")
        return [
            "setpriv",
            f"--reuid={account.uid}",
            f"--regid={account.gid}",
            "--clear-groups",
            "--no-new-privs",
            *argv,
        ]
    if account.uid != os.geteuid():
        raise _unreachable(f"The portal cannot read {account.name}'s files: a Keeper sets SLURM_SUBMIT_PREFIX.")
    return argv


def _refusal(stderr: bytes) -> PortalError:
    try:
        said = json.loads(stderr.decode(errors="replace").strip().splitlines()[-1])
        code, message = said["code"], said["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return PortalError(
            "The cluster's file system did not answer as expected; try again in a moment.",
            code="storage_unavailable",
            status_code=503,
        )
    if code == "missing":
        return NotFound(message)
    status, portal_code = REFUSALS.get(code, (400, "invalid"))
    fields = {"path": message} if portal_code == "invalid_path" else None
    return PortalError(message, code=portal_code, status_code=status, fields=fields)


def _entry(data: dict) -> FileEntry:
    return FileEntry(
        name=data["name"],
        path=data["path"],
        is_dir=data["is_dir"],
        size=data["size"],
        modified=datetime.fromtimestamp(data["modified"], tz=UTC) if data.get("modified") is not None else None,
    )


class _Stream:
    """The standard output of a running helper as a read-only file; closing it ends the helper."""

    def __init__(self, process: subprocess.Popen):
        self.process = process

    def read(self, size: int = -1) -> bytes:
        data = self.process.stdout.read(size)
        # At the end, a helper that refused (a folder, a missing file) says why.
        if not data and size != 0 and self.process.wait(timeout=client.COMMAND_TIMEOUT_SECONDS):
            raise _refusal(self.process.stderr.read())
        return data

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.stdout.close()
        self.process.stderr.close()
        self.process.wait(timeout=client.COMMAND_TIMEOUT_SECONDS)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ClusterFolder:
    """The file browser's store interface over one job's working folder on the cluster (see the module)."""

    kind = "folder"

    def __init__(self, root: str, account):
        self.root, self.account = root, account

    def _run(self, operation: str, path: str = "", *args: str, stdin=None):
        argv = helper_argv(operation, self.root, path, *args, account=self.account)
        try:
            if stdin is None:
                result = subprocess.run(
                    argv, capture_output=True, env=client.environment(), timeout=client.COMMAND_TIMEOUT_SECONDS, cwd="/"
                )
                out, err, code = result.stdout, result.stderr, result.returncode
            else:
                process = subprocess.Popen(  # noqa: S603 (an argument list, never a shell)
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=client.environment(),
                    cwd="/",
                )
                try:
                    while chunk := stdin.read(CHUNK):
                        process.stdin.write(chunk)
                except BrokenPipeError:
                    pass  # the helper refused: its answer says why
                process.stdin.close()
                out, err = process.stdout.read(), process.stderr.read()
                code = process.wait(timeout=client.COMMAND_TIMEOUT_SECONDS)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PortalError(
                f"The cluster's file system did not answer ({exc.__class__.__name__}); try again in a moment.",
                code="storage_unavailable",
                status_code=503,
            ) from None
        if code:
            raise _refusal(err)
        return json.loads(out or b"null")

    def _stream(self, operation: str, path: str) -> _Stream:
        argv = helper_argv(operation, self.root, path, account=self.account)
        process = subprocess.Popen(  # noqa: S603
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=client.environment(),
            cwd="/",
        )
        return _Stream(process)

    def stat(self, path: str) -> FileEntry:
        return _entry(self._run("stat", path))

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
        except NotFound:
            return False
        return True

    def is_dir(self, path: str) -> bool:
        return self.stat(path).is_dir

    def list(self, path: str) -> list[FileEntry]:
        return [_entry(item) for item in self._run("list", path)]

    def walk(self, path: str, depth: int) -> list[FileEntry]:
        """The files under `path`, at most `depth` folders down (one call for the training curves)."""
        return [_entry(item) for item in self._run("walk", path, str(depth))]

    def open(self, path: str) -> _Stream:
        """The file's bytes as they stream from the helper (callers check is_dir first, as the pages do; the helper
        refuses a folder or a missing file itself, raised at the first read)."""
        return self._stream("read", path)

    def write(self, path: str, source, *, overwrite: bool = True) -> int:
        return self._run("write", path, "1" if overwrite else "0", stdin=source)["bytes"]

    def mkdir(self, path: str) -> None:
        self._run("mkdir", path)

    def rename(self, path: str, new_path: str) -> None:
        self._run("rename", path, new_path)

    def delete(self, path: str) -> None:
        self._run("delete", path)

    def zip_to(self, path: str, out) -> None:
        self.stat(path)  # a missing folder is a 404 before anything is written
        with self._stream("zip", path) as stream:
            while chunk := stream.read(CHUNK):
                out.write(chunk)

    def terminal_path(self, path: str) -> str:
        return f"{self.root}/{path}" if path else self.root
