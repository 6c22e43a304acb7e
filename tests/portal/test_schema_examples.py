"""The schema's examples from the database (issue 20): a client or fuzzer that reads the schema signed in reaches
the operations that need a real object, without guessing ids."""

import re

import pytest

from tests.factories import make_resource

pytestmark = pytest.mark.django_db


def _path_examples(schema: dict, path: str, method: str) -> dict:
    operation = schema["paths"][path][method]
    return {p["name"]: p.get("example") for p in operation.get("parameters", []) if p["in"] == "path"}


def test_a_team_admin_gets_a_member_it_may_remove_and_a_notebook_to_keep_running(api, alice, alice_admin, templates):
    team = alice.memberships.first().team
    make_resource(templates["jupyter-notebook"], team, alice, name="nb-stopped", state="stopped")
    ready = make_resource(templates["jupyter-notebook"], team, alice, name="nb-ready", state="ready")
    schema = api(alice_admin).get("/api/schema/?format=json").json()

    member = _path_examples(schema, "/api/v1/teams/{slug}/members/{user_id}/", "delete")
    assert member == {"slug": team.slug, "user_id": alice.pk}  # not the admin itself (the last admin)
    keep = _path_examples(schema, "/api/v1/notifications/keep-running/{resource_id}/", "post")
    assert keep == {"resource_id": str(ready.pk)}  # the ready one: a stopped notebook has no idle clock
    assert api(alice_admin).post(f"/api/v1/notifications/keep-running/{ready.pk}/").status_code == 200
    assert api(alice_admin).delete(f"/api/v1/teams/{team.slug}/members/{alice.pk}/").status_code in (200, 204)


def test_a_scientist_who_administers_nothing_gets_no_member_example(api, alice, alice_admin):
    schema = api(alice).get("/api/schema/?format=json").json()
    assert _path_examples(schema, "/api/v1/teams/{slug}/members/{user_id}/", "delete") == {
        "slug": None,
        "user_id": None,
    }


def test_a_nullable_choice_lists_null_among_its_values(api, keeper, team_a):
    """OpenAPI 3.1: `owner_team` may be null (the Keepers own the entry); its enum of teams must say so, or a
    client that sends null (what the server takes) is told it is wrong."""
    schema = api(keeper).get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    choices = components["EntryRequest"]["properties"]["owner_team"]["oneOf"]
    variants = [components[c["$ref"].rsplit("/", 1)[1]] for c in choices]
    assert any(v.get("enum") == ["team-a"] for v in variants)
    assert any(v.get("enum") == [None] or v.get("type") == "null" for v in variants)
    created = api(keeper).post("/api/v1/catalog/", {"name": "Shared disk", "owner_team": None}, format="json")
    assert created.status_code == 201 and created.json()["owner_team"] is None


def test_the_files_operations_get_the_callers_folder_and_files_that_exist(api, alice):
    from files.roots import team_store

    team = alice.memberships.first().team
    store = team_store(team)
    for name in ("a.txt", "b.txt"):
        store.write(name, __import__("io").BytesIO(b"x\n"))
    schema = api(alice).get("/api/schema/?format=json").json()
    rename = schema["paths"]["/api/v1/files/{key}/rename/"]["post"]
    assert _path_examples(schema, "/api/v1/files/{key}/rename/", "post") == {"key": f"team-{team.slug}"}
    body = rename["requestBody"]["content"]["application/json"]["example"]
    assert body == {"path": "a.txt", "new_name": "renamed-a.txt"}
    text = schema["paths"]["/api/v1/files/{key}/text/"]["put"]["requestBody"]["content"]["application/json"]
    assert text["example"]["path"] == "b.txt"  # another file: examples run in any order
    assert api(alice).post(f"/api/v1/files/team-{team.slug}/rename/", body, format="json").status_code == 200


def test_a_name_too_long_for_the_file_system_is_refused_as_the_schema_says(api, alice):
    from files.api import BELOW_TOP, NAME_PATTERN, PATH_PATTERN

    team = alice.memberships.first().team
    long_name = "0" * 256
    for pattern in (BELOW_TOP, NAME_PATTERN, PATH_PATTERN):
        assert re.search(pattern, "ok/" * (pattern != NAME_PATTERN) + "x" * 255)
        assert not re.search(pattern, "ok/" * (pattern != NAME_PATTERN) + long_name)
    response = api(alice).put(
        f"/api/v1/files/team-{team.slug}/text/", {"path": f"0/{long_name}", "text": "x"}, format="json"
    )
    assert response.status_code == 400 and "255" in response.json()["message"]
    twice = api(alice).get("/api/v1/ids/?count=1&count=2")
    assert twice.status_code == 400 and "more than once" in twice.json()["message"]
