"""A real portal (gunicorn on 127.0.0.1, on the test database) for the `portal` command line to talk to."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import BASE_DIR, _free_port, _worker_env

PORTAL_BIN = Path(sys.executable).parent / "portal"


@pytest.fixture(scope="session")
def portal_server(django_db_setup, django_db_blocker, tmp_path_factory, s3_server):
    """gunicorn serving the portal on the test database, like `make run` does."""
    if not PORTAL_BIN.exists():
        pytest.fail("The `portal` command is missing: `make test` installs ./cli from requirements-dev.txt.")
    with django_db_blocker.unblock():
        env = _worker_env()
    env.update(s3_server)
    port = _free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"gunicorn did not start; see {log}")
        time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(20)


@pytest.fixture
def run_portal(portal_server, live_worker, tmp_path):
    """Run the `portal` command as a user would: a subprocess with its own config folder and no terminal."""
    home = tmp_path / "home"
    home.mkdir()

    def run(*args, stdin: str | None = None, env: dict | None = None, timeout: float = 180):
        environment = {
            k: v for k, v in os.environ.items() if k not in ("PORTAL_URL", "PORTAL_TOKEN", "XDG_CONFIG_HOME")
        }
        environment.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), **(env or {}))
        return subprocess.run(
            [str(PORTAL_BIN), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=environment,
            timeout=timeout,
            start_new_session=True,  # no controlling terminal: the password is read from stdin
        )

    run.home = home
    run.url = portal_server
    return run
