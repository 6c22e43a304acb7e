"""Every change to files: upload, new folder, rename, delete, edit. Each is audited with the team and path."""

from __future__ import annotations

import io

from files.paths import name_clean, path_clean, path_join, path_parent
from files.roots import Root
from portal.audit import audit_record
from portal.errors import PortalError

MAX_EDIT_BYTES = 1024 * 1024


def _audit(user, root: Root, action: str, request, **data) -> None:
    audit_record(
        actor=user,
        action=f"files.{action}",
        team=root.team,
        target=root.resource,
        data={"root": root.key, **data},
        request=request,
    )


def file_upload(*, user, root: Root, folder: str, uploads, request=None) -> list[str]:
    """Store each uploaded file in `folder`, streamed from Django's temporary file (never all in memory)."""
    folder = path_clean(folder)
    if folder and not root.store.is_dir(folder):
        raise PortalError("Upload into a folder: that path is a file.", code="not_a_folder", status_code=409)
    if not uploads:
        raise PortalError("Choose at least one file to upload.", code="invalid", fields={"files": "No file chosen."})
    written = []
    for upload in uploads:
        path = path_join(folder, name_clean(upload.name))
        upload.seek(0)
        size = root.store.write(path, upload)
        written.append(path)
        _audit(user, root, "upload", request, path=path, bytes=size)
    return written


def folder_create(*, user, root: Root, folder: str, name: str, request=None) -> str:
    path = path_join(path_clean(folder), name_clean(name))
    root.store.mkdir(path)
    _audit(user, root, "mkdir", request, path=path)
    return path


def file_rename(*, user, root: Root, path: str, new_name: str, request=None) -> str:
    path = path_clean(path)
    if not path:
        raise PortalError("The top folder cannot be renamed.", code="invalid_path")
    new_path = path_join(path_parent(path), name_clean(new_name))
    root.store.rename(path, new_path)
    _audit(user, root, "rename", request, path=path, new_path=new_path)
    return new_path


def file_delete(*, user, root: Root, path: str, request=None) -> None:
    path = path_clean(path)
    if not path:
        raise PortalError("The top folder cannot be deleted; delete what is in it.", code="invalid_path")
    root.store.delete(path)
    _audit(user, root, "delete", request, path=path)


def file_write_text(*, user, root: Root, path: str, text: str, request=None) -> None:
    """Save an edited small text file (the editor on the file's page)."""
    path = path_clean(path)
    data = text.replace("\r\n", "\n").encode()
    if len(data) > MAX_EDIT_BYTES:
        raise PortalError("The text is too long to save here (1 MB at most); upload the file instead.", code="too_big")
    if "\x00" in text:
        raise PortalError("The text contains a character that cannot be stored (NUL).", code="invalid")
    root.store.write(path, io.BytesIO(data))
    _audit(user, root, "edit", request, path=path, bytes=len(data))
