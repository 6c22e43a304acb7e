"""LOG_FORMAT=json: one JSON object per line with the ids of the request or task; text stays the default."""

import json
import logging
import subprocess
import sys
import time
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings

from ops.logs import ContextFilter, JsonFormatter
from provisioning.models import State
from tests.conftest import api_create, wait_for

BASE_DIR = Path(__file__).resolve().parents[2]


def _manage_shell(code: str, **env) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_text_is_the_default_and_json_gives_one_object_per_line():
    assert settings.LOG_FORMAT == "text"
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "plain"
    code = "import logging; logging.getLogger('portal.test').warning('hello %s', 'there'); print('done')"
    text = _manage_shell(code)
    assert "WARNING portal.test hello there" in text.stderr
    as_json = _manage_shell(code, LOG_FORMAT="json")
    lines = [json.loads(line) for line in as_json.stderr.splitlines() if line.startswith("{")]
    line = next(li for li in lines if li["logger"] == "portal.test")
    assert line["message"] == "hello there" and line["level"] == "WARNING" and "time" in line
    import os

    refused = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env={**os.environ, "LOG_FORMAT": "yaml"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode != 0 and "LOG_FORMAT must be 'text' or 'json'" in refused.stderr


@pytest.fixture
def json_lines():
    """The JSON lines the portal's console handler would write, captured from the root logger."""
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


@pytest.mark.django_db
def test_a_request_logs_its_id_user_team_and_resource(signed_in, alice, team_a, json_lines):
    client = signed_in(alice)
    client.post("/teams/switch/", {"team": team_a.slug})
    missing = uuid.uuid4()
    response = client.get(f"/resources/{missing}/", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 404 and response["X-Request-Id"] == "req-123"
    line = next(li for li in json_lines() if li["logger"] == "django.request")
    assert line["request_id"] == "req-123"
    assert line["user"] == alice.username
    assert line["resource_id"] == str(missing)
    assert line["team"] == str(team_a.pk)


@pytest.mark.worker
@pytest.mark.slow
def test_a_worker_logs_json_with_the_operation_and_resource(live_worker, templates, api, alice):
    start = live_worker.log.stat().st_size
    live_worker.stop()
    saved = dict(live_worker.env)
    live_worker.env["LOG_FORMAT"] = "json"
    live_worker.start()
    try:
        database = api_create(api(alice), "postgres-database", "jsonlogs")
        wait_for(database, State.READY, timeout=90)
        operation = database.operations.get()
        deadline = time.monotonic() + 30
        while True:
            with live_worker.log.open() as handle:
                handle.seek(start)
                lines = [json.loads(li) for li in handle if li.startswith("{")]
            mine = [li for li in lines if li.get("operation_id") == str(operation.pk)]
            if mine or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert mine, "no JSON line of the worker carried the operation id"
        assert all(li["resource_id"] == str(database.pk) for li in mine)
        assert all(li["task"] == "provisioning.operation_run" for li in mine)
    finally:
        live_worker.stop()
        live_worker.env.clear()
        live_worker.env.update(saved)
        live_worker.start()
