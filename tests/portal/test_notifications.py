"""Notifications: inbox first, then e-mail (a real SMTP server on loopback) and a team's chat webhook (a real HTTP
server on loopback), retried without losing anything; what the engine reports becomes notifications (issue 14)."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.notifications import services as notifications
from portal.notifications.models import Notification, TeamWebhook
from portal.notifications.tasks import MAX_ATTEMPTS, backoff_seconds, deliver
from provisioning import control, services
from provisioning.models import Resource, State
from tests.conftest import api_create, wait_for
from tests.factories import UserFactory, make_resource
from tests.mail_server import MailServer


def test_inbox_row_is_written_first_and_a_failed_send_is_retried_without_losing_it(db, alice, settings):
    """The SMTP server is down at first (nothing listens on its port); the inbox keeps the notification and the
    e-mail goes out on a later try once the server is up."""
    server = MailServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 5
    note = notifications.notify(user=alice, kind="resource_failed", title="db1 failed", body="Disk full", url="/x/")
    assert note.email_state == "pending"
    assert deliver(note.pk) == "retry"
    note.refresh_from_db()
    assert (note.email_state, note.attempts, note.read_at) == ("pending", 1, None)
    assert "e-mail" in note.last_error
    server.start()
    try:
        assert deliver(note.pk) == "sent"
        mail = server.wait_for(lambda m: m["Subject"].endswith("db1 failed"), timeout=10)
        assert mail["To"] == alice.email and "Disk full" in mail.get_content()
        note.refresh_from_db()
        assert note.email_state == "sent" and note.delivered_at
        assert deliver(note.pk) == "sent" and len(server.messages) == 1  # never sent twice
    finally:
        server.stop()
    assert [backoff_seconds(n) for n in (1, 2, 3, 9)] == [5, 10, 20, 600]


def test_gives_up_after_the_last_attempt_but_keeps_the_inbox_row(db, alice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", MailServer().port, 5
    note = notifications.notify(user=alice, kind="resource_failed", title="db1 failed")
    Notification.objects.filter(pk=note.pk).update(attempts=MAX_ATTEMPTS - 1)
    assert deliver(note.pk) == "failed"
    note.refresh_from_db()
    assert note.email_state == "failed" and note.read_at is None
    assert Notification.objects.filter(user=alice, read_at__isnull=True).count() == 1


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        length = int(self.headers["Content-Length"])
        _Hook.received.append((self.headers["Content-Type"], json.loads(self.rfile.read(length))))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_webhook():
    """A real HTTP server on 127.0.0.1 standing in for a Slack or Mattermost incoming webhook."""
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/abc", _Hook.received
    server.shutdown()


def test_team_webhook_gets_slack_and_mattermost_json_for_those_who_chose_it(
    db, api, alice, alice_admin, team_a, chat_webhook
):
    url, received = chat_webhook
    assert api(alice).put("/api/v1/teams/team-a/webhook/", {"url": url}, format="json").status_code == 403
    bad = api(alice_admin).put("/api/v1/teams/team-a/webhook/", {"url": "file:///etc/passwd"}, format="json")
    assert bad.status_code == 400 and not TeamWebhook.objects.exists()
    assert api(alice_admin).put("/api/v1/teams/team-a/webhook/", {"url": url}, format="json").status_code == 200
    response = api(alice).put(
        "/api/v1/notifications/preferences/", [{"kind": "job_finished", "webhook": True, "email": False}], format="json"
    )
    assert {
        "kind": "job_finished",
        "label": "Job finished",
        "inbox": True,
        "email": False,
        "webhook": True,
    } in response.json()
    note = notifications.notify(
        user=alice, kind="job_finished", title="Job train finished (exit code 0)", team=team_a, url="/r/"
    )
    assert (note.email_state, note.webhook_state) == ("none", "pending")
    assert deliver(note.pk) == "sent"
    content_type, payload = received[0]
    assert content_type == "application/json"
    assert isinstance(payload["text"], str) and payload["text"].startswith("*Job train finished (exit code 0)*")
    assert "http://localhost:8000/r/" in payload["text"]


def test_preferences_refuse_unknown_kinds_and_change_nothing(db, api, alice):
    response = api(alice).put("/api/v1/notifications/preferences/", [{"kind": "lottery", "email": True}], format="json")
    assert response.status_code == 400 and "Unknown kind" in response.json()["message"]
    response = api(alice).put(
        "/api/v1/notifications/preferences/", [{"kind": "job_finished", "email": "yes"}], format="json"
    )
    assert response.status_code == 400
    assert not alice.notification_prefs.exists()


def test_bell_shows_the_unread_count_with_one_query_whatever_the_count(db, client, alice):
    client.force_login(alice)
    client.get("/notifications/")
    with CaptureQueriesContext(connection) as none_yet:
        page = client.get("/notifications/preferences/").content.decode()
    assert 'aria-label="Notifications: 0 unread"' in page
    for n in range(7):
        notifications.notify(user=alice, kind="resource_ready", title=f"r{n} is ready")
    with CaptureQueriesContext(connection) as seven:
        page = client.get("/notifications/preferences/").content.decode()
    assert 'aria-label="Notifications: 7 unread"' in page and '<span class="count">7</span>' in page
    assert len(seven) == len(none_yet)
    assert sum("COUNT(" in q["sql"] and "portal_notification" in q["sql"] for q in seven.captured_queries) == 1
    inbox = client.get("/notifications/").content.decode()
    assert inbox.count('class="note-row unread"') == 7
    client.post("/notifications/read/")
    assert Notification.objects.filter(user=alice, read_at__isnull=True).count() == 0
    assert api_read_count(alice) == 0


def api_read_count(user):
    from tests.conftest import api_client_for

    return len(api_client_for(user).get("/api/v1/notifications/?unread=1").json()["results"])


def test_engine_events_become_notifications(
    db, templates, alice, alice_admin, team_a, keeper, django_capture_on_commit_callbacks
):
    """Listening to portal.signals: ready, failed, approval needed (Keepers) and decided, quota at 80 %."""

    team_a.max_databases = 1
    team_a.save()
    with django_capture_on_commit_callbacks(execute=True):
        db1 = make_resource(templates["postgres-database"], team_a, alice, "db1", state=State.PROVISIONING)
    with django_capture_on_commit_callbacks(execute=True):
        db1.state = State.READY
        db1.save()
    assert Notification.objects.filter(user=alice, kind="resource_ready", url=f"/resources/{db1.pk}/").exists()
    quota = Notification.objects.get(user=alice_admin, kind="quota_nearly_used")
    assert quota.title == "Team A uses 1 of 1 databases"
    with django_capture_on_commit_callbacks(execute=True):
        db1.state, db1.status_message = State.FAILED, "The server refused the login."
        db1.save()
    failed = Notification.objects.get(user=alice, kind="resource_failed")
    assert failed.body == "The server refused the login." and failed.email_state == "pending"

    with django_capture_on_commit_callbacks(execute=True):
        big = make_resource(templates["postgres-database"], team_a, alice, "big", state=State.AWAITING_APPROVAL)
    assert Notification.objects.filter(user=keeper, kind="approval_needed", url=f"/resources/{big.pk}/").exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.resource_reject(resource=big, user=keeper, reason="Too big for a test")
    decided = Notification.objects.get(user=alice, kind="approval_decided")
    assert "declined" in decided.title and "Too big for a test" in decided.body


def test_notify_keepers_tells_every_keeper_once(db, keeper):
    other = UserFactory(username="keeper2")
    other.groups.add(*keeper.groups.all())
    assert notifications.notify_keepers("service_down", title="Redis is down", dedupe_key="down:redis:1") == 2
    assert notifications.notify_keepers("service_down", title="Redis is down", dedupe_key="down:redis:1") == 0
    assert Notification.objects.filter(kind="service_down").count() == 2


def test_idle_notebook_warns_its_owner_and_keep_it_running_resets_the_idle_clock(
    db, client, templates, alice, bob, team_a, django_capture_on_commit_callbacks
):

    notebook = make_resource(
        templates["jupyter-notebook"], team_a, alice, "nb1", parameters={"idle_timeout_minutes": 30}, state=State.READY
    )
    Resource.objects.filter(pk=notebook.pk).update(last_activity_at=timezone.now() - timedelta(minutes=25))
    with django_capture_on_commit_callbacks(execute=True):
        control.cull_idle(Resource.objects.get(pk=notebook.pk))
    note = Notification.objects.get(user=alice, kind="notebook_idle")
    assert note.action == "keep_running" and note.action_target == str(notebook.pk)
    assert "will be stopped at" in note.body

    client.force_login(bob)  # someone of another team cannot keep it running
    assert client.post(f"/notifications/keep-running/{notebook.pk}/").status_code == 404
    client.force_login(alice)
    page = client.get("/notifications/").content.decode()
    assert f'action="/notifications/keep-running/{notebook.pk}/"' in page and "Keep it running" in page
    before = timezone.now()
    assert client.post(f"/notifications/keep-running/{notebook.pk}/").status_code == 302
    notebook.refresh_from_db()
    assert notebook.last_activity_at >= before and notebook.warning == ""
    control.cull_idle(Resource.objects.get(pk=notebook.pk))  # the clock starts again: no warning, no stop
    notebook.refresh_from_db()
    assert notebook.state == State.READY and notebook.warning == ""
    assert "Keep it running" not in client.get("/notifications/").content.decode()


@pytest.mark.worker
def test_finished_job_notifies_its_owner_within_10_seconds_by_inbox_and_email(
    live_worker,
    worker_with_mail,
    mail_server,
    templates,
    api,
    alice,
):

    job = api_create(
        api(alice),
        "training-job",
        "quick",
        command="python -c \"import time; open('ended', 'w').write(repr(time.time()))\"",
    )
    wait_for(job, [State.RUNNING, State.SUCCEEDED], timeout=60)
    deadline = time.monotonic() + 90
    while not Notification.objects.filter(user=alice, kind="job_finished").exists() and time.monotonic() < deadline:
        control.poll_running()  # what the control loop's poller does every few seconds
        time.sleep(0.5)
    job = Resource.objects.get(pk=job.pk)
    assert job.state == State.SUCCEEDED
    note = Notification.objects.get(user=alice, kind="job_finished")
    ended = float((Path(job.outputs["workdir"]) / "ended").read_text())
    assert note.created_at.timestamp() - ended < 10
    assert note.title == "Job quick finished (exit code 0)" and "Runtime:" in note.body
    mail = mail_server.wait_for(lambda m: m["To"] == alice.email and "Job quick finished" in m["Subject"])
    assert "Exit code: 0" in mail.get_content()
    api(alice).delete(f"/api/v1/resources/{job.pk}/")
    wait_for(job, State.DELETED)


@pytest.mark.worker
def test_beat_reminds_owners_of_guides_due_for_review(beat_process, team_a, alice_admin):
    from guides.models import Guide

    Guide.objects.create(
        slug="old-guide",
        title="Old guide",
        body="x",
        owner_team=team_a,
        reviewed_at=timezone.localdate() - timedelta(days=400),
    )
    beat_process.start(GUIDE_REVIEW_REMIND_INTERVAL_SECONDS="1")
    deadline = time.monotonic() + 90
    while not Notification.objects.filter(kind="guide_review_due").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    note = Notification.objects.get(kind="guide_review_due")
    assert note.user == alice_admin and note.title == "Guide due for review: Old guide"
    from portal.notifications.reminders import guides_due_remind

    assert guides_due_remind() == 0  # told once per review period
    assert Notification.objects.filter(kind="guide_review_due").count() == 1
