"""The README, the compose file and the settings agree on configuration."""

import re
from pathlib import Path

import yaml
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
# Variables the compose file sets for containers that are not the portal, or that only the entrypoint reads.
NOT_PORTAL = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"}


def _compose():
    return yaml.safe_load((BASE_DIR / "docker" / "compose.yaml").read_text())


def test_every_setting_variable_is_documented_in_readme():
    readme = (BASE_DIR / "README.md").read_text()
    missing = sorted(name for name in settings.ENV_VARS if f"`{name}`" not in readme)
    assert not missing, f"README.md does not document: {missing}"


def test_readme_documents_no_variable_that_settings_ignore():
    readme = (BASE_DIR / "README.md").read_text()
    table = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", readme, flags=re.M)
    extra = sorted(set(table) - settings.ENV_VARS - {"PORTAL_TEST_DATA_DIR", "PORTAL_TEST_KEEP_SERVERS"})
    assert not extra, f"README.md documents variables the settings never read: {extra}"


def test_compose_has_the_whole_stack():
    services = _compose()["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "s3"} <= set(services)
    assert services["web"]["command"] == ["web"]
    assert services["worker"]["command"] == ["worker"]
    assert services["beat"]["command"] == ["beat"]


def test_compose_sets_only_variables_the_portal_reads():
    services = _compose()["services"]
    for name in ("web", "worker", "beat"):
        variables = set(services[name]["environment"])
        unknown = variables - settings.ENV_VARS - NOT_PORTAL
        assert not unknown, f"{name} sets variables the settings never read: {sorted(unknown)}"
        assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PORTAL_ENCRYPTION_KEYS"} <= variables


def test_dockerfile_runs_as_non_root_with_gunicorn():
    dockerfile = (BASE_DIR / "docker" / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert re.search(r"^USER portal$", dockerfile, flags=re.M)
    assert "gunicorn" in (BASE_DIR / "docker" / "entrypoint.sh").read_text()
