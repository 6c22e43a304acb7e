"""Catalog and search at 100,000 entries and 10,000 guides (issue 19): p95 of one client against the targets
(lists 50 ms, searches 100 ms), the queries each page runs, and 20 concurrent clients for the throughput."""

from __future__ import annotations

import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.bench.common import django_shell, figure, percentile, print_figures, size, table

TITLE = "Pages and API"
LIST_TARGET_MS, SEARCH_TARGET_MS = 50, 100

SEED = """
from django.db import connection
from tests.bench import seed
print("SIZES", *seed.fill(connection, entries={entries}, guides={guides}))
from catalog.models import Template
from portal.models import Team
from provisioning.models import Resource
from django.contrib.auth import get_user_model
template, team = Template.objects.get(slug="jupyter-notebook"), Team.objects.get(slug="demo")
owner = get_user_model().objects.get(username="keeper")
have = Resource.objects.filter(name__startswith="bench-").count()
# Stopped notebooks: listed on every resource page, never polled, so they weigh on the pages and nothing else.
Resource.objects.bulk_create([Resource(team=team, owner=owner, template=template, kind="notebook", driver="local",
    name=f"bench-{{i}}", parameters={{"gpus": 0}}, state="stopped", status_message="Stopped.")
    for i in range(have, {resources})])
print("RESOURCES", Resource.objects.count())
"""

QUERY_COUNTS = """
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
client = Client(HTTP_HOST="127.0.0.1")
client.force_login(get_user_model().objects.get(username="keeper"))
for path in {paths!r}:
    client.get(path)
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).status_code
    print("COUNT", path, status, len(queries))
"""

# path: (kind of client, target p95 in ms or None)
TARGETS = {
    "/catalog/": ("page", LIST_TARGET_MS),
    "/catalog/?kind=tool&tag=gpu": ("page", LIST_TARGET_MS),
    "/catalog/?page=40": ("page", LIST_TARGET_MS),
    "/api/v1/catalog/": ("api", LIST_TARGET_MS),
    "/api/v1/catalog/?tag=python&offset=1000": ("api", LIST_TARGET_MS),
    "/search/?q=noteb": ("page", SEARCH_TARGET_MS),
    "/search/?q=gpu+training": ("page", SEARCH_TARGET_MS),
    "/api/v1/search/?q=noteb": ("api", SEARCH_TARGET_MS),
    "/api/v1/search/?q=climate+genomics": ("api", SEARCH_TARGET_MS),
    "/": ("page", None),
    "/guides/": ("page", None),
    "/resources/": ("page", None),
    "/api/v1/resources/": ("api", None),
}


def run(portal) -> dict:
    entries, guides = size(100_000, 5_000), size(10_000, 500)
    output = django_shell(SEED.format(entries=entries, guides=guides, resources=size(1000, 100)))
    sizes = dict(line.split(" ", 1) for line in output.splitlines() if line.startswith(("SIZES", "RESOURCES")))
    total_entries, total_guides = (int(x) for x in sizes["SIZES"].split())

    def hit(path):
        kind = TARGETS[path][0]
        headers = {"Cookie": portal.cookie} if kind == "page" else {"Authorization": f"Token {portal.token}"}
        started = time.perf_counter()
        request = urllib.request.Request(portal.url + path, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            response.read()
            assert response.status == 200, path
        return (time.perf_counter() - started) * 1000

    counts = {}
    for line in django_shell(QUERY_COUNTS.format(paths=list(TARGETS))).splitlines():
        if line.startswith("COUNT "):
            _, path, _status, count = line.split(" ")
            counts[path] = int(count)
    single, concurrent = size(100, 10), size(100, 0)
    figures, details, rows = [], {}, []
    for path, (_kind, target) in TARGETS.items():
        for _ in range(3):
            hit(path)
        times = [hit(path) for _ in range(single)]
        one = {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 95), 1)}
        many = {}
        if concurrent:
            started = time.perf_counter()
            with ThreadPoolExecutor(20) as pool:
                loaded = list(pool.map(hit, [path] * concurrent))
            many = {
                "p95_ms": round(percentile(loaded, 95), 1),
                "rps": round(concurrent / (time.perf_counter() - started), 1),
            }
        details[path] = {"one_client": one, "twenty_clients": many, "queries": counts.get(path)}
        rows.append(
            [path, one["p50_ms"], one["p95_ms"], many.get("p95_ms", "-"), many.get("rps", "-"), counts.get(path)]
        )
        if target:
            figures.append(
                figure(f"`{path}` p95, 1 client ({counts.get(path)} queries)", one["p95_ms"], "ms", target=target)
            )
    table(
        f"{TITLE} with {total_entries:,} catalog entries, {total_guides:,} guides, {sizes['RESOURCES']} resources",
        ["path", "p50 ms", "p95 ms", "p95 ms x20", "req/s x20", "queries"],
        rows,
    )
    print_figures(f"{TITLE}: p95 of one client against the issue's targets", figures)
    return {
        "figures": figures,
        "details": {"entries": total_entries, "guides": total_guides, "paths": details},
    }
