import shutil

import pytest


@pytest.fixture(autouse=True)
def _empty_team_folders(db):
    """Team folders live on disk, outside the database that each test rolls back: empty them after each test."""
    yield
    from portal.models import Team
    from provisioning.sandbox import team_folder

    for team in Team.objects.all():
        shutil.rmtree(team_folder(team), ignore_errors=True)


@pytest.fixture(scope="session")
def s3_open_server(tmp_path_factory):
    """A second moto S3 server on 127.0.0.1 WITHOUT key checking (for presigned URLs; see the test that uses it)."""
    import os
    import socket
    import subprocess
    import sys
    import time

    from tests.conftest import _free_port

    port = _free_port()
    log = tmp_path_factory.mktemp("moto-open") / "moto.log"
    env = {key: value for key, value in os.environ.items() if key != "INITIAL_NO_AUTH_ACTION_COUNT"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"moto did not start; see {log}") from None
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)
