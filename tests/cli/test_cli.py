"""The `portal` command line, run as a subprocess against a real portal (gunicorn) and a real worker."""

import json
import stat

import psycopg
import pytest

from provisioning.models import Resource, State
from tests.factories import PASSWORD

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _portal_password(user):
    """The portal server hashes with PBKDF2 (this test process uses fast MD5, which the server does not know)."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "clitestsalt", iterations=1000)
    user.save(update_fields=["password"])


def test_login_new_database_wait_credentials_delete(run_portal, templates, alice):
    _portal_password(alice)
    login = run_portal("login", run_portal.url, "--username", "alice", stdin=f"{PASSWORD}\n")
    assert login.returncode == 0, login.stderr
    assert f"Signed in to {run_portal.url} as alice." in login.stdout
    config = run_portal.home / ".config" / "portal" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text())["url"] == run_portal.url

    listed = run_portal("templates", "--json")
    assert listed.returncode == 0
    assert "postgres-database" in {t["slug"] for t in json.loads(listed.stdout)}

    made = run_portal(
        "new", "postgres-database", "--name", "results", "--param", "storage_gb=2", "--wait", "--json", timeout=240
    )
    assert made.returncode == 0, made.stderr
    resource = json.loads(made.stdout)
    assert resource["state"] == "ready" and resource["parameters"]["storage_gb"] == 2

    table = run_portal("ls")
    assert table.returncode == 0 and "results" in table.stdout and "Ready" in table.stdout
    assert json.loads(run_portal("show", "results", "--json").stdout)["id"] == resource["id"]

    secrets = run_portal("credentials", "results", "--json")
    assert secrets.returncode == 0
    with psycopg.connect(json.loads(secrets.stdout)["dsn"]) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)

    refused = run_portal("stop", "results")
    assert refused.returncode == 5, refused.stderr  # a database cannot stop: the API's 409, in its words
    assert refused.stderr.startswith("Error: ")

    gone = run_portal("delete", resource["id"], "--yes", "--wait", "--json", timeout=240)
    assert gone.returncode == 0, gone.stderr
    assert json.loads(gone.stdout)["state"] == "deleted"
    assert Resource.objects.get(pk=resource["id"]).state == State.DELETED


def test_a_wrong_token_exits_non_zero_with_the_apis_message(run_portal, alice):
    import httpx

    api_says = httpx.get(f"{run_portal.url}/api/v1/resources/", headers={"Authorization": "Token not-a-token"}).json()[
        "message"
    ]
    assert api_says.startswith("This token is not valid")
    result = run_portal("ls", env={"PORTAL_URL": run_portal.url, "PORTAL_TOKEN": "not-a-token"})
    assert result.returncode == 3
    assert result.stderr == f"Error: {api_says}\n"
    as_json = run_portal("ls", "--json", env={"PORTAL_URL": run_portal.url, "PORTAL_TOKEN": "not-a-token"})
    assert as_json.returncode == 3
    assert json.loads(as_json.stdout)["message"] == api_says


def test_wrong_password_and_bad_input_in_the_apis_words(run_portal, templates, alice):
    _portal_password(alice)
    wrong = run_portal("login", run_portal.url, "--username", "alice", stdin="nope\n")
    assert wrong.returncode == 3
    assert "Wrong username or password." in wrong.stderr
    assert not (run_portal.home / ".config" / "portal" / "config.json").exists()

    from portal.tokens import token_issue

    token = token_issue(user=alice, name="cli")[1]
    env = {"PORTAL_URL": run_portal.url, "PORTAL_TOKEN": token}
    too_big = run_portal("new", "postgres-database", "--name", "big", "--param", "storage_gb=9999", env=env)
    assert too_big.returncode == 1
    assert "storage_gb" in too_big.stderr or "500" in too_big.stderr
    unknown = run_portal("new", "postgres-database", "--name", "x", "--param", "colour=red", env=env)
    assert unknown.returncode == 2 and "no parameter 'colour'" in unknown.stderr
    missing = run_portal("show", "nothing-here", env=env)
    assert missing.returncode == 4 and "No resource named 'nothing-here'" in missing.stderr
    ids = run_portal("ids", "--kind", "snowflake", "--count", "3", "--json", env=env)
    assert ids.returncode == 0 and len(json.loads(ids.stdout)["ids"]) == 3
    assert not Resource.objects.exists()


def test_unreachable_portal_has_its_own_exit_code(run_portal):
    from tests.conftest import _free_port

    result = run_portal("ls", env={"PORTAL_URL": f"http://127.0.0.1:{_free_port()}", "PORTAL_TOKEN": "x"})
    assert result.returncode == 7 and "Cannot reach the portal" in result.stderr


def test_generate_downloads_a_project_zip(run_portal, alice, tmp_path):
    import zipfile

    from portal.tokens import token_issue
    from utilities.projects import shipped_templates_load

    shipped_templates_load()
    env = {"PORTAL_URL": run_portal.url, "PORTAL_TOKEN": token_issue(user=alice, name="cli")[1]}
    target = tmp_path / "svc.zip"
    result = run_portal(
        "generate",
        "web-service",
        "--answer",
        "project_name=Hello API",
        "--answer",
        "port=9000",
        "-o",
        str(target),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "hello_api/src/hello_api/app.py" in zipfile.ZipFile(target).namelist()
    wrong = run_portal("generate", "web-service", "--answer", "port=soon", env=env)
    assert wrong.returncode == 2 and "port must be a number" in wrong.stderr


def test_files_put_ls_get(run_portal, alice, tmp_path):
    """`portal files` talks to the file browser's API: upload, list, download (a file and a folder as a zip)."""
    import zipfile

    from portal.tokens import token_issue

    env = {"PORTAL_URL": run_portal.url, "PORTAL_TOKEN": token_issue(user=alice, name="cli")[1]}
    data = tmp_path / "train.py"
    data.write_bytes(b"print('hello')\n" * 1000)
    put = run_portal("files", "put", "team-team-a", str(data), "--json", env=env)
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["paths"] == ["train.py"]
    roots = json.loads(run_portal("files", "ls", "--json", env=env).stdout)
    assert "team-team-a" in [root["key"] for root in roots]
    listing = json.loads(run_portal("files", "ls", "team-team-a", "--json", env=env).stdout)
    assert [(e["name"], e["size"]) for e in listing["entries"]] == [("train.py", data.stat().st_size)]
    out = tmp_path / "copy.py"
    got = run_portal("files", "get", "team-team-a", "train.py", "-o", str(out), env=env)
    assert got.returncode == 0, got.stderr
    assert out.read_bytes() == data.read_bytes()
    folder = tmp_path / "all.zip"
    assert run_portal("files", "get", "team-team-a", "", "-o", str(folder), env=env).returncode == 0
    assert zipfile.ZipFile(folder).namelist() == ["train.py"]
    missing = run_portal("files", "get", "team-team-a", "nothing.txt", env=env)
    assert missing.returncode == 4 and "no such file" in missing.stderr.lower()
