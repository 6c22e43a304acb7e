"""The file browser on the team folder, a folder bucket and an S3 bucket (moto on loopback): pages and API."""

import io
import os
import zipfile
from pathlib import Path

import boto3
import pytest

from files.roots import root_get
from portal.models import AuditEvent
from provisioning.drivers import get_driver
from provisioning.models import State
from tests.factories import make_resource

pytestmark = pytest.mark.django_db

TEAM = "team-team-a"


def _upload(client, key, folder, *files):
    data = {"path": folder, "files": [io.BytesIO(body) for _, body in files]}
    for handle, (name, _) in zip(data["files"], files, strict=True):
        handle.name = name
    return client.post(f"/api/v1/files/{key}/upload/", data, format="multipart")


def test_team_folder_upload_list_view_download_rename_delete(api, alice):
    client = api(alice)
    response = _upload(client, TEAM, "", ("train.py", b"print('hi')\n"), ("data.csv", b"a,b\n1,2\n3,4\n"))
    assert response.status_code == 201, response.json()
    assert response.json()["paths"] == ["train.py", "data.csv"]
    assert client.post(f"/api/v1/files/{TEAM}/folders/", {"path": "", "name": "runs"}).status_code == 201

    listing = client.get(f"/api/v1/files/{TEAM}/").json()
    assert [(e["name"], e["is_dir"], e["size"]) for e in listing["entries"]] == [
        ("runs", True, None),
        ("data.csv", False, 12),
        ("train.py", False, 12),
    ]
    download = client.get(f"/api/v1/files/{TEAM}/download/", {"path": "train.py"})
    assert b"".join(download.streaming_content) == b"print('hi')\n"

    renamed = client.post(f"/api/v1/files/{TEAM}/rename/", {"path": "data.csv", "new_name": "table.csv"})
    assert renamed.json()["path"] == "table.csv"
    assert client.delete(f"/api/v1/files/{TEAM}/?path=table.csv").status_code == 204
    names = [e["name"] for e in client.get(f"/api/v1/files/{TEAM}/").json()["entries"]]
    assert names == ["runs", "train.py"]
    actions = set(AuditEvent.objects.filter(action__startswith="files.").values_list("action", flat=True))
    assert actions == {"files.upload", "files.mkdir", "files.rename", "files.delete"}


def test_pages_show_text_csv_notebook_and_edit(client, alice):
    client.force_login(alice)
    root = root_get(user=alice, key=TEAM)
    root.store.write("notes.md", io.BytesIO(b"# Notes\nhello"))
    root.store.write("table.csv", io.BytesIO(b"x,y\n1,2\n"))
    root.store.write(
        "nb.ipynb",
        io.BytesIO(
            b'{"cells": [{"cell_type": "markdown", "source": ["# Title"]}, {"cell_type": "code", "source": "1+1",'
            b' "outputs": [{"output_type": "execute_result", "data": {"text/plain": "2"}}]}]}'
        ),
    )
    folder = client.get(f"/files/{TEAM}/").content.decode()
    assert "notes.md" in folder and "table.csv" in folder and "For the terminal" in folder
    text = client.get(f"/files/{TEAM}/", {"path": "notes.md"}).content.decode()
    assert "# Notes" in text and "<textarea" in text
    table = client.get(f"/files/{TEAM}/", {"path": "table.csv"}).content.decode()
    assert "<th>x</th>" in table and "<td>2</td>" in table
    notebook = client.get(f"/files/{TEAM}/", {"path": "nb.ipynb"}).content.decode()
    assert "<h1" in notebook and "Title" in notebook and "1+1" in notebook
    response = client.post(f"/files/{TEAM}/edit/", {"path": "notes.md", "text": "changed"})
    assert response.status_code == 302
    assert root.store.open("notes.md").read() == b"changed"


def test_folder_downloads_as_a_zip(api, alice):
    client = api(alice)
    _upload(client, TEAM, "", ("a.txt", b"A"))
    client.post(f"/api/v1/files/{TEAM}/folders/", {"path": "", "name": "sub"})
    _upload(client, TEAM, "sub", ("b.txt", b"B"))
    response = client.get(f"/api/v1/files/{TEAM}/download/")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == ["a.txt", "sub/b.txt"]
    assert archive.read("sub/b.txt") == b"B"


@pytest.mark.parametrize(
    "path", ["../", "../../etc/passwd", "/etc/passwd", "a/%00b", "sub/../../x", "link-out/passwd", "link-out"]
)
def test_traversal_is_refused_with_a_clear_400(api, client, alice, path):
    root = root_get(user=alice, key=TEAM)
    os.symlink("/etc", root.store.base / "link-out")
    path = path.replace("%00", "\x00")
    response = api(alice).get(f"/api/v1/files/{TEAM}/", {"path": path})
    assert response.status_code == 400, response.content
    # NUL never gets past the portal's edge (portal.input_guard); the rest is the file browser's own check.
    assert response.json()["error"] == ("unstorable_character" if "\x00" in path else "invalid_path")
    client.force_login(alice)
    page = client.get(f"/files/{TEAM}/", {"path": path})
    assert page.status_code == 400
    assert ("cannot be stored" if "\x00" in path else "cannot be opened") in page.content.decode()


@pytest.mark.parametrize("name", ["../x", "a/b", "nul\x00", ".."])
def test_bad_folder_names_are_refused_and_change_nothing(api, alice, name):
    client = api(alice)
    response = client.post(f"/api/v1/files/{TEAM}/folders/", {"path": "", "name": name})
    assert response.status_code == 400
    assert response.json()["fields"]  # the field and the reason, in words
    assert client.get(f"/api/v1/files/{TEAM}/").json()["entries"] == []


def test_upload_names_with_folders_land_inside_the_folder(api, alice):
    """Browsers send only a base name; Django keeps only the last part of any other, so nothing lands outside."""
    root = root_get(user=alice, key=TEAM)
    response = _upload(api(alice), TEAM, "", ("../../escaped.txt", b"x"))
    assert response.json()["paths"] == ["escaped.txt"]
    assert (root.store.base / "escaped.txt").exists()
    assert not (root.store.base.parent / "escaped.txt").exists()
    assert not (root.store.base.parent.parent / "escaped.txt").exists()


def test_another_teams_folder_is_a_404(api, client, alice, bob, keeper):
    _upload(api(alice), TEAM, "", ("secret.txt", b"team a only"))
    assert api(bob).get(f"/api/v1/files/{TEAM}/").status_code == 404
    assert api(bob).get(f"/api/v1/files/{TEAM}/download/", {"path": "secret.txt"}).status_code == 404
    assert _upload(api(bob), TEAM, "", ("x.txt", b"x")).status_code == 404
    client.force_login(bob)
    assert client.get(f"/files/{TEAM}/").status_code == 404
    assert client.post(f"/files/{TEAM}/delete/", {"path": "secret.txt"}).status_code == 404
    assert api(keeper).get(f"/api/v1/files/{TEAM}/").status_code == 200  # Keepers see all


def test_folder_bucket_is_browsed_like_any_folder(settings, templates, api, alice):
    settings.S3_ENDPOINT_URL = ""
    resource = make_resource(templates["bucket"], alice.memberships.get().team, alice, "results", {})
    result = get_driver("s3", "bucket").apply(resource, [].append)
    resource.driver_state, resource.outputs, resource.state = result.state, result.outputs, State.READY
    resource.save()
    key = f"resource-{resource.pk}"
    assert _upload(api(alice), key, "", ("r.txt", b"result")).status_code == 201
    assert (Path(resource.driver_state["path"]) / "r.txt").read_bytes() == b"result"
    roots = [r["key"] for r in api(alice).get("/api/v1/files/").json()]
    assert roots == [TEAM, key]


def _s3_bucket(templates, alice):
    resource = make_resource(templates["bucket"], alice.memberships.get().team, alice, "s3data", {})
    result = get_driver("s3", "bucket").apply(resource, [].append)
    resource.driver_state, resource.outputs, resource.secrets = result.state, result.outputs, result.secrets
    resource.state = State.READY
    resource.save()
    return resource, result


def test_s3_bucket_upload_list_download_and_delete(s3_settings, settings, templates, api, alice):
    settings.FILES_S3_PRESIGNED_DOWNLOADS = False  # moto checking keys cannot serve presigned URLs (see below)
    resource, result = _s3_bucket(templates, alice)
    key = f"resource-{resource.pk}"
    client = api(alice)
    assert client.post(f"/api/v1/files/{key}/folders/", {"path": "", "name": "runs"}).status_code == 201
    assert _upload(client, key, "runs", ("m.csv", b"step,loss\n1,0.5\n")).status_code == 201
    listing = client.get(f"/api/v1/files/{key}/", {"path": "runs"}).json()
    assert [(e["name"], e["size"]) for e in listing["entries"]] == [("m.csv", 16)]
    download = client.get(f"/api/v1/files/{key}/download/", {"path": "runs/m.csv"})
    assert b"".join(download.streaming_content) == b"step,loss\n1,0.5\n"
    # The scientist's own key sees what the portal put there.
    own = boto3.client(
        "s3",
        endpoint_url=s3_settings["S3_ENDPOINT_URL"],
        aws_access_key_id=result.secrets["access_key_id"],
        aws_secret_access_key=result.secrets["secret_access_key"],
        region_name="us-east-1",
    )
    assert own.get_object(Bucket=result.outputs["bucket"], Key="runs/m.csv")["Body"].read().startswith(b"step")
    assert client.delete(f"/api/v1/files/{key}/?path=runs").status_code == 204
    assert client.get(f"/api/v1/files/{key}/").json()["entries"] == []


def test_s3_downloads_use_a_short_lived_presigned_address(s3_open_server):
    """moto checks no keys on presigned URLs when key checking is on (it fails with a 500), so this runs against a
    second moto server without key checking: the address the portal makes is fetched by a plain HTTP client."""
    import urllib.request

    from files.storage import S3Store

    client = boto3.client(
        "s3", endpoint_url=s3_open_server, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    )
    client.create_bucket(Bucket="presigned-test")
    store = S3Store(client, "presigned-test")
    store.write("out/model.bin", io.BytesIO(b"weights"))
    url = store.download_url("out/model.bin", seconds=60)
    assert "Expires=" in url or "X-Amz-Expires=60" in url
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 (moto on loopback)
        assert answer.read() == b"weights"
        assert answer.headers["Content-Disposition"] == 'attachment; filename="model.bin"'
