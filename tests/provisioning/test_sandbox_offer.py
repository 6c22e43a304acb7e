"""Without a working sandbox, notebooks and jobs on this machine are not offered, and the pages say why (issue 12).

The missing sandbox is real: bubblewrap is looked up on PATH, and the test gives the portal a PATH without it."""

import pytest

from provisioning.models import Resource
from provisioning.sandbox import command

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_bubblewrap(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    command._check.cache_clear()
    yield
    monkeypatch.undo()
    command._check.cache_clear()


def test_without_a_sandbox_local_notebooks_and_jobs_are_refused_and_the_pages_say_why(
    no_bubblewrap, templates, api, alice, keeper, signed_in, client
):
    problem = command.sandbox_problem()
    assert "bubblewrap is not installed" in problem and "apt-get install bubblewrap" in problem

    response = api(alice).post(
        "/api/v1/resources/", {"template": "training-job", "name": "j1", "parameters": {}}, format="json"
    )
    assert response.status_code in (400, 409)
    assert "not offered on this machine" in response.json()["message"]
    assert not Resource.objects.exists()

    page = signed_in(alice).get("/resources/new/jupyter-notebook/")
    assert page.status_code == 200
    assert b'id="not-offered"' in page.content and b"bubblewrap is not installed" in page.content
    assert b'type="submit" disabled' in page.content

    assert b'id="local-compute"' in signed_in(keeper).get("/keepers/").content

    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "bubblewrap is not installed" in ready.json()["checks"]["sandbox"]


def test_with_the_sandbox_nothing_is_said(templates, alice, keeper, signed_in):
    command._check.cache_clear()
    assert command.sandbox_problem() is None
    page = signed_in(alice).get("/resources/new/jupyter-notebook/")
    assert b'id="not-offered"' not in page.content
    assert b'id="local-compute"' not in signed_in(keeper).get("/keepers/").content


def test_notebooks_on_the_portals_own_host_name_are_refused_at_start():
    import os
    import subprocess
    import sys

    env = {**os.environ, "PORTAL_BASE_URL": "http://portal.example:8000", "NOTEBOOK_PUBLIC_HOST": "portal.example"}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode != 0
    assert "NOTEBOOK_PUBLIC_HOST (portal.example) is the portal's own host name" in done.stderr
    env["NOTEBOOK_PUBLIC_HOST"] = "notebooks.example"
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
