"""Notebooks never receive the portal's session (issue 12): served from another host name, opened by a one-time link.

Checked on the notebook server's side: its identity provider logs a warning for every request that carries the
portal's session cookie (provisioning/sandbox/notebook_login.py); the test reads the server's log.
"""

import time

import pytest
from playwright.sync_api import expect

from provisioning.drivers.local import process as local_process
from provisioning.models import State
from provisioning.sandbox.notebook_login import SESSION_COOKIE_WARNING
from tests.conftest import api_client_for, api_create, wait_for
from tests.e2e.conftest import shot, sign_in

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.e2e]


def test_a_keeper_opens_a_scientists_notebook_without_sending_the_portal_session(
    page, initial_data, live_worker, live_server, alice, keeper
):
    notebook = wait_for(api_create(api_client_for(alice), "jupyter-notebook", "origin-check"), State.READY, 120)
    log = local_process.resource_dir(notebook) / "notebook.log"
    port = notebook.driver_state["port"]

    sign_in(page, keeper.username)
    assert any(c["name"] == "sessionid" for c in page.context.cookies(live_server.url))
    page.goto(f"/resources/{notebook.pk}/")
    with page.context.expect_page() as opened:
        page.get_by_role("button", name="Open notebook").click()
    lab = opened.value
    lab.wait_for_load_state()
    expect(lab.locator(".jp-LabShell")).to_be_visible(timeout=60_000)
    shot(lab, "notebook-other-origin")
    assert lab.url.startswith(f"http://127.0.0.1:{port}/lab")  # another host name than the portal's `localhost`
    assert "token=" not in lab.url
    first_link = lab.url
    assert SESSION_COOKIE_WARNING not in log.read_text()  # the server never got the portal's session cookie

    # The one-time link does not open the notebook a second time (a fresh browser, no notebook cookie).
    other = page.context.browser.new_context()
    try:
        again = other.new_page()
        again.goto(first_link)
        expect(again.locator("input[type=password], #password_input").first).to_be_visible(timeout=30_000)
    finally:
        other.close()

    # The check itself works: the same browser on the portal's host name does send the cookie, and it is noticed.
    lab.goto(f"http://localhost:{port}/api/status")
    deadline = time.monotonic() + 30
    while SESSION_COOKIE_WARNING not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert SESSION_COOKIE_WARNING in log.read_text()
    lab.close()
