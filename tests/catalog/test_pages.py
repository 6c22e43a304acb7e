import pytest

from catalog.models import Entry
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(db):
    from django.core.management import call_command

    call_command("provisioning_load", verbosity=0)
    call_command("catalog_load", verbosity=0)


def test_list_filters_by_kind_and_tag(catalog, signed_in, alice):
    client = signed_in(alice)
    page = client.get("/catalog/").content.decode()
    assert "JupyterLab notebooks" in page and "entries" in page
    libraries = client.get("/catalog/?kind=library").content.decode()
    assert "PyTorch" in libraries and "JupyterLab notebooks" not in libraries
    tagged = client.get("/catalog/?tag=storage").content.decode()
    assert "Object storage buckets" in tagged and "PyTorch" not in tagged
    assert "Kueue" in client.get("/catalog/?lifecycle=experimental").content.decode()


def test_list_pages(signed_in, alice):
    Entry.objects.bulk_create([Entry(slug=f"e{i:03}", name=f"Entry {i:03}") for i in range(60)])
    client = signed_in(alice)
    assert "Page 1 of 3" in client.get("/catalog/").content.decode()
    assert "Entry 059" in client.get("/catalog/?page=3").content.decode()


def test_detail_shows_links_templates_and_guides(catalog, signed_in, alice):
    page = signed_in(alice).get("/catalog/postgres-databases/").content.decode()
    assert "New postgresql database" in page
    assert "/resources/new/postgres-database/" in page


def test_hostile_markdown_is_shown_harmless(signed_in, alice):
    Entry.objects.create(
        slug="evil",
        name="Evil",
        body='<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">\n\n[click](javascript:alert(3))',
    )
    page = signed_in(alice).get("/catalog/evil/").content.decode()
    assert "<script>alert(1)" not in page
    assert "onerror" not in page
    assert "javascript:alert" not in page


def test_keeper_edits_in_the_portal_and_history_is_kept(catalog, signed_in, keeper):
    client = signed_in(keeper)
    assert client.get("/catalog/pytorch/edit/").status_code == 200
    response = client.post(
        "/catalog/pytorch/edit/",
        {
            "name": "PyTorch",
            "kind": "library",
            "lifecycle": "production",
            "summary": "Deep learning, faster.",
            "body": "",
            "tags": "library, gpu",
            "links": "Docs | https://pytorch.org/docs | docs",
        },
    )
    assert response.status_code == 302
    entry = Entry.objects.get(slug="pytorch")
    assert entry.summary == "Deep learning, faster." and entry.updated_by == keeper
    event = AuditEvent.objects.get(action="catalog.update", target_id=str(entry.pk))
    assert "summary" in event.data["changed"] and "tags" in event.data["changed"]
    history = client.get("/catalog/pytorch/").content.decode()
    assert "keeper1 · catalog.update: " in history and "summary, tags" in history


def test_bad_links_are_explained(catalog, signed_in, keeper):
    page = signed_in(keeper).post(
        "/catalog/pytorch/edit/",
        {"name": "PyTorch", "kind": "library", "lifecycle": "production", "links": "Docs | ftp://x | docs"},
    )
    assert "must start with https://" in page.content.decode()


def test_scientists_cannot_edit(catalog, signed_in, api, alice):
    assert signed_in(alice).get("/catalog/pytorch/edit/").status_code == 404
    assert signed_in(alice).post("/catalog/pytorch/delete/").status_code == 302
    assert Entry.objects.filter(slug="pytorch").exists()
    response = api(alice).patch("/api/v1/catalog/pytorch/", {"summary": "x"}, format="json")
    assert response.status_code == 403


def test_api_reads_and_keeper_writes(catalog, api, alice, keeper):
    listed = api(alice).get("/api/v1/catalog/?kind=library").json()
    assert {e["slug"] for e in listed["results"]} >= {"pytorch", "psycopg", "boto3"}
    assert api(alice).get("/api/v1/catalog/pytorch/").json()["name"] == "PyTorch"
    created = api(keeper).post(
        "/api/v1/catalog/",
        {
            "name": "Weights store",
            "kind": "service",
            "tags": ["models"],
            "links": [{"title": "Docs", "url": "https://x.org"}],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["slug"] == "weights-store"
    bad = api(keeper).post("/api/v1/catalog/", {"name": "X", "kind": "spaceship", "tags": ["Bad Tag"]}, format="json")
    assert bad.status_code == 400 and {"kind", "tags"} <= set(bad.json()["fields"])
    assert (
        api(keeper)
        .patch("/api/v1/catalog/weights-store/", {"lifecycle": "deprecated"}, format="json")
        .json()["lifecycle"]
        == "deprecated"
    )
    assert api(keeper).delete("/api/v1/catalog/weights-store/").status_code == 204
