"""The technology radar: the acceptance procedure (six criteria, Keepers' votes), the server-drawn SVG, the list, and
the Backstage tech-radar JSON (issue 14)."""

import math
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from django.core.management import call_command

from catalog.models import Entry
from catalog.radar_models import CRITERIA, Proposal, Score, Technology, Vote
from portal.notifications.models import Notification
from tests.factories import make_keeper

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"
# The tech-radar plugin's loader response (plugins/tech-radar/src/api.ts: TechRadarLoaderResponse).
BACKSTAGE_TOP = {"quadrants", "rings", "entries"}
BACKSTAGE_QUADRANT = {"id", "name"}
BACKSTAGE_RING = {"id", "name", "color"}
BACKSTAGE_ENTRY_REQUIRED = {"id", "title", "quadrant", "description", "key", "url", "timeline"}
BACKSTAGE_TIMELINE = {"moved", "ringId", "date", "description"}


def _validate_backstage(data):
    assert set(data) == BACKSTAGE_TOP
    assert len(data["quadrants"]) == 4 and all(set(q) == BACKSTAGE_QUADRANT for q in data["quadrants"])
    assert len(data["rings"]) == 4 and all(set(r) == BACKSTAGE_RING for r in data["rings"])
    assert all(r["color"].startswith("#") and len(r["color"]) == 7 for r in data["rings"])
    quadrants = {q["id"] for q in data["quadrants"]}
    rings = {r["id"] for r in data["rings"]}
    keys = [e["key"] for e in data["entries"]]
    assert len(keys) == len(set(keys))
    for entry in data["entries"]:
        assert set(entry) >= BACKSTAGE_ENTRY_REQUIRED, entry
        assert all(isinstance(entry[k], str) for k in BACKSTAGE_ENTRY_REQUIRED - {"timeline"})
        assert entry["quadrant"] in quadrants
        assert entry["timeline"], entry
        for move in entry["timeline"]:
            assert set(move) == BACKSTAGE_TIMELINE
            assert move["ringId"] in rings and move["moved"] in (-1, 0, 1)
            date.fromisoformat(move["date"])
            assert isinstance(move["description"], str)
        for link in entry.get("links", []):
            assert set(link) == {"title", "url"}


def _blips(svg: str) -> dict:
    """{slug: (quadrant, ring, href)} as a reader of the picture sees them: by where each blip is drawn."""
    root = ET.fromstring(svg)
    rings = sorted(
        (float(c.get("r")), c.get("data-ring")) for c in root.iter(f"{SVG}circle") if c.get("class") == "ring"
    )
    assert [r for _, r in rings] == ["adopt", "trial", "assess", "hold"]
    size = float(root.get("viewBox").split()[2])
    center = size / 2
    found = {}
    for link in root.iter(f"{SVG}a"):
        circle = link.find(f"{SVG}circle")
        dx, dy = float(circle.get("cx")) - center, center - float(circle.get("cy"))
        radius = math.hypot(dx, dy)
        ring = next(name for outer, name in rings if radius <= outer)
        quadrant = {
            (True, False): "techniques",
            (True, True): "tools",
            (False, False): "platforms",
            (False, True): "languages-and-frameworks",
        }[(dy > 0, dx > 0)]
        found[link.get("data-slug")] = (quadrant, ring, link.get("href"))
    return found


def test_initial_radar_matches_the_catalog(api, alice):
    call_command("catalog_load", verbosity=0)
    call_command("radar_load", verbosity=0)
    call_command("radar_load", verbosity=0)  # safe to repeat
    placed = {t.slug: t for t in Technology.objects.all()}
    entries = Entry.objects.filter(kind__in=["service", "api", "tool", "library"])
    assert entries.count() > 10
    for entry in entries:
        tech = placed[entry.slug]
        assert tech.ring == {"production": "adopt", "experimental": "trial"}[entry.lifecycle], entry.slug
        assert tech.entry_id == entry.pk and tech.moves.count() == 1
    assert placed["mlflow"].ring == "trial" and placed["pytorch"].ring == "adopt"
    assert placed["pytorch"].quadrant == "languages-and-frameworks"
    assert placed["jupyter-notebooks"].quadrant == "platforms"
    data = api(alice).get("/api/v1/radar/").json()
    _validate_backstage(data)
    assert {e["key"] for e in data["entries"]} == set(placed)


def test_a_proposal_scored_and_voted_by_two_keepers_moves_to_trial_and_is_drawn_there(client, api, alice, team_a):
    first, second = make_keeper("keeper1"), make_keeper("keeper2")
    response = api(alice).post(
        "/api/v1/radar/proposals/",
        {
            "name": "Ray",
            "description": "Distributed Python for many-GPU training.",
            "quadrant": "tools",
            "links": [{"title": "Docs", "url": "https://docs.ray.io/"}],
            "tried_by": "team-a",
            "findings": "Halved our tuning time.",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    assert Notification.objects.filter(user=first, kind="radar_proposal").exists()
    full = {key: {"value": 4, "justification": f"{key} holds"} for key in CRITERIA}
    scores, votes = f"/api/v1/radar/proposals/{pk}/scores/", f"/api/v1/radar/proposals/{pk}/votes/"

    assert api(first).post(scores, {"scores": full}, format="json").status_code == 200
    assert api(first).post(votes, {"ring": "trial", "reason": "Try it"}, format="json").status_code == 200
    assert Technology.objects.get(slug="ray").ring == ""  # one Keeper is not enough
    assert api(second).post(votes, {"ring": "trial"}, format="json").status_code == 200
    assert Technology.objects.get(slug="ray").ring == ""  # the second has not scored yet
    detail = api(second).post(scores, {"scores": full}, format="json").json()
    assert detail["status"] == "decided" and detail["decided_ring"] == "trial" and detail["ring"] == "trial"
    assert len(detail["scores"]) == 12 and len(detail["votes"]) == 2
    assert Notification.objects.filter(user=alice, kind="approval_decided").exists()

    # The picture: in the tools quadrant, inside the trial ring, linked to its page.
    client.force_login(alice)
    page = client.get("/radar/").content.decode()
    start = page.rindex("<svg", 0, page.index('class="radar-svg"'))  # not the header's bell icon
    svg = page[start : page.index("</svg>", start) + 6]
    blips = _blips(svg)
    assert blips["ray"] == ("tools", "trial", "/radar/ray/")
    labels = [el for el in ET.fromstring(svg).iter(f"{SVG}text") if el.get("class") == "quadrant-label"]
    assert len(labels) == 4
    for slug, (_, _, href) in blips.items():
        assert client.get(href).status_code == 200, slug
    # The list view says the same, for reading and phones.
    listing = page[page.index('aria-label="The radar as a list"') :]
    assert listing.index("Tools") < listing.index("Trial") < listing.index('href="/radar/ray/"')
    entry_page = client.get("/radar/ray/").content.decode()
    assert "Halved our tuning time." in entry_page and "Market presence" in entry_page
    assert "market_presence holds" in entry_page

    data = api(alice).get("/api/v1/radar/").json()
    _validate_backstage(data)
    (ray,) = [e for e in data["entries"] if e["key"] == "ray"]
    assert ray["quadrant"] == "tools" and ray["timeline"][0]["ringId"] == "trial" and ray["timeline"][0]["moved"] == 0
    assert ray["url"].endswith("/radar/ray/") and ray["links"] == [{"title": "Docs", "url": "https://docs.ray.io/"}]

    # A later proposal moves it in, and the history keeps both moves.
    again = {"name": "Ray", "description": "Now everyone uses it.", "quadrant": "tools"}
    pk2 = api(alice).post("/api/v1/radar/proposals/", again, format="json").json()["id"]
    for keeper in (first, second):
        api(keeper).post(f"/api/v1/radar/proposals/{pk2}/scores/", {"scores": full}, format="json")
        api(keeper).post(f"/api/v1/radar/proposals/{pk2}/votes/", {"ring": "adopt"}, format="json")
    (ray,) = [e for e in api(alice).get("/api/v1/radar/").json()["entries"] if e["key"] == "ray"]
    assert [(m["ringId"], m["moved"]) for m in ray["timeline"]] == [("adopt", 1), ("trial", 0)]


def test_a_vote_or_score_by_a_non_keeper_is_refused_and_changes_nothing(api, alice, keeper):
    dask = {"name": "Dask", "description": "Parallel Python", "quadrant": "tools"}
    pk = api(alice).post("/api/v1/radar/proposals/", dask, format="json").json()["id"]
    scores, votes = f"/api/v1/radar/proposals/{pk}/scores/", f"/api/v1/radar/proposals/{pk}/votes/"
    vote = api(alice).post(votes, {"ring": "adopt"}, format="json")
    assert vote.status_code == 403 and "Only the Keepers vote" in vote.json()["message"]
    score = api(alice).post(scores, {"scores": {"relevance": {"value": 5, "justification": "x"}}}, format="json")
    assert score.status_code == 403
    assert Vote.objects.count() == 0 and Score.objects.count() == 0
    assert api(keeper).post(votes, {"ring": "maybe"}, format="json").status_code == 400
    no_why = api(keeper).post(scores, {"scores": {"relevance": {"value": 5, "justification": ""}}}, format="json")
    assert no_why.status_code == 400
    assert Vote.objects.count() == 0 and Score.objects.count() == 0
    assert api(alice).post("/api/v1/radar/proposals/", dask, format="json").status_code == 409
    assert Proposal.objects.count() == 1
    empty = {"name": "", "description": "", "quadrant": "tools"}
    assert api(alice).post("/api/v1/radar/proposals/", empty, format="json").status_code == 400
    assert Technology.objects.count() == 1


def test_proposal_page_form_and_discussion(client, alice, team_a):
    client.force_login(alice)
    bad = client.post("/radar/propose/", {"name": "X", "description": "", "quadrant": "tools"})
    assert bad.status_code == 400 and "A proposal needs" in bad.content.decode()
    response = client.post(
        "/radar/propose/",
        {"name": "Polars", "description": "Fast frames", "quadrant": "languages-and-frameworks", "tried_by": "team-a"},
    )
    assert response["Location"] == "/radar/polars/"
    client.post("/radar/polars/comment/", {"body": "We love it<script>alert(1)</script>"})
    page = client.get("/radar/polars/").content.decode()
    assert "<script>alert(1)" not in page and "We love it" in page
    assert "Score it" not in page  # only Keepers score
