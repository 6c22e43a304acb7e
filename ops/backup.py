"""Backups of the portal's database: PostgreSQL's own pg_dump (from the embedded server's binaries), the Terraform
state, and the data folder's keys, in one file encrypted with a key the Keeper keeps (Fernet: AES-128 + HMAC).

Restore goes into an empty database (a fresh data folder's embedded server, or an empty managed one) and puts the
keys back into the data folder, so the restored portal decrypts the secrets it holds.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from portal import embedded
from portal.errors import PortalError

FORMAT = 1
KEY_FILES = ("secret_key", "encryption_key")
PREFIX = "portal-backup-"


class BackupError(PortalError):
    def __init__(self, message: str):
        super().__init__(message, code="backup")


def _bin(name: str) -> str:
    return str(embedded._postgres_bin_path() / name)


def _libpq_env(url: str) -> tuple[list[str], dict]:
    """Connection arguments for pg_dump/pg_restore; the password goes in the environment, not the command line."""
    import environ

    config = environ.Env.db_url_config(url)
    args = ["--host", config.get("HOST") or "127.0.0.1", "--port", str(config.get("PORT") or 5432)]
    args += ["--username", config.get("USER") or "postgres", "--dbname", config["NAME"]]
    env = dict(os.environ, PGPASSWORD=config.get("PASSWORD") or "", PGCONNECT_TIMEOUT="10")
    return args, env


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _run(argv: list[str], env: dict) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode:
        raise BackupError(f"{Path(argv[0]).name} failed: {done.stderr.strip()[-2000:]}")


def new_key() -> str:
    return Fernet.generate_key().decode()


def _fernet(key: str) -> Fernet:
    try:
        return Fernet(key.strip().encode())
    except (ValueError, TypeError):
        raise BackupError("The backup key is not a valid key (make one with `portal_backup --new-key`).") from None


def backup_write(*, folder: Path, key: str, now: datetime | None = None) -> Path:
    """Dump, pack and encrypt; returns the file written in `folder`."""
    fernet = _fernet(key)
    now = now or datetime.now(UTC)
    folder.mkdir(parents=True, exist_ok=True)
    database_url = _database_url()
    terraform_separate = bool(settings.TERRAFORM_STATE_URL) and settings.TERRAFORM_STATE_URL != settings.DATABASE_URL
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "database.pgc"
        args, env = _libpq_env(database_url)
        _run([_bin("pg_dump"), "--format=custom", "--no-owner", "--file", str(dump), *args], env)
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "database": "database.pgc",
            "terraform_state": "in the database" if not terraform_separate else "terraform.pgc",
            "keys": [],
            "keys_from_environment": bool(os.environ.get("PORTAL_ENCRYPTION_KEYS") or os.environ.get("SECRET_KEY")),
        }
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(dump, arcname="database.pgc")
            if terraform_separate:
                tf = Path(tmp) / "terraform.pgc"
                tf_args, tf_env = _libpq_env(settings.TERRAFORM_STATE_URL)
                _run(
                    [
                        _bin("pg_dump"),
                        "--format=custom",
                        "--no-owner",
                        "--schema",
                        settings.TERRAFORM_STATE_SCHEMA,
                        "--file",
                        str(tf),
                        *tf_args,
                    ],
                    tf_env,
                )
                tar.add(tf, arcname="terraform.pgc")
            for name in KEY_FILES:
                path = settings.DATA_DIR / name
                if path.exists():
                    tar.add(path, arcname=f"keys/{name}")
                    manifest["keys"].append(name)
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    target = folder / f"{PREFIX}{now.strftime('%Y%m%dT%H%M%SZ')}.enc"
    partial = target.with_suffix(".partial")
    partial.write_bytes(fernet.encrypt(buffer.getvalue()))
    partial.chmod(0o600)
    partial.replace(target)
    return target


def backup_prune(*, folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups in `folder`; returns what was deleted."""
    backups = sorted(folder.glob(f"{PREFIX}*.enc"))
    doomed = backups[:-keep] if keep > 0 else []
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def _database_empty(url: str) -> bool:
    import psycopg

    with psycopg.connect(url, connect_timeout=10) as conn:
        count = conn.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()[0]
    return count == 0


def backup_restore(*, path: Path, key: str) -> dict:
    """Decrypt and restore a backup into this portal's (empty) database and data folder; returns its manifest."""
    try:
        blob = _fernet(key).decrypt(path.read_bytes())
    except InvalidToken:
        raise BackupError("This key does not open this backup (wrong key, or the file was changed).") from None
    database_url = _database_url()
    if not _database_empty(database_url):
        raise BackupError(
            "The database is not empty. Restore into a fresh data folder (PORTAL_DATA_DIR, then "
            "`python -m portal.embedded start`) or an empty database."
        )
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        tar.extractall(tmp, filter="data")
        root = Path(tmp)
        manifest = json.loads((root / "manifest.json").read_text())
        if manifest.get("format") != FORMAT:
            raise BackupError(f"This backup has format {manifest.get('format')}; this portal reads format {FORMAT}.")
        args, env = _libpq_env(database_url)
        _run(
            [_bin("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", *args, str(root / "database.pgc")],
            env,
        )
        if (root / "terraform.pgc").exists():
            tf_args, tf_env = _libpq_env(settings.TERRAFORM_STATE_URL)
            _run(
                [
                    _bin("pg_restore"),
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    *tf_args,
                    str(root / "terraform.pgc"),
                ],
                tf_env,
            )
        for name in manifest.get("keys", []):
            target = settings.DATA_DIR / name
            target.write_text((root / "keys" / name).read_text())
            target.chmod(0o600)
    return manifest
