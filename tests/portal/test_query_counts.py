"""The catalog list, the guide list and search run a fixed number of queries with 20 or 20,000 entries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Entry
from guides.models import Guide

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
PAGES = [
    "/catalog/",
    "/catalog/?kind=tool&tag=gpu",
    "/guides/",
    "/articles/",
    "/search/?q=noteb",
    "/search/?q=gpu+training",
    "/",
]
KINDS = ["service", "tool", "library", "api", "dataset", "link"]


def _fill(entries: int, guides: int):
    Entry.objects.bulk_create(
        [
            Entry(
                slug=f"entry-{i}",
                name=f"Entry {i} notebook tool",
                kind=KINDS[i % 6],
                tags=["gpu", f"t{i % 50}"],
                summary=f"Summary {i} about GPU training",
                body="Body text " * 20,
                featured=i < 3,
            )
            for i in range(Entry.objects.count(), entries)
        ],
        batch_size=2000,
    )
    Guide.objects.bulk_create(
        [
            Guide(
                slug=f"guide-{i}",
                title=f"Guide {i} notebook",
                kind="article" if i % 3 else "guide",
                body="## One\n\nx\n\n## Two\n\ny",
                steps=[{"id": "one", "title": "One"}, {"id": "two", "title": "Two"}],
                journey_order=i if i < 4 else None,
                tags=["gpu"],
            )
            for i in range(Guide.objects.count(), guides)
        ],
        batch_size=2000,
    )


def _counts(client):
    counts = {}
    for url in PAGES:
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts[url] = len(queries)
    return counts


def test_fixed_queries_with_20_or_20000_entries(signed_in, alice):
    client = signed_in(alice)
    _fill(20, 20)
    few = _counts(client)
    _fill(20000, 2000)
    many = _counts(client)
    print("queries per page:", many)
    assert few == many
