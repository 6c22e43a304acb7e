"""Joining a team, invitations, roles and quotas on the portal's own pages and API (issue 14)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.models import Membership, Team
from portal.notifications.models import Notification
from portal.teams.models import Invitation, JoinRequest, QuotaRequest
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_new_account_joins_demo_from_the_admins_notification_and_can_request_a_notebook_at_once(
    client, templates, api, keeper
):
    demo = TeamFactory(slug="demo", name="Demo team", description="A team to try the portal with.")
    admin = MembershipFactory(user=UserFactory(username="dana"), team=demo, role="admin").user
    newcomer = UserFactory(username="newcomer")

    client.force_login(newcomer)
    home = client.get("/").content.decode()
    assert "Ask to join a team" in home and 'href="/teams/"' in home
    listing = client.get("/teams/").content.decode()
    assert "Demo team" in listing and "A team to try the portal with." in listing
    response = client.post("/teams/join/", {"team": "demo", "message": "I study proteins"})
    assert response.status_code == 302
    join = JoinRequest.objects.get(user=newcomer)
    assert join.status == "pending"

    # The team admin is told; the notification leads to the team page, where one click accepts.
    note = Notification.objects.get(user=admin, kind="join_request")
    assert note.title == "newcomer asks to join Demo team"
    assert Notification.objects.filter(user=keeper, kind="join_request").exists()
    client.force_login(admin)
    assert client.post(f"/notifications/{note.pk}/")["Location"] == "/teams/demo/"
    team_page = client.get("/teams/demo/").content.decode()
    assert "newcomer" in team_page and "I study proteins" in team_page
    assert client.post(f"/teams/join-requests/{join.pk}/", {"decision": "accept"}).status_code == 302
    assert Membership.objects.get(user=newcomer, team=demo).role == "member"

    # The person is told, and can request a notebook at once.
    assert Notification.objects.filter(user=newcomer, kind="join_decided", title="You are now in Demo team").exists()
    response = api(newcomer).post(
        "/api/v1/resources/", {"template": "jupyter-notebook", "name": "first", "team": "demo"}, format="json"
    )
    assert response.status_code == 201, response.json()


def test_a_new_team_is_made_when_a_keeper_accepts_and_the_asker_is_its_admin(api, keeper):
    person = UserFactory(username="founder")
    response = api(person).post("/api/v1/join-requests/", {"new_team_name": "Cell Imaging"}, format="json")
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    assert api(person).post(f"/api/v1/join-requests/{pk}/decide/", {"accept": True}, format="json").status_code == 403
    assert api(keeper).post(f"/api/v1/join-requests/{pk}/decide/", {"accept": True}, format="json").status_code == 200
    team = Team.objects.get(slug="cell-imaging")
    assert Membership.objects.get(user=person, team=team).role == "admin"


@pytest.mark.parametrize(
    "name, slug",
    [("Météo Lab", "meteo-lab"), ("42", "team-42"), ("èd", "ed"), ("気象研究室", None), ("✓", None)],
)
def test_any_team_name_gets_an_address(api, keeper, name, slug):
    """Names in any script: the letters and digits make the address, or "team-" and a fingerprint of the name."""
    from portal.models import SLUG_RE

    person = UserFactory(username="founder")
    response = api(person).post("/api/v1/join-requests/", {"new_team_name": name}, format="json")
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    assert api(keeper).post(f"/api/v1/join-requests/{pk}/decide/", {"accept": True}, format="json").status_code == 200
    team = Membership.objects.get(user=person).team
    assert team.name == name and re.match(SLUG_RE, team.slug)
    assert team.slug == slug if slug else team.slug.startswith("team-")
    again = api(UserFactory(username="second")).post("/api/v1/join-requests/", {"new_team_name": name}, format="json")
    assert again.status_code == 409  # the same name gives the same address: it exists now


def test_declined_request_says_why(api, alice_admin, team_a):
    person = UserFactory(username="outsider")
    pk = api(person).post("/api/v1/join-requests/", {"team": "team-a"}, format="json").json()["id"]
    response = api(alice_admin).post(
        f"/api/v1/join-requests/{pk}/decide/", {"accept": False, "reason": "We are full"}, format="json"
    )
    assert response.json()["status"] == "declined"
    assert not Membership.objects.filter(user=person).exists()
    note = Notification.objects.get(user=person, kind="join_decided")
    assert note.body == "We are full"
    again = api(alice_admin).post(f"/api/v1/join-requests/{pk}/decide/", {"accept": True}, format="json")
    assert again.status_code == 409 and not Membership.objects.filter(user=person).exists()


def test_invitation_link_works_once_expires_and_is_only_for_its_person(client, api, alice_admin, bob, team_a):
    carol = UserFactory(username="carol", email="carol@example.org")
    response = api(alice_admin).post(
        "/api/v1/teams/team-a/invitations/", {"recipient": "carol@example.org"}, format="json"
    )
    assert response.status_code == 201, response.json()
    link = response.json()["link"]
    path = re.sub(r"^https?://[^/]+", "", link)
    assert Notification.objects.filter(user=carol, kind="invitation", url=path).exists()

    # Someone signed in as another person cannot use it, and nothing changes.
    client.force_login(bob)
    page = client.get(path)
    assert page.status_code == 403 and "sign out" in page.content.decode().lower()
    assert client.post(path).status_code == 403
    assert not Membership.objects.filter(user=bob, team=team_a).exists()
    assert Invitation.objects.get().accepted_at is None

    client.force_login(carol)
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 302
    assert Membership.objects.filter(user=carol, team=team_a, role="member").exists()
    # Once only.
    Membership.objects.filter(user=carol).delete()
    again = client.post(path)
    assert again.status_code == 409 and "used already" in again.content.decode()  # its state: used
    assert not Membership.objects.filter(user=carol).exists()

    # Expired.
    _, token = _invite(alice_admin, team_a, "carol")
    Invitation.objects.filter(accepted_at__isnull=True).update(expires_at=timezone.now() - timedelta(minutes=1))
    expired = api(carol).post(f"/api/v1/invitations/{token}/accept/")
    assert expired.status_code == 410 and "expired" in expired.json()["message"]
    assert not Membership.objects.filter(user=carol).exists()


def _invite(by, team, recipient):
    from portal.teams.services import invitation_create

    return invitation_create(team=team, by=by, recipient=recipient)


def test_invitation_to_a_team_that_does_not_exist_or_is_not_yours_is_refused(api, alice_admin, team_b):
    UserFactory(username="carol")
    missing = api(alice_admin).post("/api/v1/teams/no-such-team/invitations/", {"recipient": "carol"}, format="json")
    assert missing.status_code == 404 and missing.json()["message"]
    other = api(alice_admin).post("/api/v1/teams/team-b/invitations/", {"recipient": "carol"}, format="json")
    assert other.status_code == 404
    unknown = api(alice_admin).post("/api/v1/teams/team-a/invitations/", {"recipient": "nobody"}, format="json")
    assert unknown.status_code == 404 and "Nobody has the user name" in unknown.json()["message"]
    assert Invitation.objects.count() == 0


def test_admin_changes_roles_and_removes_members_but_keeps_one_admin(client, alice, alice_admin, team_a):
    client.force_login(alice_admin)
    client.post(f"/teams/team-a/members/{alice.pk}/", {"role": "admin"})
    assert Membership.objects.get(user=alice).role == "admin"
    client.post(f"/teams/team-a/members/{alice.pk}/", {"action": "remove"})
    assert not Membership.objects.filter(user=alice).exists()
    response = client.post(f"/teams/team-a/members/{alice_admin.pk}/", {"action": "remove"}, follow=True)
    assert "at least one admin" in response.content.decode()
    assert Membership.objects.filter(user=alice_admin, team=team_a, role="admin").exists()


def test_team_page_shows_use_against_quotas_and_keepers_edit_them(client, templates, alice_admin, team_a, keeper):
    from tests.factories import make_resource

    make_resource(templates["postgres-database"], team_a, alice_admin, "db1", state="ready")
    client.force_login(alice_admin)
    page = client.get("/teams/team-a/").content.decode()
    assert "Use against quotas" in page and "Databases" in page
    assert "Edit the team" not in page
    client.force_login(keeper)
    response = client.post("/teams/team-a/edit/", {"name": "Team A", "description": "Imaging", "max_gpus": "6"})
    assert response.status_code == 302
    team_a.refresh_from_db()
    assert team_a.max_gpus == 6 and team_a.description == "Imaging"
    bad = client.post("/teams/team-a/edit/", {"max_gpus": "-1"}, follow=True)
    assert "Check the highlighted fields" in bad.content.decode()
    team_a.refresh_from_db()
    assert team_a.max_gpus == 6


def test_quota_request_approved_by_a_keeper_raises_the_limit(api, alice_admin, team_a, keeper):
    response = api(alice_admin).post(
        "/api/v1/quota-requests/",
        {"team": "team-a", "field": "max_gpus", "requested": 4, "reason": "Bigger models"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    assert Notification.objects.filter(user=keeper, kind="quota_request").exists()
    assert (
        api(alice_admin).post(f"/api/v1/quota-requests/{pk}/decide/", {"accept": True}, format="json").status_code
        == 403
    )
    assert Team.objects.get(pk=team_a.pk).max_gpus == 2
    assert api(keeper).post(f"/api/v1/quota-requests/{pk}/decide/", {"accept": True}, format="json").status_code == 200
    assert Team.objects.get(pk=team_a.pk).max_gpus == 4
    assert Notification.objects.filter(user=alice_admin, kind="approval_decided").exists()


def test_quota_request_below_current_use_is_refused_and_changes_nothing(api, templates, alice_admin, team_a):
    from tests.factories import make_resource

    Team.objects.filter(pk=team_a.pk).update(max_databases=3)
    for name in ("db1", "db2", "db3"):
        make_resource(templates["postgres-database"], team_a, alice_admin, name, state="ready")
    response = api(alice_admin).post(
        "/api/v1/quota-requests/",
        {"team": "team-a", "field": "max_databases", "requested": 2, "reason": "Fewer"},
        format="json",
    )
    assert response.status_code == 409  # the team's use now: a conflict (issue 20)
    assert "below what Team A uses now (3)" in response.json()["message"]
    assert QuotaRequest.objects.count() == 0
    no_reason = api(alice_admin).post(
        "/api/v1/quota-requests/",
        {"team": "team-a", "field": "max_databases", "requested": 8, "reason": " "},
        format="json",
    )
    assert no_reason.status_code == 400 and QuotaRequest.objects.count() == 0


def test_member_cannot_ask_for_quota_or_invite(api, alice, team_a):
    response = api(alice).post(
        "/api/v1/quota-requests/", {"team": "team-a", "field": "max_gpus", "requested": 9, "reason": "x"}, format="json"
    )
    assert response.status_code == 403 and QuotaRequest.objects.count() == 0
    assert (
        api(alice).post("/api/v1/teams/team-a/invitations/", {"recipient": "x@example.org"}, format="json").status_code
        == 403
    )
    assert Invitation.objects.count() == 0


def test_a_whole_number_written_with_a_point_is_a_whole_number(api, alice_admin, team_a):
    """JSON has one number type and the API schema (JSON Schema) calls 4.0 an integer: it is taken as 4; 4.5 is
    refused in words. (The outside fuzz run sent 4.0 after the schema became OpenAPI 3.1.)"""
    body = {"team": "team-a", "field": "max_gpus", "reason": "Bigger models"}
    half = api(alice_admin).post("/api/v1/quota-requests/", {**body, "requested": 4.5}, format="json")
    assert half.status_code == 400 and half.json()["fields"]["requested"] == "Must be a whole number."
    whole = api(alice_admin).post("/api/v1/quota-requests/", {**body, "requested": 4.0}, format="json")
    assert whole.status_code == 201, whole.json()
    assert whole.json()["requested"] == 4 and isinstance(whole.json()["requested"], int)
