"""The three kinds of roots behind one store interface, with the same files in each: a folder here, an S3 prefix
(a Kubernetes job's results, moto on loopback) and a Slurm job's folder read as the team's account through the
driver's helper. The curves, listings and zips must agree; nothing leaves the root. Plus the Kubernetes results
sidecar's script, run for real (`aws s3 sync`) with the key the driver makes for one job's prefix."""

import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import boto3
import pytest

from files.curves import curves_from_store
from files.storage import LocalStore, S3Store
from portal.errors import NotFound, PortalError
from provisioning.drivers.kubernetes import results
from provisioning.drivers.slurm.files import ClusterFolder
from provisioning.sandbox import team_account
from tests.factories import make_resource
from tests.files.test_curves import _tensorboard_events

pytestmark = pytest.mark.django_db
BUCKET = "portal-results"
METRICS = b"".join(b'{"step": %d, "loss": %.3f}\n' % (s, 1 / s) for s in range(1, 6))


def _admin_s3(s3_settings):
    return boto3.client(
        "s3",
        endpoint_url=s3_settings["S3_ENDPOINT_URL"],
        aws_access_key_id=s3_settings["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=s3_settings["S3_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )


@pytest.fixture
def account_folder(team_a):
    """A job folder the team's account owns, under /tmp (pytest's own folders are private to root)."""
    if os.geteuid() != 0:
        pytest.skip("reading as the team's account needs root (setpriv)")
    account = team_account(team_a)
    folder = Path(tempfile.mkdtemp(prefix="portal-slurm-files-"))
    folder.chmod(0o755)
    job = folder / "job"
    job.mkdir()
    os.chown(job, account.uid, account.gid)
    yield job, account
    shutil.rmtree(folder, ignore_errors=True)


def _fill(store, events_folder: Path) -> None:
    store.write("metrics.jsonl", io.BytesIO(METRICS))
    store.mkdir("checkpoints")
    store.write("checkpoints/model.txt", io.BytesIO(b"weights 0.961\n"))
    store.mkdir("tb")
    for event in events_folder.iterdir():
        store.write(f"tb/{event.name}", io.BytesIO(event.read_bytes()))


def test_curves_listings_and_zips_agree_through_every_store(tmp_path, s3_settings, account_folder, team_a):
    events = tmp_path / "events"
    _tensorboard_events(events, "train/reward", [0.0, 1.0, 3.0])
    job_folder, account = account_folder
    local = tmp_path / "local"
    local.mkdir()
    admin = _admin_s3(s3_settings)
    admin.create_bucket(Bucket=BUCKET)
    admin.put_object(Bucket=BUCKET, Key="team-a/other-job/secret.txt", Body=b"not yours")  # a sibling prefix
    stores = {
        "folder": LocalStore(local),
        "s3 prefix": S3Store(admin, BUCKET, prefix="team-a/job-1/"),
        "slurm": ClusterFolder(str(job_folder), account),
    }
    for store in stores.values():
        _fill(store, events)

    curves = {name: curves_from_store(store) for name, store in stores.items()}
    assert curves["folder"]["loss"] == [(1.0, 1.0), (2.0, 0.5), (3.0, 0.333), (4.0, 0.25), (5.0, 0.2)]
    assert curves["folder"]["train/reward"] == [(0.0, 0.0), (1.0, 1.0), (2.0, 3.0)]
    assert curves["s3 prefix"] == curves["folder"] == curves["slurm"]

    for name, store in stores.items():
        top = sorted((e.name, e.is_dir) for e in store.list(""))
        assert top == [("checkpoints", True), ("metrics.jsonl", False), ("tb", True)], name
        assert [(e.path, e.size) for e in store.list("checkpoints")] == [("checkpoints/model.txt", 14)], name
        assert store.stat("checkpoints/model.txt").size == 14 and store.is_dir("checkpoints"), name
        handle = store.open("checkpoints/model.txt")
        assert handle.read() == b"weights 0.961\n", name
        handle.close()
        spool = io.BytesIO()
        store.zip_to("", spool)
        names = set(zipfile.ZipFile(spool).namelist())
        assert {"metrics.jsonl", "checkpoints/model.txt"} <= names and not any("secret" in n for n in names), name
        store.rename("checkpoints", "saved")
        assert store.exists("saved/model.txt") and not store.exists("checkpoints"), name
        store.delete("saved")
        with pytest.raises(NotFound):
            store.stat("saved/model.txt")
    assert admin.get_object(Bucket=BUCKET, Key="team-a/other-job/secret.txt")["Body"].read() == b"not yours"

    # What the helper wrote belongs to the team's account, and a link out of the job's folder is refused.
    assert (job_folder / "metrics.jsonl").stat().st_uid == account.uid != 0
    os.symlink("/etc/passwd", job_folder / "escape")
    os.symlink("/etc", job_folder / "etc")
    for path in ("escape", "etc/hostname", "etc"):
        with pytest.raises(PortalError) as refused:
            stores["slurm"].stat(path)
        assert refused.value.code == "invalid_path" and refused.value.status_code == 400
    with pytest.raises(PortalError):
        stores["slurm"].write("etc/evil", io.BytesIO(b"x"))
    assert "escape" not in {e.name for e in stores["slurm"].list("")}
    assert not Path("/etc/evil").exists()


def test_the_results_sidecar_copies_the_workspace_with_the_jobs_own_key(
    tmp_path, s3_settings, settings, templates, team_a, alice
):
    """The sidecar's script with the real `aws` command, the key `results.prepare` made for this job's prefix only,
    and a last copy when Kubernetes stops it (SIGTERM) at the job's end."""
    settings.KUBERNETES_RESULTS_BUCKET = BUCKET
    job = make_resource(
        templates["training-job-k8s"], team_a, alice, "sidecar", parameters={"command": "x", "profile": "cpu"}
    )
    place, key = results.prepare(job, log=lambda line: None)
    workspace = tmp_path / "workspace"
    (workspace / "checkpoints").mkdir(parents=True)
    (workspace / "metrics.jsonl").write_bytes(METRICS)
    (workspace / ".cache").write_text("hidden")
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PORTAL_WORKSPACE": str(workspace),
        "PORTAL_RESULTS_URI": f"s3://{place['bucket']}/{place['prefix']}",
        "PORTAL_RESULTS_SYNC_SECONDS": "1",
        "AWS_ENDPOINT_URL": s3_settings["S3_ENDPOINT_URL"],
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": key["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": key["secret_access_key"],
    }
    admin = _admin_s3(s3_settings)

    def keys():
        found = admin.list_objects_v2(Bucket=BUCKET, Prefix=place["prefix"]).get("Contents", [])
        return {item["Key"][len(place["prefix"]) :] for item in found}

    sidecar = subprocess.Popen(["/bin/sh", "-c", results.SYNC_SCRIPT], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while "metrics.jsonl" not in keys():
            assert sidecar.poll() is None, sidecar.stderr.read().decode()
            assert time.monotonic() < deadline, "the sidecar never copied the metrics"
            time.sleep(0.5)
        (workspace / "checkpoints" / "model.txt").write_text("written at the very end\n")
        sidecar.send_signal(signal.SIGTERM)  # the job ended: Kubernetes stops the sidecar
        assert sidecar.wait(timeout=90) == 0, sidecar.stderr.read().decode()
    finally:
        if sidecar.poll() is None:
            sidecar.kill()
            sidecar.wait()
    assert keys() == {"metrics.jsonl", "checkpoints/model.txt"}  # hidden files stay out
    store = S3Store(admin, BUCKET, prefix=place["prefix"])
    assert curves_from_store(store)["loss"][0] == (1.0, 1.0)

    # The same key cannot write beside its prefix.
    env["PORTAL_RESULTS_URI"] = f"s3://{BUCKET}/team-b/"
    outside = subprocess.run(["/bin/sh", "-c", 'aws s3 cp "$PORTAL_WORKSPACE/metrics.jsonl" "$PORTAL_RESULTS_URI"'],
                             env=env, capture_output=True, timeout=120)  # fmt: skip
    assert outside.returncode != 0 and b"AccessDenied" in outside.stderr
    results.remove({"results": place}, log=lambda line: None)
    assert keys() == set()


SSH_STAND_IN = """#!/bin/sh
# What `ssh LOGIN-NODE COMMAND` amounts to on the login node: sshd hands the one COMMAND string to a shell run as
# the user. (No sshd runs here; runuser plays the login.)
user="$1"; shift
exec /usr/sbin/runuser -u "$user" -- /bin/sh -c "$1"
"""


@pytest.mark.parametrize("transport", ["sudo-like prefix", "ssh to a login node"])
def test_the_helper_goes_through_slurm_submit_prefix(transport, tmp_path, settings, account_folder):
    """SLURM_SUBMIT_PREFIX (sudo, or ssh to a login node where the cluster's file system is mounted) carries the
    file browser's helper the same way it carries sbatch: the source crosses a remote shell intact, the account's
    permissions apply and the job's root still holds."""
    job_folder, account = account_folder
    if transport == "ssh to a login node":
        bin_folder = tmp_path / "bin"
        bin_folder.mkdir()
        (bin_folder / "ssh").write_text(SSH_STAND_IN)
        (bin_folder / "ssh").chmod(0o755)
        settings.SLURM_SUBMIT_PREFIX = f"{bin_folder / 'ssh'} {{account}}"
    else:
        settings.SLURM_SUBMIT_PREFIX = "/usr/sbin/runuser -u {account} --"
    store = ClusterFolder(str(job_folder), account)
    store.write("metrics.jsonl", io.BytesIO(METRICS))
    store.write('it\'s "quoted" $HOME.txt', io.BytesIO(b"odd name"))
    assert sorted(e.name for e in store.list("")) == ['it\'s "quoted" $HOME.txt', "metrics.jsonl"]
    assert (job_folder / "metrics.jsonl").stat().st_uid == account.uid != 0
    assert curves_from_store(store)["loss"][-1] == (5.0, 0.2)
    os.symlink("/etc/passwd", job_folder / "escape")
    with pytest.raises(PortalError) as refused:
        store.open("escape").read(1024)
    assert refused.value.code == "invalid_path"


def test_reading_a_folder_or_a_missing_file_through_the_helper_says_why(account_folder):
    job_folder, account = account_folder
    store = ClusterFolder(str(job_folder), account)
    store.mkdir("runs")
    with pytest.raises(PortalError) as refused:
        store.open("runs").read(1024)
    assert refused.value.code == "is_a_folder"
    with pytest.raises(NotFound):
        store.open("missing.txt").read(1024)
    with pytest.raises(NotFound):
        store.stat("runs/missing.txt")
