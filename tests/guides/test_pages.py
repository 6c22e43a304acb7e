from datetime import date, timedelta

import pytest
from django.core.management import call_command

from guides.models import Guide, Progress

pytestmark = pytest.mark.django_db


@pytest.fixture
def content(db):
    call_command("provisioning_load", verbosity=0)
    call_command("catalog_load", verbosity=0)
    call_command("guides_sync", verbosity=0)


def test_guide_list_and_articles(content, signed_in, alice):
    client = signed_in(alice)
    page = client.get("/guides/").content.decode()
    assert page.count('class="card tile guide-tile"') >= 10
    articles = client.get("/articles/").content.decode()
    assert "Reproducible experiments" in articles and "Your first notebook" not in articles
    assert "Handling credentials" in client.get("/guides/?tag=security").content.decode()


def test_guide_page_has_steps_toc_highlighting_and_copyable_code(content, signed_in, alice):
    page = signed_in(alice).get("/guides/using-your-database/").content.decode()
    assert page.count('class="step-toggle"') == 6
    assert 'class="highlight"' in page  # pygments
    assert 'class="toc"' in page
    assert "0</strong> of 6 steps done" in page


def test_ticking_a_step_persists(content, signed_in, alice):
    client = signed_in(alice)
    response = client.post(
        "/guides/getting-started/steps/check-that-you-are-in-your-team/", {"done": "1"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "✓ Done" in response.content.decode() and 'hx-swap-oob="true"' in response.content.decode()
    assert Progress.objects.get(user=alice).steps_done == ["check-that-you-are-in-your-team"]
    page = client.get("/guides/getting-started/").content.decode()
    assert "1</strong> of 5 steps done" in page
    home = client.get("/").content.decode()
    assert "1 of 5 steps" in home and "Continue: Look around the catalog" in home
    client.post("/guides/getting-started/steps/check-that-you-are-in-your-team/", {"done": "0"})
    assert Progress.objects.get(user=alice).steps_done == []


def test_unknown_step_is_explained(content, signed_in, api, alice):
    client = signed_in(alice)
    page = client.post("/guides/getting-started/steps/no-such-step/", {"done": "1"}, follow=True)
    assert "no such step" in page.content.decode()
    response = api(alice).post("/api/v1/guides/getting-started/progress/", {"step": "nope"}, format="json")
    assert response.status_code == 404 and response.json()["error"] == "unknown_step"


def test_progress_over_the_api(content, api, alice):
    client = api(alice)
    body = client.post(
        "/api/v1/guides/first-notebook/progress/", {"step": "open-it", "done": True}, format="json"
    ).json()
    assert body["steps_done"] == ["open-it"]
    assert client.get("/api/v1/guides/first-notebook/").json()["steps_done"] == ["open-it"]
    assert len(client.get("/api/v1/guides/?kind=article").json()["results"]) >= 4


def test_home_shows_the_journey_for_a_new_team(content, signed_in, alice):
    page = signed_in(alice).get("/").content.decode()
    assert "Your first steps on the platform" in page
    assert page.index("Getting started for a new team") < page.index("Your first notebook")
    assert "Start: Check that you are in your team" in page
    assert "New notebook" not in page or "/resources/new/" in page


def test_stale_guide_shows_a_notice_and_is_listed_for_keepers(content, signed_in, alice, keeper):
    Guide.objects.filter(slug="choosing-storage").update(reviewed_at=date.today() - timedelta(days=400))
    page = signed_in(alice).get("/guides/choosing-storage/").content.decode()
    assert "may be out of date" in page
    keepers_page = signed_in(keeper).get("/keepers/").content.decode()
    assert "Choosing where to keep your data" in keepers_page
    signed_in(keeper).post("/guides/choosing-storage/reviewed/")
    assert not Guide.objects.get(slug="choosing-storage").is_stale


def test_keepers_page_is_for_keepers_only(signed_in, alice):
    assert signed_in(alice).get("/keepers/").status_code == 403


def test_keeper_writes_a_guide_in_the_portal(content, signed_in, keeper, alice):
    client = signed_in(keeper)
    response = client.post(
        "/guides/new/",
        {
            "title": "Using the GPU queue",
            "kind": "guide",
            "summary": "Queues.",
            "body": "Intro\n\n## Look at the queue\n\nx\n\n## Wait\n\ny",
            "tags": "gpu, Queue",
            "review_every_days": "90",
        },
    )
    assert response.status_code == 302
    guide = Guide.objects.get(slug="using-the-gpu-queue")
    assert [s["id"] for s in guide.steps] == ["look-at-the-queue", "wait"] and guide.tags == ["gpu", "queue"]
    edit_file_guide = client.post(
        "/guides/getting-started/edit/", {"title": "X", "kind": "guide", "body": "x", "review_every_days": "90"}
    )
    assert "change it there, in git" in edit_file_guide.content.decode()
    assert signed_in(alice).get("/guides/new/").status_code == 404
