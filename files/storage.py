"""Where files live: a folder on this machine or an S3 bucket, behind one small interface.

Every path is already clean (files.paths); a local store also refuses anything whose real path (symlinks resolved)
is outside its base, so a symlink a program left in a folder cannot lead out of it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from portal.errors import NotFound, PortalError
from provisioning.drivers.base import FileEntry

CHUNK = 1024 * 1024


# One entry of a listing: the drivers' type, so a driver that reaches a cluster's files returns the same thing.
Entry = FileEntry


def _outside() -> PortalError:
    return PortalError(
        "That path leads outside this folder (through '..' or a link), so it cannot be used.",
        code="invalid_path",
        fields={"path": "The path leads outside this folder."},
    )


class LocalStore:
    """A folder on this machine. `owner` (uid, gid) is given to what the portal writes, when it may chown."""

    kind = "folder"

    def __init__(self, base: Path, *, owner: tuple[int, int] | None = None, create: bool = False):
        if create:
            base.mkdir(parents=True, exist_ok=True)
        self.base = Path(os.path.realpath(base))
        self.owner = owner

    def _real(self, path: str) -> Path:
        real = Path(os.path.realpath(self.base / path)) if path else self.base
        if real != self.base and self.base not in real.parents:
            raise _outside()
        return real

    def _existing(self, path: str) -> Path:
        real = self._real(path)
        if not real.exists():
            raise NotFound("There is no such file or folder here (it may have been moved or deleted).")
        return real

    def _give(self, path: Path) -> None:
        if self.owner and os.geteuid() == 0:
            os.chown(path, *self.owner, follow_symlinks=False)

    def exists(self, path: str) -> bool:
        return self._real(path).exists()

    def is_dir(self, path: str) -> bool:
        return self._existing(path).is_dir()

    def stat(self, path: str) -> Entry:
        real = self._existing(path)
        info = real.stat()
        return Entry(
            name=real.name if path else "",
            path=path,
            is_dir=real.is_dir(),
            size=None if real.is_dir() else info.st_size,
            modified=datetime.fromtimestamp(info.st_mtime, tz=UTC),
        )

    def list(self, path: str) -> list[Entry]:
        real = self._existing(path)
        if not real.is_dir():
            raise PortalError("That is a file, not a folder.", code="not_a_folder", status_code=409)
        entries = []
        with os.scandir(real) as scan:
            for item in scan:
                if item.name.startswith("."):  # hidden, as Jupyter does (the team's Python layer is .python)
                    continue
                try:
                    info = item.stat()  # follows links; a dangling one is skipped
                except OSError:
                    continue
                is_dir = item.is_dir()
                entries.append(
                    Entry(
                        name=item.name,
                        path=f"{path}/{item.name}" if path else item.name,
                        is_dir=is_dir,
                        size=None if is_dir else info.st_size,
                        modified=datetime.fromtimestamp(info.st_mtime, tz=UTC),
                    )
                )
        return entries

    def walk(self, path: str, depth: int) -> list[Entry]:
        """The files under `path`, at most `depth` folders down (hidden ones and links out of the base left out)."""
        real, found = self._existing(path), []
        for folder, dirs, names in os.walk(real):
            level = len(Path(folder).relative_to(real).parts)
            dirs[:] = [] if level >= depth else sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(n for n in names if not n.startswith(".")):
                relative = (Path(folder) / name).relative_to(self.base).as_posix()
                try:
                    found.append(self.stat(relative))
                except (PortalError, OSError):
                    continue
        return found

    def open(self, path: str):
        real = self._existing(path)
        if real.is_dir():
            raise PortalError("That is a folder; download it as a zip instead.", code="is_a_folder", status_code=409)
        return real.open("rb")

    def write(self, path: str, source, *, overwrite: bool = True) -> int:
        """Stream `source` (a file object) to `path`, atomically: readers never see half a file."""
        target = self._real(path)
        if not target.parent.is_dir():
            raise NotFound("The folder to put this in does not exist.")
        if target.is_dir():
            raise PortalError("A folder with that name exists here.", code="exists", status_code=409)
        if target.exists() and not overwrite:
            raise PortalError("A file with that name exists here.", code="exists", status_code=409)
        size = 0
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
                    size += len(chunk)
            os.chmod(temporary, 0o664)
            self._give(Path(temporary))
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return size

    def mkdir(self, path: str) -> None:
        target = self._real(path)
        if target.exists():
            raise PortalError("Something with that name already exists here.", code="exists", status_code=409)
        if not target.parent.is_dir():
            raise NotFound("The folder to put this in does not exist.")
        target.mkdir(mode=0o2775)
        self._give(target)

    def rename(self, path: str, new_path: str) -> None:
        source, target = self._existing(path), self._real(new_path)
        if target.exists():
            raise PortalError("Something with the new name already exists here.", code="exists", status_code=409)
        if source == self.base:
            raise PortalError("The top folder cannot be renamed.", code="invalid_path")
        os.rename(source, target)

    def delete(self, path: str) -> None:
        real = self._existing(path)
        if real == self.base:
            raise PortalError("The top folder cannot be deleted; delete what is in it.", code="invalid_path")
        if (self.base / path).is_symlink():
            (self.base / path).unlink()
        elif real.is_dir():
            shutil.rmtree(real)
        else:
            real.unlink()

    def zip_to(self, path: str, out) -> None:
        """Write the folder at `path` as a zip into the file object `out` (links are not followed out)."""
        real = self._existing(path)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for folder, dirs, files in os.walk(real):
                # Hidden entries stay out, as in the listing (the team's Python layer is .python).
                dirs[:] = [n for n in dirs if not n.startswith(".") and not (Path(folder) / n).is_symlink()]
                for name in (n for n in files if not n.startswith(".")):
                    item = Path(folder) / name
                    if item.is_symlink():
                        resolved = Path(os.path.realpath(item))
                        if self.base not in resolved.parents:
                            continue
                    archive.write(item, item.relative_to(real).as_posix())

    def terminal_path(self, path: str) -> str:
        return str(self.base / path) if path else str(self.base)


class S3Store:
    """A bucket on an S3-compatible endpoint; folders are key prefixes ending in '/'. With `prefix`, the root is that
    part of the bucket only (a Kubernetes job's results under the team's prefix); paths stay relative to it."""

    kind = "s3"

    def __init__(self, client, bucket: str, *, prefix: str = ""):
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _k(self, path: str) -> str:
        return self.prefix + path

    def _error(self, exc) -> PortalError:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NoSuchBucket"):
            return NotFound("There is no such file or folder in this bucket.")
        return PortalError(
            "The storage server refused or did not answer; try again in a moment.",
            code="storage_unavailable",
            status_code=503,
        )

    def _call(self, method: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc) from exc

    def _file_exists(self, path: str) -> bool:
        if not path:
            return False
        try:
            self._call("head_object", Key=self._k(path))
        except NotFound:
            return False
        return True

    def _folder_exists(self, path: str) -> bool:
        if not path:
            return True
        found = self._call("list_objects_v2", Prefix=self._k(path) + "/", MaxKeys=1)
        return bool(found.get("KeyCount"))

    def exists(self, path: str) -> bool:
        return self._file_exists(path) or self._folder_exists(path)

    def is_dir(self, path: str) -> bool:
        if self._folder_exists(path):
            return True
        if self._file_exists(path):
            return False
        raise NotFound("There is no such file or folder in this bucket.")

    def stat(self, path: str) -> Entry:
        if not path or self._folder_exists(path):
            return Entry(name=path.rsplit("/", 1)[-1], path=path, is_dir=True, size=None, modified=None)
        head = self._call("head_object", Key=self._k(path))
        return Entry(
            name=path.rsplit("/", 1)[-1],
            path=path,
            is_dir=False,
            size=head["ContentLength"],
            modified=head.get("LastModified"),
        )

    def list(self, path: str) -> list[Entry]:
        prefix = self._k(f"{path}/" if path else "")
        if path and not self._folder_exists(path):
            raise NotFound("There is no such folder in this bucket.")
        entries, token = [], None
        while True:
            kwargs = {"Prefix": prefix, "Delimiter": "/"}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call("list_objects_v2", **kwargs)
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(prefix) :].rstrip("/")
                entries.append(
                    Entry(name=name, path=f"{path}/{name}" if path else name, is_dir=True, size=None, modified=None)
                )
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix) :]
                if name:  # the folder marker itself
                    entries.append(
                        Entry(
                            name=name,
                            path=item["Key"][len(self.prefix) :],
                            is_dir=False,
                            size=item["Size"],
                            modified=item["LastModified"],
                        )
                    )
            if not page.get("IsTruncated"):
                return entries
            token = page["NextContinuationToken"]

    def walk(self, path: str, depth: int) -> list[Entry]:
        """The files under `path`, at most `depth` folders down (the training curves read them)."""
        base = self._k(f"{path}/" if path else "")
        found = []
        for item in self._walk(base):
            relative = item.path[len(base) :]
            if relative and not relative.endswith("/") and relative.count("/") <= depth:
                name = relative.rsplit("/", 1)[-1]
                if not any(part.startswith(".") for part in relative.split("/")):
                    found.append(
                        Entry(
                            name=name, path=item.path[len(self.prefix) :], is_dir=False, size=item.size, modified=None
                        )
                    )
        return found

    def open(self, path: str):
        return self._call("get_object", Key=self._k(path))["Body"]

    def download_url(self, path: str, *, seconds: int = 300) -> str:
        """A short-lived presigned address: the browser downloads straight from the storage server."""
        name = path.rsplit("/", 1)[-1].replace('"', "")
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._k(path),
                "ResponseContentDisposition": f'attachment; filename="{name}"',
            },
            ExpiresIn=seconds,
        )

    def write(self, path: str, source, *, overwrite: bool = True) -> int:
        """Multipart upload for big files (boto3's transfer manager), never the whole file in memory."""
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        if not overwrite and self._file_exists(path):
            raise PortalError("A file with that name exists here.", code="exists", status_code=409)
        # One part of 8 MB at a time, read from the (seekable) temporary file: memory stays flat whatever the size.
        config = TransferConfig(multipart_threshold=8 * CHUNK, multipart_chunksize=8 * CHUNK, use_threads=False)
        seekable = hasattr(source, "seek") and hasattr(source, "tell")
        if seekable:  # the size first: the transfer manager may close the file when it is done
            start = source.tell()
            size = source.seek(0, os.SEEK_END) - start
            source.seek(start)
        counted = source if seekable else _Counting(source)
        try:
            self.client.upload_fileobj(counted, self.bucket, self._k(path), Config=config)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc) from exc
        return size if seekable else counted.size

    def mkdir(self, path: str) -> None:
        if self.exists(path):
            raise PortalError("Something with that name already exists here.", code="exists", status_code=409)
        self._call("put_object", Key=self._k(path) + "/", Body=b"")

    def _keys(self, path: str) -> list[str]:
        """Every full key under the folder `path` (relative)."""
        keys, token = [], None
        while True:
            kwargs = {"Prefix": self._k(path) + "/"}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call("list_objects_v2", **kwargs)
            keys += [item["Key"] for item in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return keys
            token = page["NextContinuationToken"]

    def rename(self, path: str, new_path: str) -> None:
        if self.exists(new_path):
            raise PortalError("Something with the new name already exists here.", code="exists", status_code=409)
        old_key, new_key = self._k(path), self._k(new_path)
        moves = (
            [(old_key, new_key)]
            if self._file_exists(path)
            else [(key, new_key + key[len(old_key) :]) for key in self._keys(path)]
        )
        if not moves:
            raise NotFound("There is no such file or folder in this bucket.")
        for old, new in moves:
            self._call("copy_object", Key=new, CopySource={"Bucket": self.bucket, "Key": old})
            self._call("delete_object", Key=old)

    def delete(self, path: str) -> None:
        keys = [self._k(path)] if self._file_exists(path) else self._keys(path)
        if not keys:
            raise NotFound("There is no such file or folder in this bucket.")
        for start in range(0, len(keys), 1000):
            self._call("delete_objects", Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]]})

    def zip_to(self, path: str, out) -> None:
        base = self._k(f"{path}/" if path else "")
        keys = self._keys(path) if path else [entry.path for entry in self._walk(self.prefix)]
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for key in keys:
                if key.endswith("/"):
                    continue
                with archive.open(key[len(base) :], "w", force_zip64=True) as target:
                    body = self._call("get_object", Key=key)["Body"]
                    while chunk := body.read(CHUNK):
                        target.write(chunk)

    def _walk(self, prefix: str) -> list[Entry]:
        """Every object under the full key `prefix` (entries named by their full keys)."""
        entries, token = [], None
        while True:
            kwargs = {"Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call("list_objects_v2", **kwargs)
            entries += [
                Entry(name=i["Key"], path=i["Key"], is_dir=False, size=i["Size"], modified=None)
                for i in page.get("Contents", [])
            ]
            if not page.get("IsTruncated"):
                return entries
            token = page["NextContinuationToken"]

    def terminal_path(self, path: str) -> str:
        return f"s3://{self.bucket}/{self._k(path)}"


class _Counting:
    """A read-only file object that counts what passed through it."""

    def __init__(self, source):
        self.source, self.size = source, 0

    def read(self, size=-1):
        chunk = self.source.read(size)
        self.size += len(chunk)
        return chunk
