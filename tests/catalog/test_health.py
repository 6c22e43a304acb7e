"""Service health: real probes of real servers on loopback, stored probes, uptime from them, /status, transitions."""

import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from catalog.health import ProbeResult, health_probe_all, health_record, probe, uptime_for
from catalog.models import Entry, EntryKind, HealthCheck, Probe, ServiceTransition
from catalog.signals import service_state_changed

pytestmark = pytest.mark.django_db


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"status: all good" if self.path == "/health" else b"no"
        self.send_response(200 if self.path == "/health" else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class LoopbackService:
    """A real HTTP server on 127.0.0.1 that a test can stop."""

    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/health"):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service():
    server = LoopbackService()
    yield server
    server.stop() if server.thread.is_alive() else None


def _check(url="", **fields):
    entry = Entry.objects.create(slug=f"svc-{Entry.objects.count()}", name="Model registry", kind=EntryKind.SERVICE)
    return HealthCheck.objects.create(entry=entry, url=url, **fields)


def test_http_probe_checks_status_and_text(service):
    assert probe(_check(service.url(), expected_text="all good")).ok
    wrong_text = probe(_check(service.url(), expected_text="fine"))
    assert not wrong_text.ok and wrong_text.message == "the answer lacks 'fine'"
    wrong_status = probe(_check(service.url("/other")))
    assert not wrong_status.ok and wrong_status.status_code == 503
    assert wrong_status.message == "answered 503, not 200"


def test_tcp_probe_sees_an_open_and_a_closed_port(service):
    assert probe(_check(tcp_host="127.0.0.1", tcp_port=service.port)).ok
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    result = probe(_check(tcp_host="127.0.0.1", tcp_port=closed))
    assert not result.ok and "refused" in result.message


def test_a_health_check_is_either_http_or_tcp_and_only_for_services():
    entry = Entry.objects.create(slug="lib", name="A library", kind=EntryKind.LIBRARY)
    with pytest.raises(ValidationError, match="Only catalog entries of kind service"):
        HealthCheck(entry=entry, url="http://127.0.0.1:1/").full_clean()
    service_entry = Entry.objects.create(slug="svc", name="Svc", kind=EntryKind.SERVICE)
    with pytest.raises(ValidationError, match="either an HTTP address, or a TCP host and port"):
        HealthCheck(entry=service_entry, url="http://127.0.0.1:1/", tcp_host="127.0.0.1", tcp_port=1).full_clean()
    with pytest.raises(ValidationError, match="needs a host and a port"):
        HealthCheck(entry=service_entry, tcp_host="127.0.0.1").full_clean()


def test_transitions_are_recorded_and_signalled_only_on_change(django_capture_on_commit_callbacks):
    check = _check("http://127.0.0.1:9/")
    heard = []

    def listener(sender, check, up, message, at, **kwargs):
        heard.append((up, message))

    service_state_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            health_record(check=check, result=ProbeResult(True, 200, 5, "answered as expected"))
            health_record(check=check, result=ProbeResult(True, 200, 5, "answered as expected"))
            health_record(check=check, result=ProbeResult(False, None, None, "no answer"))
            health_record(check=check, result=ProbeResult(True, 200, 5, "answered as expected"))
    finally:
        service_state_changed.disconnect(listener)
    assert [(t.up, t.message) for t in ServiceTransition.objects.order_by("at")] == [
        (False, "no answer"),
        (True, "answered as expected"),
    ]
    assert heard == [(False, "no answer"), (True, "answered as expected")]
    assert Probe.objects.filter(health_check=check).count() == 4


def test_uptime_is_counted_from_stored_probes():
    check = _check("http://127.0.0.1:9/")
    now = timezone.now().replace(minute=30)
    # This hour: 3 of 4 up. Two days ago: 1 of 2 up. 40 days ago: ignored.
    for minutes, ok in [(1, True), (2, True), (3, True), (4, False)]:
        Probe.objects.create(health_check=check, at=now - timedelta(minutes=minutes), ok=ok)
    for ok in (True, False):
        Probe.objects.create(health_check=check, at=now - timedelta(days=2), ok=ok)
    Probe.objects.create(health_check=check, at=now - timedelta(days=40), ok=False)
    uptime = uptime_for([check.id], now=now)[check.id]
    assert uptime.percent_24h == 75.0
    assert uptime.percent_30d == round(100 * 4 / 6, 2)
    assert [b.level for b in uptime.bars_24h][-1] == "partial"
    assert [b.total for b in uptime.bars_24h].count(0) == 23
    assert uptime.bars_30d[-3].total == 2 and uptime.bars_30d[-3].level == "partial"
    assert sum(b.total for b in uptime.bars_30d) == 6


def test_probe_all_stores_each_probe_and_skips_what_was_just_probed(service):
    check = _check(service.url())
    assert health_probe_all(interval_seconds=60) == 1
    assert health_probe_all(interval_seconds=60) == 0
    stored = Probe.objects.get(health_check=check)
    assert stored.ok and stored.status_code == 200 and stored.latency_ms is not None


def test_status_page_lists_services_and_the_portals_parts_in_fixed_queries(
    client, alice, service, django_assert_max_num_queries
):
    for n in range(3):
        check = _check(service.url())
        health_record(check=check, result=ProbeResult(n != 1, 200, 3, "answered as expected" if n != 1 else "gone"))
    client.force_login(alice)
    with django_assert_max_num_queries(12):
        page = client.get("/status/").content.decode()
    assert page.count('class="status-service"') == 3
    for part in ("Database", "Redis", "Workers", "Identifier service"):
        assert f"<strong>{part}</strong>" in page
    assert "Something is down" in page
    listing = client.get("/catalog/?kind=service").content.decode()
    assert listing.count('class="uptime compact"') == 3


@pytest.mark.django_db(transaction=True)
def test_a_service_that_stops_answering_shows_down_within_two_probe_intervals(service, beat_process, client, keeper):
    """A real beat schedules the probe every second; a real worker probes a real HTTP server that we then stop."""
    check = _check(service.url(), expected_text="all good")
    beat_process.start(SERVICE_PROBE_INTERVAL_SECONDS="1")
    deadline = time.monotonic() + 90
    while not HealthCheck.objects.get(pk=check.pk).is_up:
        assert time.monotonic() < deadline, "the beat never probed the service"
        time.sleep(0.1)
    service.stop()
    stopped = timezone.now()
    deadline = time.monotonic() + 60
    while HealthCheck.objects.get(pk=check.pk).is_up:
        assert time.monotonic() < deadline, "the service never showed down"
        time.sleep(0.1)
    # A probe that started after the server stopped never reads "up"; the probe that turned it down started at
    # most one interval after the last good one (beat sends one each second), so it is down within two intervals.
    assert not Probe.objects.filter(health_check=check, at__gte=stopped, ok=True).exists()
    first_down = Probe.objects.filter(health_check=check, ok=False).order_by("at").first()
    last_up = Probe.objects.filter(health_check=check, ok=True).order_by("-at").first()
    assert "no answer" in first_down.message
    assert first_down.at > last_up.at
    transition = ServiceTransition.objects.get(health_check=check)
    assert transition.up is False
    client.force_login(keeper)
    assert "Model registry" in client.get("/keepers/").content.decode().split('id="services"')[1]
    status = client.get("/status/").content.decode()
    assert '<span class="badge bad">Down</span>' in status


@pytest.mark.django_db(transaction=True)
def test_a_service_going_down_and_up_tells_its_owners_and_the_keepers(service, team_a, alice_admin, keeper):
    from portal.notifications.models import Notification

    entry = Entry.objects.create(slug="registry", name="Model registry", kind=EntryKind.SERVICE, owner_team=team_a)
    check = HealthCheck.objects.create(entry=entry, url=service.url())
    health_probe_all()  # up: nobody is told
    assert HealthCheck.objects.get(pk=check.pk).is_up is True and not Notification.objects.exists()
    service.stop()
    HealthCheck.objects.update(last_probed_at=None)  # the next beat's turn (one probe per half interval)
    health_probe_all()
    down = Notification.objects.filter(kind="service_down", title="Model registry is down")
    assert sorted(down.values_list("user__username", flat=True)) == sorted([alice_admin.username, keeper.username])
    HealthCheck.objects.update(last_probed_at=None)
    health_probe_all()  # still down: nobody is told twice
    assert down.count() == 2
