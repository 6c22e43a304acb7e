"""The journeys of the people the portal is for, in a real browser, with a real worker behind the pages."""

import re

import pytest
from playwright.sync_api import expect

from provisioning.models import Resource, State
from tests.conftest import wait_for
from tests.e2e.conftest import shot, sign_in

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.e2e]


def test_new_scientist_first_guide_then_a_notebook(page, initial_data, live_worker, alice):
    sign_in(page, "alice")
    expect(page.get_by_role("heading", name="Your first steps on the platform")).to_be_visible()
    shot(page, "1-home-new-scientist")

    # Follow the first guide of the journey and tick its first step (htmx, no reload).
    page.locator(".journey-item a.journey-title").first.click()
    expect(page.locator("article, main").first).to_be_visible()
    first_step = page.locator("form.step-toggle button").first
    first_step.click()
    expect(page.locator("form.step-toggle button").first).to_have_text(re.compile("Done"))
    expect(page.get_by_text(re.compile(r"1 of \d+ steps done"))).to_be_visible()
    shot(page, "2-guide-step-ticked")

    # Back home: a notebook from the quick action.
    page.goto("/")
    page.locator("a.quick-action", has_text=re.compile("notebook", re.I)).first.click()
    page.fill("input[name=name]", "first-notebook")
    shot(page, "3-notebook-form")
    page.get_by_role("button", name=re.compile("^Create")).click()
    page.wait_for_url(re.compile(r"/resources/[0-9a-f-]{36}/$"))
    url = page.url

    # The page follows it to Ready by itself (htmx polling), without a reload.
    expect(page.locator(".status .badge[data-state]")).to_have_attribute("data-state", "ready", timeout=30_000)
    assert page.url == url
    shot(page, "4-notebook-ready")
    with page.context.expect_page() as opened:
        page.get_by_role("button", name="Open notebook").click()
    notebook = opened.value
    notebook.wait_for_load_state()
    assert "/lab" in notebook.url and "token=" not in page.url
    expect(notebook.locator(".jp-LabShell")).to_be_visible(timeout=60_000)  # the JupyterLab app itself
    shot(notebook, "5-jupyterlab-open")
    notebook.close()

    page.get_by_role("button", name="Stop").click()
    expect(page.locator(".status .badge[data-state]")).to_have_attribute("data-state", "stopped", timeout=30_000)
    shot(page, "6-notebook-stopped")
    page.get_by_role("button", name="Delete").click()
    expect(page.locator(".status .badge[data-state]")).to_have_attribute("data-state", "deleted", timeout=30_000)
    resource = Resource.objects.get(name="first-notebook")
    assert resource.state == State.DELETED


def test_scientist_database_credentials_and_quota(page, initial_data, live_worker, alice, team_a):
    sign_in(page, "alice")
    page.goto("/resources/new/postgres-database/")
    page.fill("input[name=name]", "results-db")
    page.get_by_role("button", name=re.compile("^Create")).click()
    expect(page.locator(".status .badge[data-state]")).to_have_attribute("data-state", "ready", timeout=30_000)
    page.get_by_role("button", name="Show password and keys").click()
    secrets = page.locator("#secrets")
    expect(secrets.locator(".secrets-revealed")).to_be_visible()
    database = Resource.objects.get(name="results-db")
    assert database.secrets["password"] in secrets.inner_text()
    shot(page, "7-database-credentials-revealed")
    page.get_by_role("button", name="Delete").click()
    expect(page.locator(".status .badge[data-state]")).to_have_attribute("data-state", "deleted", timeout=30_000)

    # Over the quota: the refusal shows next to the form, and what was typed is kept.
    team_a.max_databases = 0
    team_a.save()
    page.goto("/resources/new/postgres-database/")
    page.fill("input[name=name]", "one-too-many")
    page.get_by_role("button", name=re.compile("^Create")).click()
    expect(page.get_by_role("alert")).to_contain_text("quota")
    expect(page.locator("input[name=name]")).to_have_value("one-too-many")
    shot(page, "8-over-quota")
    assert not Resource.objects.filter(name="one-too-many").exists()


def test_keeper_edits_catalog_approves_and_sees_stale_guides(page, initial_data, live_worker, keeper, alice, team_a):
    from datetime import date, timedelta

    from catalog.models import Entry, Template
    from guides.models import Guide
    from provisioning import services

    stale = Guide.objects.filter(published=True).first()
    stale.reviewed_at = date.today() - timedelta(days=stale.review_every_days + 30)
    stale.save()
    template = Template.objects.get(slug="postgres-database")
    team_a.max_storage_gb = 1000
    team_a.save()
    pending = services.resource_request(
        template=template, team=team_a, owner=alice, name="big-db", parameters={"storage_gb": 400}
    )
    assert pending.state == State.AWAITING_APPROVAL

    sign_in(page, keeper.username)
    entry = Entry.objects.order_by("name").first()
    page.goto(f"/catalog/{entry.slug}/edit/")
    page.fill("[name=summary]", "Edited by a Keeper in the browser journey.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Edited by a Keeper in the browser journey.")).to_be_visible()
    shot(page, "9-keeper-catalog-edited")

    page.goto("/keepers/")
    expect(page.locator("#stale")).to_contain_text(stale.title)
    approvals = page.locator("#approvals")
    expect(approvals).to_contain_text("big-db")
    shot(page, "10-keepers-page")
    approvals.get_by_role("link", name="big-db").click()
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".status .badge[data-state]")).to_have_attribute("data-state", "ready", timeout=30_000)
    assert wait_for(pending, State.READY).approved_by == keeper
    shot(page, "11-approved-and-ready")


@pytest.mark.parametrize("path", ["/", "/catalog/", "/guides/", "/resources/", "/resources/new/jupyter-notebook/"])
def test_pages_fit_a_phone(phone, initial_data, alice, path):
    sign_in(phone, "alice")
    phone.goto(path)
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    viewport = phone.evaluate("() => window.innerWidth")
    name = path.strip("/").replace("/", "-") or "home"
    shot(phone, f"phone-{name}")
    assert width <= viewport + 1, f"{path} scrolls sideways at phone width ({width} > {viewport})"
    # The navigation stays reachable: behind the Menu button.
    phone.locator("label.nav-toggle-label").click()
    expect(phone.locator("header").get_by_role("link", name="Catalog", exact=True)).to_be_visible()
    shot(phone, f"phone-{name}-menu")
