"""Requests to the Keepers: asked from a guide step, seen by the guide's owner and the Keepers, answered by inbox and
e-mail (a real SMTP server on loopback, a real worker), followed by the team (issue 14)."""

import pytest

from guides.models import Guide
from portal.keeper_requests.models import Feedback, KeeperReply, KeeperRequest
from portal.notifications.models import Notification
from tests.factories import MembershipFactory, TeamFactory, UserFactory

STEPS = [{"id": "install", "title": "Install it"}, {"id": "run", "title": "Run it"}]


@pytest.fixture
def guide(db):
    owners = TeamFactory(slug="docs-team", name="Docs team")
    writer = MembershipFactory(user=UserFactory(username="gwen"), team=owners, role="admin").user
    guide = Guide.objects.create(
        slug="first-job",
        title="Your first job",
        body="## Install it\n\nx\n\n## Run it\n\ny",
        steps=STEPS,
        owner_team=owners,
    )
    return guide, writer


@pytest.mark.worker
def test_request_on_a_guide_step_reaches_owner_and_keepers_and_the_reply_reaches_the_asker_by_mail(
    live_worker,
    worker_with_mail,
    mail_server,
    client,
    api,
    guide,
    alice,
    keeper,
    team_a,
):
    guide, writer = guide
    teammate = MembershipFactory(user=UserFactory(username="tom"), team=team_a).user
    client.force_login(alice)
    page = client.get("/guides/first-job/").content.decode()
    assert "/ask/?about_type=guide&amp;about_key=first-job&amp;about_step=run" in page
    form = client.get("/ask/?about_type=guide&about_key=first-job&about_step=run").content.decode()
    assert "Guide: Your first job, step “Run it”" in form
    response = client.post(
        "/ask/",
        {
            "kind": "problem",
            "title": "This step is wrong",
            "body": "`run` says *command not found*",
            "about_type": "guide",
            "about_key": "first-job",
            "about_step": "run",
        },
    )
    assert response.status_code == 302
    request = KeeperRequest.objects.get()
    assert (request.team, request.about_team, request.about_step) == (team_a, guide.owner_team, "run")

    # The guide's owner is told and can read it; the Keepers see it in their inbox with how long it has waited.
    assert Notification.objects.filter(user=writer, kind="request_new", url=f"/ask/{request.pk}/").exists()
    assert api(writer).get(f"/api/v1/requests/{request.pk}/").status_code == 200
    client.force_login(keeper)
    inbox = client.get("/keepers/inbox/").content.decode()
    assert "This step is wrong" in inbox and "Guide: Your first job" in inbox

    # A Keeper answers and asks for more: the asker gets it in the inbox and by e-mail.
    answer = api(keeper).post(
        f"/api/v1/requests/{request.pk}/replies/",
        {"body": "Use **python -m run** instead; does that work?", "status": "waiting"},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    assert Notification.objects.filter(user=alice, kind="request_reply").exists()
    mail = mail_server.wait_for(lambda m: m["To"] == alice.email and "This step is wrong" in m["Subject"])
    assert "python -m run" in mail.get_content() and f"/ask/{request.pk}/" in mail.get_content()

    # The team sees the state change.
    seen = api(teammate).get("/api/v1/requests/").json()
    assert [(r["id"], r["status"]) for r in seen] == [(request.pk, "waiting")]
    client.force_login(teammate)
    assert "Waiting on you" in client.get("/ask/").content.decode()
    # Someone outside the team sees nothing of it.
    assert api(UserFactory(username="stranger")).get(f"/api/v1/requests/{request.pk}/").status_code == 404


def test_empty_request_is_refused_and_changes_nothing(client, api, alice):
    response = api(alice).post("/api/v1/requests/", {"title": "", "body": " "}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"title", "body"}
    assert KeeperRequest.objects.count() == 0
    client.force_login(alice)
    page = client.post("/ask/", {"kind": "question", "title": "", "body": ""})
    assert page.status_code == 400 and "A request needs a title and a description" in page.content.decode()
    assert KeeperRequest.objects.count() == 0


def test_reply_to_another_teams_request_is_refused_and_changes_nothing(api, alice, bob):
    pk = api(alice).post("/api/v1/requests/", {"title": "Quota", "body": "More GPUs?"}, format="json").json()["id"]
    response = api(bob).post(f"/api/v1/requests/{pk}/replies/", {"body": "I answer for them"}, format="json")
    assert response.status_code == 404 and response.json()["message"]
    assert KeeperReply.objects.count() == 0
    assert KeeperRequest.objects.get(pk=pk).status == "new"


def test_request_about_something_that_does_not_exist_is_refused(api, alice, bob, team_b, templates):
    """Not there, or not yours: 404 with the reason (a well-formed request about a missing thing, not bad input)."""
    from tests.factories import make_resource

    others = make_resource(templates["postgres-database"], team_b, bob, state="ready")
    for about_type, about_key in [
        ("guide", "no-such-guide"),
        ("entry", "no-such-entry"),
        ("template", "no-such-template"),
        ("resource", "not-an-id"),
        ("resource", str(others.pk)),  # another team's resource
    ]:
        response = api(alice).post(
            "/api/v1/requests/",
            {"title": "x", "body": "y", "about_type": about_type, "about_key": about_key},
            format="json",
        )
        assert response.status_code == 404, (about_type, about_key, response.json())
        assert "There is no such" in response.json()["message"] and response.json()["fields"]["about_key"]
    assert KeeperRequest.objects.count() == 0


def test_keepers_inbox_is_sorted_by_age_and_closing_says_why(client, api, alice, keeper):
    from datetime import timedelta

    from django.utils import timezone

    older = api(alice).post("/api/v1/requests/", {"title": "Older", "body": "a"}, format="json").json()["id"]
    newer = (
        api(alice)
        .post("/api/v1/requests/", {"title": "Newer", "body": "b", "kind": "wish"}, format="json")
        .json()["id"]
    )
    KeeperRequest.objects.filter(pk=older).update(created_at=timezone.now() - timedelta(days=2))
    assert [r["id"] for r in api(keeper).get("/api/v1/requests/?inbox=1").json()] == [older, newer]
    client.force_login(keeper)
    page = client.get("/keepers/inbox/").content.decode()
    assert page.index("Older") < page.index("Newer") and "2\xa0days" in page

    assert api(keeper).post(f"/api/v1/requests/{newer}/assign/").json()["assignee"] == keeper.username
    no_reason = api(keeper).post(f"/api/v1/requests/{newer}/status/", {"status": "declined"}, format="json")
    assert no_reason.status_code == 400 and KeeperRequest.objects.get(pk=newer).status == "in_progress"
    declined = api(keeper).post(
        f"/api/v1/requests/{newer}/status/", {"status": "declined", "reason": "We run X already"}, format="json"
    )
    assert declined.json()["resolution"] == "We run X already"
    client.force_login(alice)
    assert "We run X already" in client.get(f"/ask/{newer}/").content.decode()
    # A scientist cannot change the status of a request (but may close their own as done).
    assert (
        api(alice)
        .post(f"/api/v1/requests/{older}/status/", {"status": "declined", "reason": "x"}, format="json")
        .status_code
        == 403
    )
    assert (
        api(alice)
        .post(f"/api/v1/requests/{older}/status/", {"status": "done", "reason": "Solved"}, format="json")
        .status_code
        == 200
    )


def test_helpful_votes_are_tallied_for_keepers(client, api, alice, bob, keeper, guide):
    client.force_login(alice)
    client.post(
        "/ask/feedback/",
        {
            "target_type": "guide",
            "target_key": "first-job",
            "helpful": "no",
            "reason": "Step 2 fails",
            "next": "/guides/first-job/",
        },
    )
    api(bob).post(
        "/api/v1/feedback/", {"target_type": "guide", "target_key": "first-job", "helpful": True}, format="json"
    )
    assert Feedback.objects.count() == 2
    tallies = api(keeper).get("/api/v1/feedback/").json()
    assert tallies == [
        {
            "target_type": "guide",
            "target_key": "first-job",
            "helpful": 1,
            "not_helpful": 1,
            "reasons": [{"helpful": False, "reason": "Step 2 fails"}],
        }
    ]
    assert api(alice).get("/api/v1/feedback/").status_code == 403
    bad = api(alice).post(
        "/api/v1/feedback/", {"target_type": "guide", "target_key": "nope", "helpful": True}, format="json"
    )
    assert bad.status_code == 404 and Feedback.objects.count() == 2


def test_about_fields_longer_than_their_columns_are_a_400_not_a_500(client, api, alice):
    """Found by the outside fuzz run (issue 20): an 81-character about_key was a database error."""
    long_key = "k" * 81
    body = {"title": "Help", "body": "Please", "about_type": "guide", "about_key": long_key}
    response = api(alice).post("/api/v1/requests/", body, format="json")
    assert response.status_code == 400 and "about_key" in response.json()["fields"]
    client.force_login(alice)
    page = client.post("/ask/", {"kind": "question", **body})
    assert page.status_code == 400 and "At most 80 characters" in page.content.decode()
    assert KeeperRequest.objects.count() == 0
