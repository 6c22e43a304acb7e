"""`make run`: the whole portal on one machine, in the foreground.

Starts the embedded PostgreSQL and Redis servers (unless DATABASE_URL / REDIS_URL are set), applies migrations,
loads the initial data, then runs the web server (gunicorn), Celery workers (one for the `operations` queue, one
for `control` and `previews`) and Celery beat. Ctrl-C or SIGTERM stops all of them and the embedded servers; the
data folder keeps everything for the next start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from portal import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _log(message: str) -> None:
    print(f"[portal] {message}", flush=True)


def _wait_http(url: str, timeout: float) -> bool:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own http:// URL)
                return response.status == 200
        except urllib.error.HTTPError:
            time.sleep(0.5)
        except OSError:
            time.sleep(0.3)
    return False


def run() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    started_embedded = not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
    if started_embedded:
        state = embedded.start(postgres=not os.environ.get("DATABASE_URL"), redis=not os.environ.get("REDIS_URL"))
        _log(
            f"embedded servers up in {embedded.data_dir()} "
            f"(postgres 127.0.0.1:{state.get('postgres', {}).get('port', '-')}, "
            f"redis 127.0.0.1:{state.get('redis', {}).get('port', '-')})"
        )

    # The Python environment of notebooks and jobs (apart from this .venv): built once, rebuilt when
    # requirements-user.txt changes. Without it the portal still runs; notebooks and jobs are then not offered.
    from provisioning.sandbox import userenv

    try:
        userenv.build_base(log=_log)
    except (OSError, subprocess.CalledProcessError) as exc:
        _log(f"the notebook and job environment could not be built ({exc}); notebooks and jobs are not offered")

    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    try:
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], check=True)
        subprocess.run([*manage, "portal_setup", "-v", "1"], check=True)
    except subprocess.CalledProcessError as exc:
        _log(f"setup failed ({exc}); stopping")
        if started_embedded:
            embedded.stop()
        return 1

    import django

    django.setup()
    from django.conf import settings

    host, port = settings.PORTAL_HOST, settings.PORTAL_PORT
    data = settings.DATA_DIR
    commands = {
        "web": [
            _bin("gunicorn"),
            "portal.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(settings.GUNICORN_WORKERS),
            "--threads",
            "4",
            "--timeout",
            "60",
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "10",
            # gunicorn's largest (4094 by default): a long search or filter gets the portal's own 400 in words,
            # not gunicorn's HTML 414.
            "--limit-request-line",
            "8190",
        ],
        "worker": [
            _bin("celery"),
            "-A",
            "portal",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(settings.CELERY_WORKER_CONCURRENCY),
            "--hostname",
            "worker@%h",
            "--queues",
            "operations",
        ],
        # The control loop and previews have their own worker, so slow operations never hold them up.
        "worker-control": [
            _bin("celery"),
            "-A",
            "portal",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--hostname",
            "control@%h",
            "--queues",
            "control,previews",
        ],
        "beat": [
            _bin("celery"),
            "-A",
            "portal",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(data / "celerybeat-schedule"),
        ],
    }
    children: dict[str, subprocess.Popen] = {}
    stopping = False

    def shutdown(signum=None, frame=None):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)

    for name, command in commands.items():
        # Each child gets its own process group so a Ctrl-C in the terminal reaches only us, and we stop them in order.
        children[name] = subprocess.Popen(command, cwd=BASE_DIR, start_new_session=True)
    every_interface = host in ("0.0.0.0", "::")  # noqa: S104 (only compared, never bound here)
    url = f"http://{'localhost' if every_interface or host == '127.0.0.1' else host}:{port}/"
    if _wait_http(f"http://127.0.0.1:{port}/healthz" if every_interface else f"{url}healthz", 60):
        _log(f"the portal is ready at {url}  (sign in as 'keeper'; Ctrl-C stops everything)")
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                _log(f"{name} exited with code {child.returncode}; stopping the rest")
                stopping, exit_code = True, 1
                break
        time.sleep(0.5)

    _log("stopping...")
    for child in children.values():
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)  # the whole group: a worker's pool processes too
    deadline = time.monotonic() + 30
    for child in children.values():
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait(10)
    if started_embedded:
        embedded.stop()
    _log("stopped; your data is kept in " + str(data))
    return exit_code


if __name__ == "__main__":
    sys.exit(run())
