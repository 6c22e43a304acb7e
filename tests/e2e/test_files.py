"""Files and results in a real browser: big uploads with a progress bar, downloads, and following a job's output."""

import hashlib
import os
import re
import threading
import time

import psutil
import pytest
from playwright.sync_api import expect

from provisioning import control
from provisioning.drivers import get_driver
from provisioning.models import Resource, State
from tests.conftest import api_create, wait_for
from tests.e2e.conftest import shot, sign_in
from tests.factories import make_resource

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

BIG = 200 * 1024 * 1024


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "weights.bin"
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(BIG // (4 * 1024 * 1024)):
            chunk = os.urandom(4 * 1024 * 1024)
            digest.update(chunk)
            out.write(chunk)
    return path, digest.hexdigest()


class PeakMemory:
    """The web process's resident memory, sampled every 20 ms while a block runs (the live server is this process)."""

    def __enter__(self):
        self.process, self.start = psutil.Process(), psutil.Process().memory_info().rss
        self.peak, self.done = self.start, threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.done.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 1024 / 1024


def _upload_in_browser(page, url, path):
    page.goto(url)
    page.set_input_files("#upload-files", str(path))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-progress")).to_be_visible()
    # The bar moves while the bytes go (then the page reloads with the new file listed).
    page.wait_for_function(
        "(() => { const m = document.querySelector('#upload-progress [role=progressbar]');"
        " return !m || Number(m.getAttribute('aria-valuenow')) > 0; })()",
        timeout=180_000,
    )
    expect(page.locator("table.files")).to_contain_text(path.name, timeout=300_000)


def _sha256_of_download(page, live_server, url) -> str:
    """Downloaded as the signed-in browser would (its session cookie), streamed here into a checksum."""
    import urllib.request

    cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
    request = urllib.request.Request(live_server.url + url, headers={"Cookie": cookies})
    digest = hashlib.sha256()
    with urllib.request.urlopen(request, timeout=300) as answer:  # noqa: S310 (the live server on loopback)
        while chunk := answer.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def test_200_mb_into_the_team_folder_and_an_s3_bucket(
    page, live_server, settings, s3_open_server, templates, alice, big_file
):
    path, checksum = big_file
    sign_in(page, "alice")
    with PeakMemory() as memory:
        _upload_in_browser(page, "/files/team-team-a/", path)
    shot(page, "files-1-team-folder-after-upload")
    assert memory.growth_mb < 50, f"the web process grew by {memory.growth_mb:.0f} MB while streaming"
    assert _sha256_of_download(page, live_server, "/files/team-team-a/download/?path=weights.bin") == checksum

    # An S3 bucket (moto on loopback, without key checking so the browser can use presigned addresses).
    settings.S3_ENDPOINT_URL, settings.S3_ACCESS_KEY_ID, settings.S3_SECRET_ACCESS_KEY = s3_open_server, "k", "s"
    bucket = make_resource(templates["bucket"], alice.memberships.get().team, alice, "big-results", {})
    result = get_driver("s3", "bucket").apply(bucket, [].append)
    bucket.driver_state, bucket.outputs, bucket.state = result.state, result.outputs, State.READY
    bucket.save()
    with PeakMemory() as memory:
        _upload_in_browser(page, f"/files/resource-{bucket.pk}/", path)
    shot(page, "files-2-s3-bucket-after-upload")
    assert memory.growth_mb < 50, f"the web process grew by {memory.growth_mb:.0f} MB while streaming to S3"
    assert _sha256_of_download(page, live_server, f"/files/resource-{bucket.pk}/download/?path=weights.bin") == checksum


def test_progress_bar_is_shown_while_uploading(page, alice, tmp_path):
    sign_in(page, "alice")
    page.goto("/files/team-team-a/")
    small = tmp_path / "notes.txt"
    small.write_text("hello")
    page.set_input_files("#upload-files", str(small))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("table.files")).to_contain_text("notes.txt")
    page.get_by_role("link", name="notes.txt").click()
    expect(page.locator("textarea#file-text")).to_have_value("hello")
    shot(page, "files-3-text-file")


SLOW_PRINTER = (
    "python -c \"import time\nfor i in range(1, 5001):\n    print('line', i, flush=True)\n"
    "    time.sleep(0.004 if i < 4000 else 0)\nprint('Done: the last line')\""
)


@pytest.mark.worker
def test_a_reader_follows_the_end_or_stays_where_they_scrolled(page, live_worker, templates, api, alice):
    job = api_create(api(alice), "training-job", "printer", command=SLOW_PRINTER)
    wait_for(job, State.RUNNING, timeout=30)
    sign_in(page, "alice")
    page.goto(f"/resources/{job.pk}/")
    box = page.locator("#program-output")
    expect(box).to_contain_text(re.compile(r"line \d{3}"), timeout=30_000)
    # Scroll to the middle: new lines are appended below, and the reader stays where they are.
    page.wait_for_function("document.getElementById('program-output').scrollHeight > 3000", timeout=60_000)
    box.evaluate("b => { b.scrollTop = b.scrollHeight / 2; b.dispatchEvent(new Event('scroll')); }")
    expect(page.locator("#output-jump")).to_be_visible()
    before = box.evaluate("b => [b.scrollTop, b.getAttribute('data-offset')]")
    page.wait_for_function(
        f"document.getElementById('program-output').getAttribute('data-offset') !== '{before[1]}'", timeout=60_000
    )
    after = box.evaluate("b => b.scrollTop")
    assert abs(after - before[0]) <= 1, "the reader's place moved when new lines came"
    shot(page, "files-4-output-scrolled-to-middle")

    deadline = time.monotonic() + 120
    while Resource.objects.get(pk=job.pk).state == State.RUNNING and time.monotonic() < deadline:
        control.poll_running()
        time.sleep(0.5)
    assert Resource.objects.get(pk=job.pk).state == State.SUCCEEDED

    # At its end, a new reader sees the last line without scrolling, above the fold and in the box.
    page.goto(f"/resources/{job.pk}/")
    expect(page.locator("[data-testid=output-tail]")).to_contain_text("Done: the last line")
    expect(box).to_have_attribute("data-done", "1", timeout=30_000)
    at_end = box.evaluate("b => b.scrollHeight - b.scrollTop - b.clientHeight < 8")
    assert at_end and "Done: the last line" in box.inner_text()
    shot(page, "files-5-output-at-the-end")
