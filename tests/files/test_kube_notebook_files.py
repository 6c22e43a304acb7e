"""A running Kubernetes notebook's files (its volume at ~/work), through the notebook's own Jupyter Contents API.

kmock runs no pods, so a real Jupyter Server on 127.0.0.1 plays the notebook's pod: same base URL layout
(/notebooks/<name>/), same token, its root folder standing for /home/jovyan with the volume at work/."""

import hashlib
import io
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile

import pytest

from provisioning.folders import files_key
from provisioning.models import State
from tests.factories import make_resource

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def jupyter(tmp_path):
    """Jupyter Server as the notebook's pod would run it, on loopback only; yields (base url, token, home)."""
    home, port, token, name = tmp_path / "home", _free_port(), secrets.token_urlsafe(16), "nb-lab-abc123"
    (home / "work").mkdir(parents=True)
    argv = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={home}",
        f"--ServerApp.base_url=/notebooks/{name}/",
        "--ServerApp.open_browser=False",
    ]
    if os.geteuid() == 0:
        argv.append("--allow-root")  # the stand-in runs as the test's user; the real pod runs as jovyan
    log = (tmp_path / "jupyter.log").open("wb")
    server = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HOME": str(home)})
    base = f"http://127.0.0.1:{port}/notebooks/{name}"
    deadline = time.monotonic() + 120
    while True:
        try:
            request = urllib.request.Request(f"{base}/api/status", headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(request, timeout=2).read()
            break
        except OSError:
            assert server.poll() is None, (tmp_path / "jupyter.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "Jupyter Server did not start"
            time.sleep(0.3)
    yield base, token, home
    server.terminate()
    server.wait(timeout=30)


def test_a_running_kubernetes_notebooks_volume_is_browsable(jupyter, settings, templates, team_a, alice, bob, api):
    base, token, home = jupyter
    settings.KUBERNETES_INGRESS_HOST = "notebooks.example.org"  # the portal reaches notebooks through the Ingress
    notebook = make_resource(
        templates["jupyter-notebook-k8s"],
        team_a,
        alice,
        "lab",
        parameters={"profile": "cpu"},
        state=State.READY,
        outputs={"url": f"{base}/lab"},
    )
    notebook.secrets = {"token": token}
    notebook.save()
    key = files_key(notebook)
    assert key == f"resource-{notebook.pk}"
    (home / "work" / "data").mkdir()
    (home / "work" / "data" / "train.csv").write_text("x,y\n1,2\n")
    (home / "work" / ".secret").write_text("hidden")
    (home / "outside.txt").write_text("beside the volume")

    scientist = api(alice)
    listing = scientist.get(f"/api/v1/files/{key}/").json()
    assert [(e["name"], e["path"], e["is_dir"]) for e in listing["entries"]] == [("data", "data", True)]
    inner = scientist.get(f"/api/v1/files/{key}/", {"path": "data"}).json()["entries"]
    assert [(e["path"], e["size"]) for e in inner] == [("data/train.csv", 8)]

    # A 20 MB upload goes in 8 MB chunks (Jupyter's chunked save) and comes back byte for byte.
    payload = os.urandom(20 * 1024 * 1024)
    upload = io.BytesIO(payload)
    upload.name = "weights.bin"
    answer = scientist.post(f"/api/v1/files/{key}/upload/", {"path": "data", "files": [upload]}, format="multipart")
    assert answer.status_code == 201, answer.json()
    assert (home / "work" / "data" / "weights.bin").read_bytes() == payload
    download = scientist.get(f"/api/v1/files/{key}/download/", {"path": "data/weights.bin"})
    assert hashlib.sha256(b"".join(download.streaming_content)).digest() == hashlib.sha256(payload).digest()

    assert scientist.post(f"/api/v1/files/{key}/folders/", {"path": "", "name": "runs"}).status_code == 201
    renamed = scientist.post(f"/api/v1/files/{key}/rename/", {"path": "data/train.csv", "new_name": "t.csv"})
    assert renamed.status_code == 200 and (home / "work" / "data" / "t.csv").exists()
    archive = zipfile.ZipFile(io.BytesIO(b"".join(scientist.get(f"/api/v1/files/{key}/download/").streaming_content)))
    assert sorted(archive.namelist()) == ["data/t.csv", "data/weights.bin"]
    assert scientist.delete(f"/api/v1/files/{key}/?path=runs").status_code == 204
    assert not (home / "work" / "runs").exists()

    for path in ("../outside.txt", "/etc/passwd", "data/../../outside.txt"):
        answer = scientist.get(f"/api/v1/files/{key}/download/", {"path": path})
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_path", path

    assert api(bob).get(f"/api/v1/files/{key}/").status_code == 404
    assert api(bob).get(f"/api/v1/files/{key}/download/", {"path": "data/t.csv"}).status_code == 404

    # A stopped notebook has no Files: its volume is not mounted anywhere the portal reaches.
    notebook.state = State.STOPPED
    notebook.save()
    assert files_key(notebook) == ""
    assert scientist.get(f"/api/v1/files/{key}/").status_code == 404
