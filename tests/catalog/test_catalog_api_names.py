"""A catalog entry's address from its name, in any script (found by the outside fuzz run: a name "¡" was refused
with "Give the entry a name")."""

import pytest

from catalog.models import Entry

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name, slug", [("Object storage", "object-storage"), ("¡", None), ("気象データ", None), ("42", "42")]
)
def test_any_entry_name_gets_an_address(api, keeper, name, slug):
    response = api(keeper).post("/api/v1/catalog/", {"name": name, "summary": "x"}, format="json")
    assert response.status_code == 201, response.json()
    entry = Entry.objects.get(name=name)
    assert entry.slug == slug if slug else entry.slug.startswith("entry-")
    again = api(keeper).post("/api/v1/catalog/", {"name": name, "summary": "y"}, format="json")
    assert again.status_code == 409  # the same name, the same address


def test_a_blank_name_is_refused_in_words(api, keeper):
    response = api(keeper).post("/api/v1/catalog/", {"name": "   ", "summary": "x"}, format="json")
    assert response.status_code == 400 and response.json()["fields"]["name"]


@pytest.mark.parametrize("name", ["Polars", "¡.", "深層学習"])
def test_any_technology_name_can_be_proposed_for_the_radar(api, alice, name):
    body = {"name": name, "quadrant": "techniques", "description": "For our pipelines."}
    response = api(alice).post("/api/v1/radar/proposals/", body, format="json")
    assert response.status_code == 201, response.json()
