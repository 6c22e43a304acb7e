"""Issue 19: the catalog and search at 100,000 entries and 10,000 guides read through indexes.

The rows are made by Postgres itself (tests/bench/seed.py), then VACUUM ANALYZE (what autovacuum does shortly after
a big load) so the planner sees the real sizes. Every query behind /catalog/, /api/v1/catalog/, /search/ and
/api/v1/search/ is then EXPLAINed as run (FORMAT JSON): none may read catalog_entry or guides_guide with a Seq Scan,
and each page runs as many queries as it does on an almost empty catalog. The tag chips, the owner menu and the
API's exact count are cached until the catalog changes; the cold requests that make them are EXPLAINed too (all but
the tag chips' count of every tag, which must read every row: once per change of the catalog, see POPULAR_TAGS).
/guides/ and /articles/ are checked the same way.
The timings are the benchmark's job (`python -m tests.bench pages`)."""

from __future__ import annotations

import json
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Entry
from tests.bench import seed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
BIG_TABLES = {"catalog_entry", "guides_guide"}
# catalog.selectors._popular_tags and guides.selectors._tag_cloud: cached, see above.
POPULAR_TAGS = ("SELECT unnest(tags) t FROM catalog_entry", "FROM guides_guide, unnest(tags) t")
URLS = [
    "/catalog/",
    "/catalog/?kind=tool",
    "/catalog/?tag=gpu",
    "/catalog/?page=30",
    "/api/v1/catalog/",
    "/api/v1/catalog/?kind=dataset&limit=20&offset=2",
    "/api/v1/catalog/?tag=python",
    "/search/?q=noteb",
    "/search/?q=gpu+training",
    "/api/v1/search/?q=noteb",
    "/api/v1/search/?q=climate+genomics",
    "/guides/",  # not one of the four, but the slowest page at 10,000 guides before its index
    "/articles/?page=3",
]


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _run(client) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The SQL each URL runs cold (the cached chips, menu and counts made) and warm (read from the cache)."""
    cold, warm = {}, {}
    for url in URLS:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        cold[url] = [query["sql"] for query in queries.captured_queries]
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        warm[url] = [query["sql"] for query in queries.captured_queries]
    return cold, warm


def test_catalog_and_search_use_indexes_at_100000_entries(signed_in, alice):
    client = signed_in(alice)
    seed.fill(connection, entries=30, guides=30, analyze=False)
    few = {url: len(sql) for url, sql in _run(client)[1].items()}

    started = time.monotonic()
    entries, guides = seed.fill(connection, entries=100_000, guides=10_000)
    print(f"filled in {time.monotonic() - started:.1f} s")
    assert entries >= 100_000 and guides >= 10_000
    cache.delete("catalog:version")  # as a change to the catalog would: the counts are made again
    cold, warm = _run(client)

    assert {url: len(sql) for url, sql in warm.items()} == few
    scans_of_big_tables, indexes_used = [], set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename IN ('catalog_entry', 'guides_guide')")
        big_indexes = {row[0] for row in cursor.fetchall()}
        for url, statements in cold.items():
            for sql in statements:
                if not sql.lstrip().upper().startswith("SELECT") or any(tags in sql for tags in POPULAR_TAGS):
                    continue
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
                raw = cursor.fetchone()[0]
                plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
                for node in _nodes(plan):
                    if node.get("Relation Name") in BIG_TABLES:
                        scans_of_big_tables.append((url, node["Node Type"], sql))
                    if node.get("Index Name") in big_indexes:
                        indexes_used.add((url, node["Index Name"]))
    seq = [scan for scan in scans_of_big_tables if scan[1] == "Seq Scan"]
    assert not seq, "sequential scans of a big table:\n" + "\n".join(f"{u}: {s}" for u, _, s in seq)
    # Each of the four endpoints reads the big tables, through their indexes.
    for prefix in ("/catalog/", "/api/v1/catalog/", "/search/", "/api/v1/search/"):
        assert any(url.startswith(prefix) for url, _ in indexes_used), prefix
    assert any(name == "catalog_entry_name_id_i19" for _, name in indexes_used)


def test_catalog_page_counts_only_what_it_shows(signed_in, alice):
    """Past 1,000 entries the page says "more than" and still offers the next page (no count of every row)."""
    seed.fill(connection, entries=1_200, guides=0, analyze=False)
    client = signed_in(alice)
    first = client.get("/catalog/").content.decode()
    assert "More than 1000 entries" in first and "Page 1</span>" in first and "Next" in first
    deep = client.get("/catalog/?page=49").content.decode()  # entries 1,153 to 1,176: counted to the page's end
    assert "More than 1176 entries" in deep and "Next" in deep
    pages = -(-Entry.objects.count() // 24)
    last = client.get(f"/catalog/?page={pages + 1}").content.decode()  # past the end: the last page, counted exactly
    assert f"Page {pages} of {pages}" in last and "More than" not in last
