"""A user of team A sees nothing of team B."""

import pytest

pytestmark = pytest.mark.django_db


def test_team_list_is_scoped(api, alice, bob, keeper):
    assert [t["slug"] for t in api(alice).get("/api/v1/teams/").json()["results"]] == ["team-a"]
    assert [t["slug"] for t in api(bob).get("/api/v1/teams/").json()["results"]] == ["team-b"]
    assert {t["slug"] for t in api(keeper).get("/api/v1/teams/").json()["results"]} >= {"team-a", "team-b"}


def test_home_shows_only_own_team(signed_in, alice, bob):
    page = signed_in(alice).get("/").content.decode()
    assert "Team A" in page
    assert "Team B" not in page


def test_cannot_switch_into_another_team(signed_in, alice, bob):
    client = signed_in(alice)
    client.post("/teams/switch/", {"team": "team-b"})
    page = client.get("/").content.decode()
    assert "Team B" not in page
    assert "not a member" in page


def test_keeper_can_switch_into_any_team(signed_in, keeper, team_a, team_b):
    client = signed_in(keeper)
    client.post("/teams/switch/", {"team": "team-b"})
    assert "Team B" in client.get("/").content.decode()


def test_keeper_nav_only_for_keepers(signed_in, alice, keeper):
    assert "Keeper</span>" not in signed_in(alice).get("/").content.decode()
