"""Issue 12, point 8, in a real browser: an entry named like JavaScript is only text in the confirmation, and a
person makes, sees once and revokes an API token on 'Your tokens'."""

import re

import pytest
from playwright.sync_api import expect

from catalog.models import Entry
from portal.models import ApiToken
from tests.e2e.conftest import shot, sign_in
from tests.factories import make_keeper

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
EVIL_NAME = "');alert(1);//"


def test_removing_an_entry_named_like_javascript_runs_no_script(browser, live_server, transactional_db):
    make_keeper("keeper")
    Entry.objects.create(slug="evil", name=EVIL_NAME)
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    dialogs = []

    def answer(dialog):
        dialogs.append((dialog.type, dialog.message))
        dialog.dismiss()  # "Cancel": nothing is removed

    page.on("dialog", answer)
    sign_in(page, "keeper")
    page.goto("/catalog/evil/")
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("button", name="Remove")).to_be_visible()
    assert dialogs == [("confirm", f"Remove {EVIL_NAME} from the catalog?")]  # the name as text; no alert() ran
    assert Entry.objects.filter(slug="evil").exists()
    context.close()


def test_a_person_makes_sees_once_and_revokes_a_token(page, alice):
    sign_in(page, "alice")
    page.get_by_role("link", name="Your tokens").click()
    page.fill("input[name=name]", "laptop")
    page.get_by_role("button", name="Make token").click()
    key = page.locator("#new-token").inner_text()
    assert re.fullmatch(r"rpt_[A-Za-z0-9_-]{43}", key)
    shot(page, "tokens-1-new-token-shown-once")
    page.goto("/me/tokens/")
    expect(page.get_by_role("cell", name="laptop")).to_be_visible()
    assert key not in page.content() and key[:10] in page.content()
    page.get_by_role("button", name="Revoke").click()  # the page fixture accepts the confirmation
    expect(page.get_by_role("cell", name="revoked")).to_be_visible()
    shot(page, "tokens-2-revoked")
    assert ApiToken.objects.get(user=alice).revoked_at is not None
