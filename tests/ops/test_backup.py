"""Backups: pg_dump of the portal's database with the data folder's keys, encrypted; restored into a fresh data
folder with its own embedded servers on other ports, the portal there shows the same things and opens the secrets."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Entry
from ops import backup
from portal.models import Team
from portal.tokens import token_issue
from provisioning.models import Resource, State
from tests.factories import make_resource

BASE_DIR = Path(__file__).resolve().parents[2]

SHOW = """
import json
from django.test import Client
from catalog.models import Entry, Template
from portal.models import Team
from provisioning.models import Resource
from django.conf import settings
client = Client(HTTP_HOST="localhost")
auth = {"HTTP_AUTHORIZATION": "Token " + TOKEN}
me = client.get("/api/v1/me/", **auth)
credentials = client.post(f"/api/v1/resources/{RESOURCE}/credentials/", **auth)
print("RESULT " + json.dumps({
    "teams": sorted(Team.objects.values_list("slug", flat=True)),
    "resources": sorted(str(pk) for pk in Resource.objects.values_list("pk", flat=True)),
    "templates": sorted(Template.objects.values_list("slug", flat=True)),
    "entries": sorted(Entry.objects.values_list("slug", flat=True)),
    "me": me.status_code,
    "credentials": credentials.json().get("credentials"),
    "database": settings.DATABASES["default"]["PORT"],
}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(argv, env, timeout=300):
    done = subprocess.run(argv, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def fresh_folder():
    """A new data folder (under var/, where the embedded server's user can reach it), stopped and removed after."""
    folder = BASE_DIR / "var" / f"restore-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(PORTAL_DATA_DIR=str(folder), PORTAL_PG_PORT=str(_free_port()), PORTAL_REDIS_PORT=str(_free_port()))
    yield folder, env
    subprocess.run([sys.executable, "-m", "portal.embedded", "stop"], cwd=BASE_DIR, env=env, timeout=60, check=False)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_backup_then_restore_into_a_fresh_data_folder(
    templates, team_a, alice, keeper, tmp_path, fresh_folder, settings
):
    Entry.objects.create(slug="gpu-cluster", name="GPU cluster")
    database = make_resource(templates["postgres-database"], team_a, alice, name="kept", state=State.READY)
    database.secrets = {"password": "correct horse battery staple"}
    database.save()
    token = token_issue(user=keeper, name="backup test")[1]
    key_file = tmp_path / "backup.key"
    key_file.write_text(backup.new_key())

    call_command("portal_backup", output=tmp_path / "backups", key_file=key_file)
    (written,) = (tmp_path / "backups").glob("portal-backup-*.enc")
    assert b"correct horse" not in written.read_bytes() and b"gpu-cluster" not in written.read_bytes()

    folder, env = fresh_folder
    _run([sys.executable, "-m", "portal.embedded", "start"], env)
    _run([sys.executable, "manage.py", "portal_restore", str(written), "--key-file", str(key_file)], env)
    assert (folder / "encryption_key").read_text() == (settings.DATA_DIR / "encryption_key").read_text()
    code = f"TOKEN = {token!r}\nRESOURCE = {str(database.pk)!r}\n" + SHOW
    output = _run([sys.executable, "manage.py", "shell", "-c", code], env)
    restored = json.loads(output.split("RESULT ", 1)[1])
    assert str(restored["database"]) == env["PORTAL_PG_PORT"]  # really the other server
    assert restored["teams"] == sorted(Team.objects.values_list("slug", flat=True))
    assert restored["resources"] == sorted(str(pk) for pk in Resource.objects.values_list("pk", flat=True))
    assert restored["templates"] == sorted(templates) and "gpu-cluster" in restored["entries"]
    assert restored["me"] == 200  # the Keeper's token still works
    assert restored["credentials"] == {"password": "correct horse battery staple"}

    again = subprocess.run(
        [sys.executable, "manage.py", "portal_restore", str(written), "--key-file", str(key_file)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode != 0 and "The database is not empty" in again.stderr


@pytest.mark.django_db
def test_a_wrong_key_opens_nothing_and_a_missing_key_is_a_clear_error(tmp_path, settings):
    key_file, other = tmp_path / "k", tmp_path / "other"
    key_file.write_text(backup.new_key())
    other.write_text(backup.new_key())
    written = backup.backup_write(folder=tmp_path, key=key_file.read_text())
    with pytest.raises(CommandError, match="does not open this backup"):
        call_command("portal_restore", str(written), key_file=other)
    settings.BACKUP_KEY = ""
    with pytest.raises(CommandError, match="No backup key"):
        call_command("portal_backup", output=tmp_path)


def test_retention_keeps_the_newest(tmp_path):
    for stamp in ("20261101T020000Z", "20261102T020000Z", "20261103T020000Z"):
        (tmp_path / f"portal-backup-{stamp}.enc").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a backup")
    deleted = backup.backup_prune(folder=tmp_path, keep=2)
    assert [p.name for p in deleted] == ["portal-backup-20261101T020000Z.enc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.txt",
        "portal-backup-20261102T020000Z.enc",
        "portal-backup-20261103T020000Z.enc",
    ]


@pytest.mark.worker
@pytest.mark.slow
def test_beat_backs_up_on_schedule_and_keeps_only_the_newest(live_worker, beat_process, tmp_path):
    folder = tmp_path / "nightly"
    live_worker.stop()
    saved = dict(live_worker.env)
    live_worker.env.update(BACKUP_DIR=str(folder), BACKUP_KEY=backup.new_key(), BACKUP_KEEP="2")
    live_worker.start()
    try:
        beat_process.start(BACKUP_INTERVAL_SECONDS="2")
        deadline = time.monotonic() + 120
        seen: set[str] = set()
        while len(seen) < 3:
            assert time.monotonic() < deadline, f"beat made {len(seen)} backups in 120 s"
            seen |= {p.name for p in folder.glob("portal-backup-*.enc")}
            time.sleep(0.3)
        beat_process.stop()
        time.sleep(1)
        deadline = time.monotonic() + 60
        while len(list(folder.glob("portal-backup-*.enc"))) > 2 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert len(list(folder.glob("portal-backup-*.enc"))) == 2
    finally:
        beat_process.stop()
        live_worker.stop()
        live_worker.env.clear()
        live_worker.env.update(saved)
        live_worker.start()
