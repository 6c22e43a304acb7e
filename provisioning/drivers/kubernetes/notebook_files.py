"""A running Kubernetes notebook's files (its volume), read through the notebook's own Jupyter Contents API.

The portal cannot mount a pod's volume, but it reaches the running notebook (Ingress, or in the cluster) with the
notebook's token, as idle culling already does; Jupyter Server serves its root folder (the notebook's PVC) under
`/api/contents` and `/files`. Jupyter keeps paths inside its root and hides hidden files; the portal's own path
checks (files.paths) run first. Uploads go in 8 MB chunks (Jupyter's chunked save), so nothing large is held in
memory. A stopped notebook has no Files (its volume is not mounted anywhere the portal can reach).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from datetime import datetime

from portal.errors import NotFound, PortalError
from provisioning.drivers.base import FileEntry

TIMEOUT_SECONDS = 20
CHUNK = 1024 * 1024
UPLOAD_CHUNK = 8 * CHUNK


def _unreachable() -> PortalError:
    return PortalError(
        "The notebook did not answer; its files can be shown while it runs. Try again in a moment.",
        code="storage_unavailable",
        status_code=503,
    )


def _modified(value: str | None):
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _entry(model: dict) -> FileEntry:
    is_dir = model.get("type") == "directory"
    return FileEntry(
        name=model.get("name", ""),
        path=model.get("path", ""),
        is_dir=is_dir,
        size=None if is_dir else model.get("size"),
        modified=_modified(model.get("last_modified")),
    )


class NotebookContents:
    """The file browser's store interface over a running notebook's Jupyter Contents API."""

    kind = "folder"

    def __init__(self, base_url: str, token: str, *, root: str = "work", home: str = "/home/jovyan"):
        # `root`: the folder of Jupyter's tree that is the notebook's volume (the PVC is mounted at ~/work).
        self.base_url, self.token, self.root, self.home = base_url.rstrip("/"), token, root.strip("/"), home

    def _full(self, path: str) -> str:
        return f"{self.root}/{path}" if path else self.root

    def _relative(self, full: str) -> str:
        return full[len(self.root) + 1 :] if full.startswith(self.root + "/") else ""

    def _url(self, prefix: str, path: str, **query) -> str:
        url = f"{self.base_url}/{prefix}/{urllib.parse.quote(self._full(path))}"
        return url + (f"?{urllib.parse.urlencode(query)}" if query else "")

    def _request(self, method: str, url: str, body: dict | None = None, *, stream: bool = False):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (the notebook server of this resource)
            url,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)  # noqa: S310
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read() or b"{}").get("message") or exc.reason
            except ValueError:
                message = exc.reason
            if exc.code == 404:
                raise NotFound("There is no such file or folder here (it may have been moved or deleted).") from None
            if exc.code in (400, 409):
                raise PortalError(f"The notebook refused: {message}", code="invalid") from None
            raise _unreachable() from None
        except (OSError, ValueError):
            raise _unreachable() from None
        if stream:
            return response
        with response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def _model(self, path: str, *, content: bool = False) -> dict:
        return self._request("GET", self._url("api/contents", path, content="1" if content else "0"))

    def stat(self, path: str) -> FileEntry:
        entry = _entry(self._model(path))
        entry.path = path
        return entry

    def exists(self, path: str) -> bool:
        try:
            self._model(path)
        except NotFound:
            return False
        return True

    def is_dir(self, path: str) -> bool:
        return self.stat(path).is_dir

    def list(self, path: str) -> list[FileEntry]:
        model = self._model(path, content=True)
        if model.get("type") != "directory":
            raise PortalError("That is a file, not a folder.", code="not_a_folder")
        entries = [_entry(item) for item in model.get("content") or []]
        for entry in entries:
            entry.path = self._relative(entry.path)
        return entries

    def walk(self, path: str, depth: int) -> list[FileEntry]:
        found, folders = [], [(path, 0)]
        while folders:
            folder, level = folders.pop()
            for entry in self.list(folder):
                if entry.is_dir:
                    if level < depth:
                        folders.append((entry.path, level + 1))
                else:
                    found.append(entry)
        return sorted(found, key=lambda e: e.path)

    def open(self, path: str):
        if self.is_dir(path):
            raise PortalError("That is a folder; download it as a zip instead.", code="is_a_folder")
        return self._request("GET", self._url("files", path), stream=True)

    def write(self, path: str, source, *, overwrite: bool = True) -> int:
        if not overwrite and self.exists(path):
            raise PortalError("A file with that name exists here.", code="exists", status_code=409)
        if self.exists(path) and self.is_dir(path):
            raise PortalError("A folder with that name exists here.", code="exists", status_code=409)
        size, number, chunk = 0, 1, source.read(UPLOAD_CHUNK)
        while True:
            following = source.read(UPLOAD_CHUNK) if chunk else b""
            last = not following
            body = {"type": "file", "format": "base64", "content": base64.b64encode(chunk).decode()}
            if number > 1 or not last:
                body["chunk"] = -1 if last else number  # Jupyter's chunked save: 1, 2, ..., then -1 for the last
            self._request("PUT", self._url("api/contents", path), body)
            size += len(chunk)
            if last:
                return size
            number, chunk = number + 1, following

    def mkdir(self, path: str) -> None:
        if self.exists(path):
            raise PortalError("Something with that name already exists here.", code="exists", status_code=409)
        self._request("PUT", self._url("api/contents", path), {"type": "directory"})

    def rename(self, path: str, new_path: str) -> None:
        if self.exists(new_path):
            raise PortalError("Something with the new name already exists here.", code="exists", status_code=409)
        self._request("PATCH", self._url("api/contents", path), {"path": self._full(new_path)})

    def delete(self, path: str) -> None:
        if not path:
            raise PortalError("The top folder cannot be deleted; delete what is in it.", code="invalid_path")
        self._request("DELETE", self._url("api/contents", path))

    def zip_to(self, path: str, out) -> None:
        files = self.walk(path, depth=64)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for entry in files:
                name = entry.path[len(path) + 1 :] if path else entry.path
                with archive.open(name, "w", force_zip64=True) as target:
                    response = self._request("GET", self._url("files", entry.path), stream=True)
                    with response:
                        while chunk := response.read(CHUNK):
                            target.write(chunk)

    def terminal_path(self, path: str) -> str:
        return f"{self.home}/{self._full(path)}"
