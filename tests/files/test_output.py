"""Following a job's output: new text since an offset, the end on the first view, and the whole log to download."""

import time

import pytest

from provisioning import control
from provisioning.models import Resource, State
from tests.conftest import api_create, wait_for

pytestmark = pytest.mark.worker

PRINT_5000 = "python -c \"import sys\nfor i in range(1, 5001): print('line', i)\nprint('Done: all lines')\""


def _finish(job, timeout=90):
    deadline = time.monotonic() + timeout
    while Resource.objects.get(pk=job.pk).state == State.RUNNING and time.monotonic() < deadline:
        control.poll_running()
        time.sleep(0.5)
    return Resource.objects.get(pk=job.pk)


def test_output_is_read_from_its_end_then_appended_and_downloaded_whole(live_worker, templates, api, client, alice):
    job = api_create(api(alice), "training-job", "printer", command=PRINT_5000)
    job = _finish(wait_for(job, {State.RUNNING, State.SUCCEEDED}, timeout=30))
    assert job.state == State.SUCCEEDED, job.status_message
    client.force_login(alice)
    first = client.get(f"/resources/{job.pk}/output/").json()
    assert first["mode"] == "replace" and first["done"] is True
    assert first["text"].rstrip().endswith("Done: all lines")
    assert first["text"].startswith("line ")  # starts at a whole line
    again = client.get(f"/resources/{job.pk}/output/", {"offset": first["offset"]}).json()
    assert again == {"text": "", "offset": first["offset"], "mode": "append", "done": True}
    middle = client.get(f"/resources/{job.pk}/output/", {"offset": 20}).json()
    assert middle["mode"] == "append" and "line 5000" in middle["text"]
    download = client.get(f"/resources/{job.pk}/output/download/")
    text = b"".join(download.streaming_content).decode()
    assert text.count("\nline ") == 4999 and "line 1\n" in text
    page = client.get(f"/resources/{job.pk}/").content.decode()
    assert 'data-testid="output-tail"' in page and "Done: all lines" in page  # above the fold once it ended
    assert client.get(f"/resources/{job.pk}/output/", {"offset": "x" * 40}).json()["mode"] == "replace"


def test_output_of_another_team_is_a_404(live_worker, templates, api, client, alice, bob):
    job = api_create(api(alice), "training-job", "quiet", command="python -c \"print('secret')\"")
    client.force_login(bob)
    assert client.get(f"/resources/{job.pk}/output/").status_code == 404
    assert client.get(f"/resources/{job.pk}/output/download/").status_code == 404
