"""A Slurm job's working folder in the file browser and its training curves, on the real test cluster.

The folder is read on the cluster's file system as the team's account (provisioning/drivers/slurm/files.py), so
what the portal writes there belongs to that account and a link the job left pointing out of its folder is refused.
"""

import io
import os
import pwd
import shlex
import time
import zipfile
from pathlib import Path

import pytest

from provisioning.drivers import get_driver
from provisioning.folders import files_key
from provisioning.models import State
from tests.conftest import wait_for
from tests.factories import MembershipFactory, UserFactory
from tests.slurm.test_cluster import _job, _until

pytestmark = [pytest.mark.worker, pytest.mark.slow]

TRAIN = "\n".join(
    [
        "import json, os",
        "for step in range(1, 6):",
        "    row = {'step': step, 'loss': 1.0 / step, 'accuracy': step / 6}",
        "    open('metrics.jsonl', 'a').write(json.dumps(row) + '\\n')",
        "import time",
        "deadline = time.time() + 150",  # waits for the go-ahead the test uploads through the file browser
        "while not os.path.exists('go-on') and time.time() < deadline:",
        "    time.sleep(0.2)",
        "os.makedirs('checkpoints', exist_ok=True)",
        "open('checkpoints/model.txt', 'w').write('weights 0.961\\n')",
        "os.symlink('/etc/passwd', 'escape')",
        "print('Done')",
    ]
)


def test_a_slurm_jobs_folder_is_browsable_as_its_account_with_curves(
    slurm_worker, slurm_cluster, templates, api, alice, client, team_b
):
    scientist = api(alice)
    job = _job(scientist, "curves", command=shlex.join(["python", "-c", TRAIN]))
    job = wait_for(job, State.RUNNING, timeout=30)
    key = files_key(job)
    assert key == f"resource-{job.pk}"
    client.force_login(alice)

    # While it runs: its metrics are drawn (and the charts ask to refresh), and a file uploaded reaches the job.
    deadline = time.monotonic() + 120
    while "metrics.jsonl" not in {e["name"] for e in scientist.get(f"/api/v1/files/{key}/").json()["entries"]}:
        assert time.monotonic() < deadline, "the job never wrote its metrics"
        time.sleep(0.5)
    started = time.monotonic()
    running = client.get(f"/files/curves/{job.pk}/").content.decode()
    print(f"curves of the running Slurm job read in {time.monotonic() - started:.2f} s")
    assert "<svg" in running and "loss" in running and 'hx-trigger="every 5s"' in running
    go_on = io.BytesIO(b"")
    go_on.name = "go-on"
    assert scientist.post(f"/api/v1/files/{key}/upload/", {"files": [go_on]}, format="multipart").status_code == 201
    job = _until(job, State.SUCCEEDED, timeout=120)
    assert "Done" in get_driver("slurm", "training_job").logs(job)
    workdir = Path(job.driver_state["workdir"])

    started = time.monotonic()
    listing = scientist.get(f"/api/v1/files/{key}/").json()
    print(f"the Slurm job's folder listed in {time.monotonic() - started:.2f} s")
    names = {entry["name"] for entry in listing["entries"]}
    assert {"metrics.jsonl", "checkpoints"} <= names and "escape" not in names  # a link out of the folder is hidden
    inner = scientist.get(f"/api/v1/files/{key}/", {"path": "checkpoints"}).json()["entries"]
    assert [(e["name"], e["size"]) for e in inner] == [("model.txt", 14)]
    download = scientist.get(f"/api/v1/files/{key}/download/", {"path": "checkpoints/model.txt"})
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == (workdir / "checkpoints" / "model.txt").read_bytes()

    # Traversal and the link the job left are refused with a clear 400, in the API and in pages.
    for path in ("../", "../../etc/passwd", "/etc/passwd", "escape", "checkpoints/../../x"):
        answer = scientist.get(f"/api/v1/files/{key}/download/", {"path": path})
        assert answer.status_code == 400, (path, answer.status_code)
        assert answer.json()["error"] == "invalid_path"
    refused = client.get(f"/files/{key}/", {"path": "escape"})
    assert refused.status_code == 400 and "outside this folder" in refused.content.decode()

    # What the portal writes there belongs to the team's account (it runs as root here, but writes as the account).
    upload = io.BytesIO(b"lr: 0.1\n")
    upload.name = "config.yaml"
    answer = scientist.post(f"/api/v1/files/{key}/upload/", {"path": "", "files": [upload]}, format="multipart")
    assert answer.status_code == 201, answer.json()
    written = workdir / "config.yaml"
    assert written.read_bytes() == b"lr: 0.1\n"
    assert pwd.getpwuid(written.stat().st_uid).pw_name == "pt-team-a" != "root"
    assert written.stat().st_uid == os.stat(workdir / "metrics.jsonl").st_uid

    archive = zipfile.ZipFile(io.BytesIO(b"".join(client.get(f"/files/{key}/download/").streaming_content)))
    assert {"metrics.jsonl", "checkpoints/model.txt", "config.yaml", "go-on"} <= set(archive.namelist())
    assert "escape" not in archive.namelist()

    # It is one of the team's roots, in the API and on the file browser's first page.
    assert key in {root["key"] for root in scientist.get("/api/v1/files/").json()}
    assert f"/files/{key}/" in client.get("/files/").content.decode()
    # The job's page links its files and draws its curves from the cluster's folder.
    page = client.get(f"/resources/{job.pk}/").content.decode()
    assert f"/files/{key}/" in page and "Training curves" in page
    assert "Open its files" in page and "For the terminal" in page  # the cluster path only under "For the terminal"
    curves = client.get(f"/files/curves/{job.pk}/").content.decode()
    assert "<svg" in curves and "loss" in curves and "accuracy" in curves

    # Another team sees nothing of it: 404 in pages and API.
    bob = MembershipFactory(user=UserFactory(username="bob-slurm"), team=team_b).user
    assert api(bob).get(f"/api/v1/files/{key}/").status_code == 404
    assert api(bob).get(f"/api/v1/files/{key}/download/", {"path": "metrics.jsonl"}).status_code == 404
    client.force_login(bob)
    assert client.get(f"/files/{key}/").status_code == 404
    assert client.get(f"/files/curves/{job.pk}/").status_code == 404
