"""Teams, requests to the Keepers, notifications and the radar in Chromium, at desktop and phone width (issue 14).

Screenshots go to var/e2e-screenshots/14-*.png."""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from portal.models import Membership
from portal.notifications.services import notify
from tests.e2e.conftest import shot, sign_in
from tests.factories import MembershipFactory, TeamFactory, UserFactory, make_keeper

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture
def world(initial_data):
    call_command("radar_load", verbosity=0)
    demo = TeamFactory(slug="demo", name="Demo team", description="A team to try the portal with.")
    admin = MembershipFactory(user=UserFactory(username="dana"), team=demo, role="admin").user
    make_keeper()
    return demo, admin


def test_join_accept_and_notifications_in_a_browser(page, phone, world):
    demo, admin = world
    UserFactory(username="newcomer")
    sign_in(page, "newcomer")
    page.get_by_role("link", name="Ask to join a team").click()
    card = page.locator(".card", has_text="Demo team")
    card.locator("input[name=message]").fill("I study proteins")
    card.get_by_role("button", name="Ask to join").click()
    expect(page.get_by_text("Asked.")).to_be_visible()
    shot(page, "14-teams-asked")

    page.context.clear_cookies()
    sign_in(page, "dana")
    expect(page.locator(".bell .count")).to_have_text("1")
    page.locator(".bell").click()
    shot(page, "14-notifications-desktop")
    page.get_by_role("button", name="newcomer asks to join Demo team").click()
    expect(page).to_have_url(re.compile("/teams/demo/$"))
    shot(page, "14-team-page-desktop")
    page.locator("section", has_text="Asking to join").get_by_role("button", name="Accept").click()
    expect(page.get_by_text("newcomer is now in Demo team.")).to_be_visible()
    assert Membership.objects.filter(user__username="newcomer", team=demo).exists()

    sign_in(phone, "dana")
    phone.goto("/teams/demo/")
    shot(phone, "14-team-page-phone")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 392, f"the team page is {width} px wide on a 390 px phone"
    phone.goto("/notifications/")
    shot(phone, "14-notifications-phone")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 392, f"the page is {width} px wide on a 390 px phone"


def test_ask_the_keepers_and_the_radar_in_a_browser(page, phone, world, alice):
    sign_in(page, "alice")
    page.goto("/guides/")
    page.locator("a", has_text=re.compile(".")).filter(has=page.locator("h2")).first.click()
    page.get_by_role("link", name="Something wrong with this step? Tell the Keepers").first.click()
    expect(page.get_by_text(re.compile("About: Guide: "))).to_be_visible()
    page.fill("input[name=title]", "This step is wrong")
    page.fill("textarea[name=body]", "The command says *not found*.")
    page.get_by_role("button", name="Send to the Keepers").click()
    expect(page.get_by_role("heading", name=re.compile("This step is wrong"))).to_be_visible()
    shot(page, "14-request-thread-desktop")

    page.goto("/radar/")
    expect(page.locator("svg.radar-svg a.blip").first).to_be_visible()
    shot(page, "14-radar-desktop")
    page.locator("svg.radar-svg a.blip").first.click()
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    shot(page, "14-radar-entry-desktop")

    sign_in(phone, "alice")
    phone.goto("/radar/")
    shot(phone, "14-radar-phone")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 392, f"the radar page is {width} px wide on a 390 px phone"
    notify(user=alice, kind="notebook_idle", title="Notebook nb1 will be stopped soon", body="Unused since 10:00.")
    phone.goto("/ask/")
    shot(phone, "14-ask-phone")
