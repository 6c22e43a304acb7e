"""Pages and endpoints run a fixed number of queries, whatever the number of resources."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from provisioning.models import Event, Operation, Resource, State

pytestmark = pytest.mark.django_db


def _make(templates, team, owner, count):
    template = templates["bucket"]
    resources = Resource.objects.bulk_create(
        [
            Resource(
                team=team,
                owner=owner,
                template=template,
                kind="bucket",
                driver="s3",
                name=f"r{i}",
                state=State.READY,
                outputs={"bucket": f"b{i}"},
            )
            for i in range(count)
        ]
    )
    Operation.objects.bulk_create(
        [Operation(resource=r, action="create", state="succeeded", log="x" * 100) for r in resources]
    )
    Event.objects.bulk_create([Event(resource=r, message=f"event {j}") for r in resources for j in range(3)])
    return resources


def _count(client, url):
    client.get(url)  # warm-up: per-request caches on a reused user object
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", ["/resources/", "/resources/?kind=bucket", "/resources/?state=ready"])
def test_resource_list_page(templates, signed_in, alice, team_a, url):
    client = signed_in(alice)
    _make(templates, team_a, alice, 1)
    few = _count(client, url)
    _make(templates, team_a, alice, 0)
    Resource.objects.all().delete()
    _make(templates, team_a, alice, 200)
    many = _count(client, url)
    assert few == many, f"{url}: {few} queries for 1 resource, {many} for 200"
    print(f"queries: {url} = {many}")


def test_resource_detail_page(templates, signed_in, alice, team_a):
    client = signed_in(alice)
    one = _make(templates, team_a, alice, 1)[0]
    few = _count(client, f"/resources/{one.pk}/")
    Event.objects.bulk_create([Event(resource=one, message=f"more {j}") for j in range(200)])
    Operation.objects.bulk_create([Operation(resource=one, action="stop", state="succeeded") for _ in range(200)])
    many = _count(client, f"/resources/{one.pk}/")
    assert few == many
    print(f"queries: /resources/<id>/ = {many}")
    assert _count(client, f"/resources/{one.pk}/live/") <= few


def test_resource_list_endpoint(templates, api, alice, team_a):
    client = api(alice)
    _make(templates, team_a, alice, 1)
    few = _count(client, "/api/v1/resources/")
    Resource.objects.all().delete()
    _make(templates, team_a, alice, 200)
    many = _count(client, "/api/v1/resources/")
    assert few == many
    print(f"queries: /api/v1/resources/ = {many}")


def test_resource_detail_endpoint(templates, api, alice, team_a):
    client = api(alice)
    one = _make(templates, team_a, alice, 1)[0]
    few = _count(client, f"/api/v1/resources/{one.pk}/")
    Event.objects.bulk_create([Event(resource=one, message=f"more {j}") for j in range(200)])
    assert _count(client, f"/api/v1/resources/{one.pk}/") == few
