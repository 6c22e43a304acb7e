"""POST /api/v1/apply/: refusals in plain words, dry runs that change nothing, team scoping."""

import pytest

from provisioning.models import Resource, State
from tests.factories import make_resource

pytestmark = pytest.mark.django_db


def _apply(client, resources, **flags):
    return client.post("/api/v1/apply/", {"team": "team-a", "resources": resources, **flags}, format="json")


def test_dry_run_says_what_would_happen_and_changes_nothing(api, templates, alice):
    response = _apply(api(alice), [{"name": "db", "template": "postgres-database"}], dry_run=True)
    assert response.status_code == 200
    assert response.json()["steps"][0]["action"] == "create"
    assert not Resource.objects.exists()


def test_changes_the_template_does_not_allow_are_refused_with_the_reason(api, templates, team_a, alice):
    make_resource(templates["postgres-database"], team_a, alice, "db", {"storage_gb": 2}, state=State.READY)
    body = _apply(api(alice), [{"name": "db", "template": "postgres-database", "parameters": {"storage_gb": 3}}]).json()
    assert body["ok"] is False
    assert body["steps"][0]["message"] == "The template does not allow changing storage_gb of an existing resource."
    assert Resource.objects.get(name="db").parameters["storage_gb"] == 2
    other = _apply(api(alice), [{"name": "db", "template": "bucket"}]).json()["steps"][0]
    assert other["action"] == "refused" and "a template cannot change" in other["message"]
    bad = _apply(api(alice), [{"name": "x", "template": "postgres-database", "parameters": {"storage_gb": 9999}}])
    assert bad.json()["steps"][0]["action"] == "refused" and bad.json()["steps"][0]["message"].startswith("storage_gb")


def test_another_teams_declaration_is_refused(api, templates, team_a, bob):
    response = _apply(api(bob), [{"name": "db", "template": "postgres-database"}])
    assert response.status_code == 400
    assert response.json()["message"] == "No team 'team-a' among your teams."
    assert api(bob).get("/api/v1/export/?team=team-a").status_code == 400


def test_a_name_declared_twice_is_refused_and_the_rest_applied(api, templates, alice):
    """Like an unknown template: the plan refuses both declarations (which was meant cannot be known) and says so."""
    declared = [
        {"name": "db", "template": "bucket"},
        {"name": "db", "template": "postgres-database"},
        {"name": "files", "template": "bucket"},
    ]
    response = _apply(api(alice), declared)
    assert response.status_code == 200 and response.json()["ok"] is False
    steps = response.json()["steps"]
    assert [(s["name"], s["action"]) for s in steps] == [("db", "refused"), ("db", "refused"), ("files", "create")]
    assert steps[0]["message"] == "'db' is declared 2 times; declare it once."
    assert list(Resource.objects.values_list("name", flat=True)) == ["files"]
