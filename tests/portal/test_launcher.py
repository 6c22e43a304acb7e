"""`make run` as a person uses it: start, sign in, stop with Ctrl-C, start again with the data kept."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        PORTAL_DATA_DIR=str(data_dir),
        PORT=str(port),
        PORTAL_ADMIN_PASSWORD="keeper-Pass-123",
        GUNICORN_WORKERS="1",
        CELERY_WORKER_CONCURRENCY="1",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "portal.launcher"],
        cwd=BASE_DIR,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_ready(port: int, proc, timeout=120) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        assert proc.poll() is None, "the launcher exited early"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                if r.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("/readyz did not answer 200 in time")


def _stop(proc):
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
    proc.wait(60)


def _sign_in(port):
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"http://127.0.0.1:{port}/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urlencode({"login": "keeper", "password": "keeper-Pass-123", "csrfmiddlewaretoken": token}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/accounts/login/",
        data=data,
        headers={"Referer": f"http://127.0.0.1:{port}/accounts/login/"},
    )
    return opener.open(request).read().decode()


def _servers_running(data_dir: Path) -> bool:
    from portal import embedded

    state = embedded.read_state(data_dir)
    return bool(
        embedded.EmbeddedPostgres(data_dir, state).running_pid()
        or embedded.EmbeddedRedis(data_dir, state).running_pid()
    )


def test_make_run_starts_everything_keeps_data_and_stops_cleanly(tmp_path):
    data_dir, port, log = tmp_path / "var", _free_port(), tmp_path / "launcher.log"
    proc = _start(data_dir, port, log)
    try:
        first = _wait_ready(port, proc)
        home = _sign_in(port)
        assert "Demo team" in home, log.read_text()[-3000:]
        token = json.loads(
            urllib.request.urlopen(
                urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/v1/auth/token/",
                    data=json.dumps({"username": "keeper", "password": "keeper-Pass-123"}).encode(),
                    headers={"Content-Type": "application/json"},
                )
            ).read()
        )["token"]
    finally:
        _stop(proc)
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert not _servers_running(data_dir), "Ctrl-C must stop the embedded servers too"

    proc = _start(data_dir, port, log)
    try:
        second = _wait_ready(port, proc)
        me = urllib.request.urlopen(
            urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/me/", headers={"Authorization": f"Token {token}"})
        )
        assert json.loads(me.read())["username"] == "keeper"  # the token made in the first run still works
    finally:
        _stop(proc)
    print(f"make run ready after {first:.1f}s (first start), {second:.1f}s (second start)")
    assert first < 120 and second < 120
