"""Runs ON THE CLUSTER'S FILE SYSTEM, as the team's account (setpriv, or SLURM_SUBMIT_PREFIX: sudo or ssh), to
list, read and write inside one job's working folder. Standard library only: it is handed to `python3 -I -c`, so the
login node needs nothing of the portal. The account's own permissions apply, and every path is resolved (symlinks
followed) and refused when it leads outside the job's root.

    python3 -I -c <this file> OP ROOT [PATH [ARG]]

OP: stat, list, walk (files to a depth), read (bytes to stdout), write (stdin to a file, atomically), mkdir, rename,
delete, zip (the folder as a zip to stdout). Answers are JSON on stdout; a refusal is JSON on stderr with exit code 3.
"""

import json
import os
import shutil
import stat as st
import sys
import tempfile
import zipfile

CHUNK = 1024 * 1024


class Refused(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def inside(root, path):
    real = os.path.realpath(os.path.join(root, path)) if path else root
    if real != root and not real.startswith(root + os.sep):
        raise Refused("outside", "That path leads outside this folder (through '..' or a link), so it cannot be used.")
    return real


def existing(root, path):
    real = inside(root, path)
    if not os.path.lexists(real):
        raise Refused("missing", "There is no such file or folder here (it may have been moved or deleted).")
    return real


def entry(real, path):
    info = os.stat(real)
    is_dir = st.S_ISDIR(info.st_mode)
    name = os.path.basename(path) if path else ""
    return {"name": name, "path": path, "is_dir": is_dir, "size": None if is_dir else info.st_size,
            "modified": info.st_mtime}  # fmt: skip


def op_stat(root, path):
    return entry(existing(root, path), path)


def op_list(root, path):
    real = existing(root, path)
    if not os.path.isdir(real):
        raise Refused("not_a_folder", "That is a file, not a folder.")
    found = []
    with os.scandir(real) as scan:
        for item in scan:
            if item.name.startswith("."):
                continue
            child = f"{path}/{item.name}" if path else item.name
            try:
                inside(root, child)  # a link out of the root is not shown
                found.append(entry(os.path.join(real, item.name), child))
            except (OSError, Refused):
                continue
    return found


def op_walk(root, path, depth):
    """Files (not folders) under `path`, at most `depth` folders down, hidden ones and links out left out."""
    real, found = existing(root, path), []
    base = len(real.rstrip(os.sep).split(os.sep))
    for folder, dirs, names in os.walk(real):
        level = len(folder.rstrip(os.sep).split(os.sep)) - base
        dirs[:] = [] if level >= depth else sorted(d for d in dirs if not d.startswith("."))
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        for name in sorted(n for n in names if not n.startswith(".")):
            child = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
            try:
                inside(root, child)
                found.append(entry(os.path.join(folder, name), child))
            except (OSError, Refused):
                continue
    return found


def op_read(root, path):
    real = existing(root, path)
    if os.path.isdir(real):
        raise Refused("is_a_folder", "That is a folder; download it as a zip instead.")
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as source:
        shutil.copyfileobj(source, sys.stdout.buffer, CHUNK)
    sys.stdout.buffer.flush()


def op_write(root, path, overwrite):
    target = inside(root, path)
    parent = os.path.dirname(target)
    if not os.path.isdir(parent):
        raise Refused("missing", "The folder to put this in does not exist.")
    if os.path.isdir(target):
        raise Refused("exists", "A folder with that name exists here.")
    if os.path.exists(target) and overwrite != "1":
        raise Refused("exists", "A file with that name exists here.")
    handle, temporary = tempfile.mkstemp(dir=parent, prefix=".upload-")
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := sys.stdin.buffer.read(CHUNK):
                out.write(chunk)
                size += len(chunk)
        os.chmod(temporary, 0o664)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return {"bytes": size}


def op_mkdir(root, path):
    target = inside(root, path)
    if os.path.lexists(target):
        raise Refused("exists", "Something with that name already exists here.")
    if not os.path.isdir(os.path.dirname(target)):
        raise Refused("missing", "The folder to put this in does not exist.")
    os.mkdir(target, 0o2775)
    return {}


def op_rename(root, path, new_path):
    source, target = existing(root, path), inside(root, new_path)
    if source == root:
        raise Refused("invalid_path", "The top folder cannot be renamed.")
    if os.path.lexists(target):
        raise Refused("exists", "Something with the new name already exists here.")
    os.rename(source, target)
    return {}


def op_delete(root, path):
    real = existing(root, path)
    if real == root:
        raise Refused("invalid_path", "The top folder cannot be deleted; delete what is in it.")
    named = os.path.join(root, path)
    if os.path.islink(named):
        os.unlink(named)
    elif os.path.isdir(real):
        shutil.rmtree(real)
    else:
        os.unlink(real)
    return {}


def op_zip(root, path):
    real = existing(root, path)
    with zipfile.ZipFile(sys.stdout.buffer, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for folder, dirs, names in os.walk(real):
            dirs[:] = [d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(folder, d))]
            for name in (n for n in names if not n.startswith(".")):
                item = os.path.join(folder, name)
                relative = os.path.relpath(item, root)
                try:
                    inside(root, relative)
                except Refused:
                    continue
                info = zipfile.ZipInfo.from_file(item, os.path.relpath(item, real))
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(item, "rb") as source, archive.open(info, "w", force_zip64=True) as out:
                    shutil.copyfileobj(source, out, CHUNK)
    sys.stdout.buffer.flush()


def main(argv):
    operation, root = argv[0], os.path.realpath(argv[1])
    path = argv[2] if len(argv) > 2 else ""
    if not os.path.isdir(root):
        raise Refused("missing", "The job's folder does not exist (any more) on the cluster.")
    if operation in ("read", "zip"):
        return (op_read if operation == "read" else op_zip)(root, path)
    answers = {
        "stat": lambda: op_stat(root, path),
        "list": lambda: op_list(root, path),
        "walk": lambda: op_walk(root, path, int(argv[3])),
        "write": lambda: op_write(root, path, argv[3]),
        "mkdir": lambda: op_mkdir(root, path),
        "rename": lambda: op_rename(root, path, argv[3]),
        "delete": lambda: op_delete(root, path),
    }
    sys.stdout.write(json.dumps(answers[operation]()))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Refused as refused:
        sys.stderr.write(json.dumps({"code": refused.code, "message": refused.message}))
        sys.exit(3)
    except PermissionError:
        sys.stderr.write(json.dumps({"code": "denied", "message": "The team's account may not read or write that."}))
        sys.exit(3)
