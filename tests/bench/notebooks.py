"""Time to a notebook: the portal's request to the notebook answering /api/status, next to a bare `jupyter lab`
start and a JupyterHub (LocalProcessSpawner + configurable-http-proxy) start measured in the same run."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.bench.common import DATA, figure, free_port, print_figures, size

TITLE = "Time to a notebook"


def _bare_jupyter_start() -> float:
    import tempfile
    import urllib.error

    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        argv = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--ServerApp.root_dir={folder}",
            "--LabApp.news_url=None",
        ]
        if os.geteuid() == 0:
            argv.append("--allow-root")
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env={**os.environ, "JUPYTER_TOKEN": "t"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            while True:
                try:
                    urllib.request.urlopen(
                        urllib.request.Request(  # noqa: S310
                            f"http://127.0.0.1:{port}/api/status", headers={"Authorization": "token t"}
                        ),
                        timeout=1,
                    )
                    return time.perf_counter() - started
                except (urllib.error.URLError, OSError):
                    time.sleep(0.02)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)


HUB_CONFIG = """
import os, sys
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.JupyterHub.db_url = "sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
# LocalProcessSpawner without switching Unix users (the portal's notebooks run as its own user too).
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = "{folder}/home/{{username}}"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.args = ["--LabApp.news_url=None"] + (["--allow-root"] if os.geteuid() == 0 else [])
c.Spawner.default_url = "/lab"
c.JupyterHub.services = [{{"name": "bench", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "bench", "services": ["bench"],
    "scopes": ["admin:users", "admin:servers", "access:servers", "list:users", "read:users"]}}]
"""
HUB_VERSION, PROXY_VERSION = "6.1.1", "5.3.0"


def _jupyterhub_start_times(count: int = 5) -> list[float]:
    """JupyterHub (LocalProcessSpawner, configurable-http-proxy) on this machine: start request to the user's
    server answering /api/status through the proxy. Installs jupyterhub (PyPI) and the proxy (npm) on first use."""
    import secrets as secrets_module
    import shutil

    folder = DATA / "jupyterhub"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "home").mkdir(parents=True)
    venv_bin = Path(sys.executable).parent
    if not (venv_bin / "jupyterhub").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"jupyterhub=={HUB_VERSION}"], check=True)
    proxy = DATA / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        subprocess.run(
            ["npm", "install", "--silent", "--prefix", str(DATA / "chp"), f"configurable-http-proxy@{PROXY_VERSION}"],
            check=True,
        )
    port, token = free_port(), secrets_module.token_hex(16)
    config = folder / "jupyterhub_config.py"
    config.write_text(
        HUB_CONFIG.format(
            port=port,
            hub_port=free_port(),
            proxy=str(proxy),
            proxy_api_port=free_port(),
            folder=folder,
            singleuser=str(venv_bin / "jupyterhub-singleuser"),
            token=token,
        )
    )
    hub = subprocess.Popen(
        [str(venv_bin / "jupyterhub"), "-f", str(config)],
        cwd=folder,
        stdout=(folder / "hub.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PATH": f"{venv_bin}:{os.environ['PATH']}"},
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"token {token}"}

    def call(method, path, timeout=5):
        request = urllib.request.Request(base + path, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
            return response.status

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                call("GET", "/hub/api/")
                break
            except OSError:
                if time.monotonic() > deadline or hub.poll() is not None:
                    raise RuntimeError(f"JupyterHub did not start; see {folder / 'hub.log'}") from None
                time.sleep(0.2)
        times = []
        for i in range(count):
            user = f"bench{i}"
            call("POST", f"/hub/api/users/{user}")
            started = time.perf_counter()
            call("POST", f"/hub/api/users/{user}/server", timeout=60)  # the hub answers once the spawn is under way
            deadline = time.monotonic() + 60
            while True:
                try:
                    call("GET", f"/user/{user}/api/status", timeout=2)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"JupyterHub's server for {user} never answered; see the hub log") from None
                    time.sleep(0.02)
            times.append(time.perf_counter() - started)
            call("DELETE", f"/hub/api/users/{user}/server", timeout=30)
        return times
    finally:
        os.killpg(hub.pid, signal.SIGTERM)
        hub.wait(30)


POOL_SETUP = """
from django.contrib.auth import get_user_model
from django.utils import timezone
from catalog.models import Template
Template.objects.filter(slug="jupyter-notebook").update(warm_pool_size={size})
get_user_model().objects.filter(memberships__team__slug="demo").update(last_login=timezone.now())
"""
POOL_WAIT = """
import time
from provisioning.models import PooledNotebook
deadline = time.monotonic() + 180
while not PooledNotebook.objects.filter(team__slug="demo", state="ready").exists():
    if time.monotonic() > deadline:
        raise SystemExit("the warm pool never had a ready server")
    time.sleep(0.2)
"""


def _request_to_answer(portal, name: str) -> float:
    """Seconds from the request to the notebook answering /api/status with its token; the notebook is deleted."""
    started = time.perf_counter()
    created = portal.call("POST", "/api/v1/resources/", {"template": "jupyter-notebook", "team": "demo", "name": name})
    portal.wait_state(created["id"], {"ready", "failed"})
    token = portal.call("POST", f"/api/v1/resources/{created['id']}/credentials/")["credentials"]["token"]
    base = portal.call("GET", f"/api/v1/resources/{created['id']}/")["outputs"]["url"].rsplit("/lab", 1)[0]
    request = urllib.request.Request(f"{base}/api/status", headers={"Authorization": f"token {token}"})
    urllib.request.urlopen(request, timeout=5)  # noqa: S310 (loopback)
    seconds = time.perf_counter() - started
    portal.call("DELETE", f"/api/v1/resources/{created['id']}/")
    portal.wait_state(created["id"], {"deleted"})
    return seconds


def _warm_pool_times(portal, count: int) -> list[float]:
    """The same request with the warm pool on (one server per team ahead of demand), waiting for the pool to be
    refilled before each request, so each one finds a warm server."""
    from tests.bench.common import django_shell

    django_shell(POOL_SETUP.format(size=1))
    try:
        times = []
        stamp = int(time.time())
        for i in range(count):
            django_shell(POOL_WAIT)
            times.append(_request_to_answer(portal, f"warm-{stamp}-{i}"))
        return times
    finally:
        django_shell(POOL_SETUP.format(size=0))


def run(portal) -> dict:
    times = []
    stamp = int(time.time())
    for i in range(size(10, 1)):
        times.append(_request_to_answer(portal, f"nb-{stamp}-{i}"))
    warm = _warm_pool_times(portal, size(10, 1))
    bare = [_bare_jupyter_start() for _ in range(size(5, 1))]
    hub = _jupyterhub_start_times(size(5, 1))
    portal_s, bare_s, hub_s = statistics.median(times), statistics.median(bare), statistics.median(hub)
    warm_s = statistics.median(warm)
    figures = [
        figure(f"warm pool: request to notebook answering, median of {len(warm)}", warm_s, "s", target=1.0),
        figure(
            f"warm pool: request to notebook answering, median of {len(warm)}",
            warm_s,
            "s",
            peer=f"JupyterHub {HUB_VERSION}, median of {len(hub)}",
            peer_value=hub_s,
        ),
        figure(
            f"portal request to notebook answering, median of {len(times)}",
            portal_s,
            "s",
            peer=f"bare `jupyter lab`, median of {len(bare)}",
            peer_value=bare_s,
        ),
        figure(
            f"portal request to notebook answering, median of {len(times)}",
            portal_s,
            "s",
            peer=f"JupyterHub {HUB_VERSION}, median of {len(hub)}",
            peer_value=hub_s,
        ),
    ]
    print_figures(TITLE, figures)
    details = {"portal_seconds": times, "warm_pool_seconds": warm, "bare_seconds": bare, "jupyterhub_seconds": hub}
    return {"figures": figures, "details": details}
