"""Load: 50 users for 5 minutes (quick: 10 users for 20 s) mixing page views, API reads and database requests; errors
and latency per kind; then the memory (RSS) of each gunicorn worker and each Celery worker process, after the load,
against the issue's targets (150 MB and 200 MB)."""

from __future__ import annotations

import os
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.bench.common import django_shell, figure, percentile, print_figures, size, table

TITLE = "Load and memory"
WEB_TARGET_MB, WORKER_TARGET_MB = 150, 200

USERS_SEED = """
from django.contrib.auth import get_user_model
from portal.models import ApiToken, Membership, Team
from portal.tokens import token_issue
team = Team.objects.get(slug="demo")
for i in range({n}):
    user, _ = get_user_model().objects.get_or_create(username=f"load-{{i}}")
    Membership.objects.get_or_create(user=user, team=team)
    ApiToken.objects.filter(user=user, name="bench load").delete()  # the last run's
    print("TOKEN", token_issue(user=user, name="bench load", expires_in_days=1, via="bench")[1])
"""


def processes(portal) -> dict[str, dict]:
    """The portal's gunicorn workers (not the master) and Celery worker processes (main and pool children), by label."""
    import psutil

    groups = {"web": {}, "worker": {}}
    for child in psutil.Process(portal.proc.pid).children(recursive=True):
        try:
            line = " ".join(child.cmdline())
            parent = " ".join(child.parent().cmdline())
        except (psutil.Error, AttributeError):
            continue
        if "gunicorn" in line and "gunicorn" in parent:
            groups["web"][f"gunicorn worker {child.pid}"] = child
        elif "celery" in line and " worker" in line:
            queue = "control" if "control@" in line else "operations"
            role = "pool child" if "celery" in parent else "main"
            groups["worker"][f"{queue} {role} {child.pid}"] = child
    return groups


def rss_mb(process) -> float | None:
    import psutil

    try:
        return round(process.memory_info().rss / 2**20, 1)
    except psutil.Error:
        return None


def run(portal) -> dict:
    """50 users for BENCH_LOAD_SECONDS (default 300) mixing page views, API reads and database requests.

    Each user waits about a second between actions; every user asks for at most two databases and deletes them at
    the end. Errors (5xx, timeouts) and latency per kind are reported, and the memory of the web and worker
    processes, idle before and at the peak of the load."""
    import random
    import threading

    users = int(os.environ.get("BENCH_LOAD_USERS", size(50, 10)))
    seconds = float(os.environ.get("BENCH_LOAD_SECONDS", size(300, 15)))
    output = django_shell(USERS_SEED.format(n=users))
    tokens = [line.split()[1] for line in output.splitlines() if line.startswith("TOKEN ")]
    before = {name: {label: rss_mb(p) for label, p in group.items()} for name, group in processes(portal).items()}
    pages = ["/", "/catalog/", "/guides/", "/search/?q=gpu", "/resources/", "/catalog/?kind=tool"]
    reads = ["/api/v1/resources/", "/api/v1/catalog/?search=python", "/api/v1/search/?q=notebook", "/api/v1/me/"]
    timings: dict[str, list[float]] = {"page": [], "api": [], "request": []}
    errors: dict[str, int] = {}
    samples: dict[str, str] = {}
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

    started = time.monotonic()
    with ThreadPoolExecutor(users) as pool:
        created = [rid for mine in pool.map(one_user, range(users)) for rid in mine]
    elapsed = time.monotonic() - started
    ready = sum(1 for rid in created if portal.wait_state(rid, {"ready", "failed"}, timeout=300)["state"] == "ready")
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
    after = {name: {label: rss_mb(p) for label, p in group.items()} for name, group in processes(portal).items()}
    table(
        "Memory (RSS of each process, MB)",
        ["process", "before the load", "after the load"],
        [[label, before[name].get(label), value] for name in after for label, value in after[name].items()],
    )
    web, worker = [x for x in after["web"].values() if x], [x for x in after["worker"].values() if x]
    figures = [
        figure(
            f"load: {users} users for {seconds:.0f} s, {total} requests, errors {sum(errors.values())}; p95 of pages",
            percentile(timings["page"], 95) if timings["page"] else None,
            "ms",
        ),
        figure(
            f"largest gunicorn worker after the load (of {len(web)})",
            max(web, default=None),
            "MB",
            target=WEB_TARGET_MB,
        ),
        figure(
            f"largest Celery worker process after the load (of {len(worker)})",
            max(worker, default=None),
            "MB",
            target=WORKER_TARGET_MB,
        ),
    ]
    print_figures(TITLE, figures)
    return {
        "figures": figures,
        "details": {
            "users": users,
            "seconds": seconds,
            "requests": total,
            "errors": errors,
            "databases": {"asked": len(created), "ready": ready},
            "latency_ms": {row[0]: {"n": row[1], "p50": row[2], "p95": row[3], "p99": row[4]} for row in rows},
            "rss_mb": {"before": before, "after": after},
        },
    }
