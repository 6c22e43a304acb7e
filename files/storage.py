"""Where files live: a folder on this machine or an S3 bucket, behind one small interface.

Every path is already clean (files.paths); a local store also refuses anything whose real path (symlinks resolved)
is outside its base, so a symlink a program left in a folder cannot lead out of it.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from portal.errors import NotFound, PortalError

CHUNK = 1024 * 1024


@dataclass
class Entry:
    name: str
    path: str
    is_dir: bool
    size: int | None
    modified: datetime | None

    @property
    def content_type(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"


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
            raise PortalError("That is a file, not a folder.", code="not_a_folder")
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

    def open(self, path: str):
        real = self._existing(path)
        if real.is_dir():
            raise PortalError("That is a folder; download it as a zip instead.", code="is_a_folder")
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
    """A bucket on an S3-compatible endpoint; folders are key prefixes ending in '/'."""

    kind = "s3"

    def __init__(self, client, bucket: str):
        self.client, self.bucket = client, bucket

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
        try:
            self._call("head_object", Key=path)
        except NotFound:
            return False
        return bool(path)

    def _folder_exists(self, path: str) -> bool:
        if not path:
            return True
        found = self._call("list_objects_v2", Prefix=path + "/", MaxKeys=1)
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
        head = self._call("head_object", Key=path)
        return Entry(
            name=path.rsplit("/", 1)[-1],
            path=path,
            is_dir=False,
            size=head["ContentLength"],
            modified=head.get("LastModified"),
        )

    def list(self, path: str) -> list[Entry]:
        prefix = f"{path}/" if path else ""
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
                entries.append(Entry(name=name, path=prefix + name, is_dir=True, size=None, modified=None))
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix) :]
                if name:  # the folder marker itself
                    entries.append(
                        Entry(
                            name=name, path=item["Key"], is_dir=False, size=item["Size"], modified=item["LastModified"]
                        )
                    )
            if not page.get("IsTruncated"):
                return entries
            token = page["NextContinuationToken"]

    def open(self, path: str):
        return self._call("get_object", Key=path)["Body"]

    def download_url(self, path: str, *, seconds: int = 300) -> str:
        """A short-lived presigned address: the browser downloads straight from the storage server."""
        name = path.rsplit("/", 1)[-1].replace('"', "")
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": path, "ResponseContentDisposition": f'attachment; filename="{name}"'},
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
            self.client.upload_fileobj(counted, self.bucket, path, Config=config)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc) from exc
        return size if seekable else counted.size

    def mkdir(self, path: str) -> None:
        if self.exists(path):
            raise PortalError("Something with that name already exists here.", code="exists", status_code=409)
        self._call("put_object", Key=path + "/", Body=b"")

    def _keys(self, path: str) -> list[str]:
        keys, token = [], None
        while True:
            kwargs = {"Prefix": path + "/"}
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
        moves = (
            [(path, new_path)]
            if self._file_exists(path)
            else [(key, new_path + key[len(path) :]) for key in self._keys(path)]
        )
        if not moves:
            raise NotFound("There is no such file or folder in this bucket.")
        for old, new in moves:
            self._call("copy_object", Key=new, CopySource={"Bucket": self.bucket, "Key": old})
            self._call("delete_object", Key=old)

    def delete(self, path: str) -> None:
        keys = [path] if self._file_exists(path) else self._keys(path)
        if not keys:
            raise NotFound("There is no such file or folder in this bucket.")
        for start in range(0, len(keys), 1000):
            self._call("delete_objects", Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]]})

    def zip_to(self, path: str, out) -> None:
        keys = self._keys(path) if path else [entry.path for entry in self._walk("")]
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for key in keys:
                if key.endswith("/"):
                    continue
                name = key[len(path) + 1 :] if path else key
                with archive.open(name, "w", force_zip64=True) as target:
                    body = self.open(key)
                    while chunk := body.read(CHUNK):
                        target.write(chunk)

    def _walk(self, prefix: str) -> list[Entry]:
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
        return f"s3://{self.bucket}/{path}"


class _Counting:
    """A read-only file object that counts what passed through it."""

    def __init__(self, source):
        self.source, self.size = source, 0

    def read(self, size=-1):
        chunk = self.source.read(size)
        self.size += len(chunk)
        return chunk
