import pytest
from django.core.management import call_command

from guides.models import Guide
from provisioning.models import Resource

pytestmark = pytest.mark.django_db


@pytest.fixture
def content(db):
    call_command("provisioning_load", verbosity=0)
    call_command("catalog_load", verbosity=0)
    call_command("guides_sync", verbosity=0)


def test_prefix_finds_the_notebook_guide_first(content, signed_in, alice):
    page = signed_in(alice).get("/search/?q=noteb").content.decode()
    first = page.index('class="result-title"')
    assert page[first : first + 200].count("Your first notebook") == 1
    assert "<mark>notebook</mark>" in page


def test_word_only_in_an_article_body_is_found(content, api, alice):
    article = Guide.objects.get(slug="reproducible-experiments")
    assert "nbstripout" in article.body and "nbstripout" not in article.title + article.summary
    results = api(alice).get("/api/v1/search/?q=nbstripout").json()["results"]
    assert "Reproducible experiments" in [r["title"] for r in results]


def test_templates_are_searchable(content, api, alice):
    results = api(alice).get("/api/v1/search/?q=postgresql").json()["results"]
    assert any(r["kind"] == "template" and r["url"] == "/resources/new/postgres-database/" for r in results)


def test_snippets_cannot_inject_html(signed_in, alice):
    Guide.objects.create(slug="evil", title="Evil guide", body="<script>alert(1)</script> evil words")
    page = signed_in(alice).get("/search/?q=evil").content.decode()
    assert "<script" not in page.split("<main")[1]
    assert "Evil guide" in page and "<mark>evil</mark>" in page


def test_results_respect_teams(content, templates, api, alice, bob, team_a):
    from tests.factories import make_resource

    make_resource(templates["bucket"], team_a, alice, "secret-project-data")
    assert any(
        r["title"] == "secret-project-data" for r in api(alice).get("/api/v1/search/?q=secret").json()["results"]
    )
    assert not any(
        r["title"] == "secret-project-data" for r in api(bob).get("/api/v1/search/?q=secret").json()["results"]
    )
    assert Resource.objects.count() == 1


@pytest.mark.parametrize("q", ["", "   ", "!!!", "a & b | c:*", "'); DROP TABLE x; --", "é" * 300])
def test_odd_queries_never_fail(content, signed_in, api, alice, q):
    assert signed_in(alice).get("/search/", {"q": q}).status_code == 200
    response = api(alice).get("/api/v1/search/", {"q": q})
    assert response.status_code in (200, 400)
