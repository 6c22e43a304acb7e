"""Paths that people type: checked before they reach the file system or S3 (no `..`, no absolute paths, no NUL)."""

from __future__ import annotations

from portal.errors import PortalError

MAX_NAME_LENGTH = 255
MAX_PATH_LENGTH = 1024


def _invalid(message: str) -> PortalError:
    return PortalError(message, code="invalid_path", fields={"path": message})


def name_clean(name: str) -> str:
    """One file or folder name: no slashes, no NUL or control characters, not `.` or `..`."""
    name = (name or "").strip()
    if not name:
        raise _invalid("Give a name.")
    if "/" in name or "\\" in name:
        raise _invalid("A name cannot contain '/' or '\\'; give just the name, not a path.")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise _invalid("The name contains a character that cannot be used in a file name.")
    if name in (".", ".."):
        raise _invalid("'.' and '..' cannot be used as names.")
    if len(name.encode()) > MAX_NAME_LENGTH:
        raise _invalid(f"The name is too long (at most {MAX_NAME_LENGTH} bytes).")
    return name


def path_clean(path: str | None) -> str:
    """A path relative to a root, as `a/b/c` ('' for the root itself). Refuses anything that could leave the root."""
    path = path or ""
    if len(path) > MAX_PATH_LENGTH:
        raise _invalid(f"The path is too long (at most {MAX_PATH_LENGTH} characters).")
    if path.startswith("/") or path.startswith("\\") or (len(path) > 1 and path[1] == ":"):
        raise _invalid("Give a path inside this folder, not an absolute path.")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    for part in parts:
        if part == "..":
            raise _invalid("'..' is not allowed in a path: open the folder above with the breadcrumbs.")
        name_clean(part)
    return "/".join(parts)


def path_join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def path_parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def breadcrumbs(path: str) -> list[tuple[str, str]]:
    """[(name, path)] from the root down to `path`, for the page's breadcrumbs."""
    crumbs, current = [], ""
    for part in path.split("/") if path else []:
        current = path_join(current, part)
        crumbs.append((part, current))
    return crumbs
