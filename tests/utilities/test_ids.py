"""Identifiers on demand: the API, the page, and snowflake ids unique across concurrent processes."""

import subprocess
import sys
import time
import uuid

import pytest

from portal.errors import PortalError
from tests.conftest import BASE_DIR, _worker_env
from utilities.ids import EPOCH_MS, SLOTS, SnowflakeGenerator, snowflake_parts

pytestmark = pytest.mark.django_db

GENERATE = """
import os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
import django
django.setup()
from utilities.ids import ids_generate
start = sys.argv[1]
while not os.path.exists(start):
    time.sleep(0.005)
ids = []
for _ in range(25):
    ids += ids_generate(kind="snowflake", count=1000)
sys.stdout.write("\\n".join(ids))
"""


@pytest.mark.django_db(transaction=True)
def test_100000_snowflake_ids_from_4_concurrent_processes_are_unique_and_time_sorted_per_process(tmp_path):
    start = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", GENERATE, str(start)],
            cwd=BASE_DIR,
            env=_worker_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    time.sleep(0)  # all four are started; let them wait on the same start line
    start.write_text("go")
    outputs = [proc.communicate(timeout=300) for proc in procs]
    everything = []
    for (out, err), proc in zip(outputs, procs, strict=True):
        assert proc.returncode == 0, err
        ids = [int(line) for line in out.split()]
        assert len(ids) == 25_000
        assert ids == sorted(ids) and len(set(ids)) == len(ids), "not increasing within one process"
        times = [snowflake_parts(i)["time_ms"] for i in ids]
        assert times == sorted(times)
        everything += ids
    assert len(everything) == 100_000
    assert len(set(everything)) == 100_000
    assert all(0 < i < 2**63 for i in everything)
    assert len({snowflake_parts(i)["slot"] for i in everything}) == 4, "each process leases its own slot"
    assert abs(snowflake_parts(max(everything))["time_ms"] - time.time() * 1000) < 300_000


@pytest.mark.django_db(transaction=True)
def test_a_slot_is_taken_over_only_after_its_lease_ends_and_the_new_ids_come_later():
    others = [SnowflakeGenerator(node=3) for _ in range(SLOTS - 1)]
    for generator in others:
        generator.next_ids(1)
    first = SnowflakeGenerator(node=3, lease_ms=5000)
    old_ids = first.next_ids(50)
    assert len({g.slot for g in [first, *others]}) == SLOTS
    late = SnowflakeGenerator(node=3)
    with pytest.raises(PortalError, match="Every snowflake worker slot"):
        late.next_ids(1)
    # `first` stops without giving its slot back (a crash); once its lease ends the slot is taken over.
    deadline = time.monotonic() + 60
    while True:
        try:
            new_ids = late.next_ids(50)
            break
        except PortalError:
            assert time.monotonic() < deadline, "the lease never ended"
            time.sleep(0.2)
    assert late.slot == first.slot
    assert min(new_ids) > max(old_ids)
    for generator in [*others, late]:
        generator.release()


def test_api_answers_each_kind(api, alice):
    client = api(alice)
    body = client.get("/api/v1/ids/?kind=snowflake&count=1000").json()
    assert body["kind"] == "snowflake" and len(body["ids"]) == 1000 and len(set(body["ids"])) == 1000
    assert [int(i) for i in body["ids"]] == sorted(int(i) for i in body["ids"])
    v7 = client.get("/api/v1/ids/?kind=uuid7&count=3").json()["ids"]
    assert all(uuid.UUID(i).version == 7 for i in v7)
    assert abs(int(uuid.UUID(v7[0]).hex[:12], 16) - time.time() * 1000) < 60_000
    v4 = client.get("/api/v1/ids/").json()
    assert v4["kind"] == "uuid4" and uuid.UUID(v4["ids"][0]).version == 4


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("kind=ulid", "Unknown kind 'ulid'. Choose one of: uuid4, uuid7, snowflake."),
        ("count=1001", "Ask for between 1 and 1000 ids at a time."),
        ("count=0", "Ask for between 1 and 1000 ids at a time."),
        ("count=many", "count must be a whole number between 1 and 1000."),
    ],
)
def test_api_refuses_bad_input_in_plain_words(api, alice, query, message):
    response = api(alice).get(f"/api/v1/ids/?{query}")
    assert response.status_code == 400
    assert response.json()["message"] == message


def test_api_needs_a_token(api):
    assert api().get("/api/v1/ids/").status_code == 401


def test_page_generates_on_the_button(client, alice):
    client.force_login(alice)
    page = client.get("/ids/").content.decode()
    assert "Generate</button>" in page
    page = client.get("/ids/?kind=snowflake&count=3&generate=1").content.decode()
    ids = [line for line in page.split('<pre class="ids">')[1].split("</pre>")[0].split()]
    assert len(ids) == 3 and snowflake_parts(int(ids[0]))["time_ms"] > EPOCH_MS
