"""Resources as code: `portal apply -f`, `portal diff -f`, `portal export` as subprocesses against a real portal."""

import json
import time

import psycopg
import pytest
import yaml
from django.conf import settings

from portal.tokens import token_issue
from provisioning.models import Operation, Resource, State
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _declare(path, limit):
    path.write_text(
        yaml.safe_dump(
            {
                "team": "team-a",
                "resources": [
                    {
                        "name": "results",
                        "template": "postgres-database",
                        "parameters": {"storage_gb": 2, "connection_limit": limit},
                    },
                    {"name": "scratch", "template": "postgres-database", "parameters": {"storage_gb": 1}},
                ],
            }
        )
    )


def _connection_limit(role):
    with psycopg.connect(settings.PROVISIONING_POSTGRES_URL) as conn:
        return conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", [role]).fetchone()[0]


def _all_ready(timeout=120):
    deadline = time.monotonic() + timeout
    while Resource.objects.exclude(state__in=[State.READY, State.DELETED]).exists():
        assert time.monotonic() < deadline, list(Resource.objects.values_list("name", "state", "status_message"))
        time.sleep(0.2)


def test_apply_twice_changes_nothing_and_an_edit_is_exactly_one_change(run_portal, templates, alice, tmp_path):
    env = {"PORTAL_URL": run_portal.url, "PORTAL_TOKEN": token_issue(user=alice, name="cli")[1]}
    team_file = tmp_path / "team.yaml"
    _declare(team_file, 5)

    planned = run_portal("diff", "-f", str(team_file), env=env)
    assert planned.returncode == 0, planned.stderr
    assert "+ create    results (postgres-database)" in planned.stdout
    assert "2 to create, 0 to update, 0 to delete, 0 refused" in planned.stdout
    assert not Resource.objects.exists(), "diff changes nothing"

    first = run_portal("apply", "-f", str(team_file), env=env)
    assert first.returncode == 0, first.stderr
    _all_ready()
    operations = Operation.objects.count()

    second = run_portal("apply", "-f", str(team_file), "--json", env=env)
    assert second.returncode == 0, second.stderr
    assert {s["action"] for s in json.loads(second.stdout)["steps"]} == {"unchanged"}
    assert Operation.objects.count() == operations and Resource.objects.count() == 2

    _declare(team_file, 7)
    edited = json.loads(run_portal("diff", "-f", str(team_file), "--json", env=env).stdout)
    changed = [s for s in edited["steps"] if s["action"] != "unchanged"]
    assert changed == [
        {
            "name": "results",
            "template": "postgres-database",
            "action": "update",
            "changes": {"connection_limit": {"from": 5, "to": 7}},
            "message": "",
        }
    ]
    assert run_portal("apply", "-f", str(team_file), env=env).returncode == 0
    results = wait_for(Resource.objects.get(name="results"), State.READY, timeout=120)
    assert Operation.objects.filter(resource=results, action="apply", state="succeeded").exists()
    assert results.parameters["connection_limit"] == 7
    assert _connection_limit(results.outputs["user"]) == 7

    exported = run_portal("export", "--team", "team-a", env=env)
    assert exported.returncode == 0
    assert yaml.safe_load(exported.stdout)["resources"] == sorted(
        [
            {
                "name": "results",
                "template": "postgres-database",
                "parameters": {"connection_limit": 7, "storage_gb": 2},
            },
            {
                "name": "scratch",
                "template": "postgres-database",
                "parameters": {"connection_limit": 20, "storage_gb": 1},
            },
        ],
        key=lambda r: r["name"],
    )
    assert run_portal("apply", "-f", "-", env=env, stdin=exported.stdout).stdout.count("unchanged") == 2

    team_file.write_text(
        yaml.safe_dump({"team": "team-a", "resources": yaml.safe_load(exported.stdout)["resources"][:1]})
    )
    kept = run_portal("apply", "-f", str(team_file), env=env)
    assert "kept" in kept.stdout and Resource.objects.get(name="scratch").state == State.READY
    pruned = run_portal("apply", "-f", str(team_file), "--prune", env=env)
    assert pruned.returncode == 0 and "- delete    scratch" in pruned.stdout
    wait_for(Resource.objects.get(name="scratch"), State.DELETED, timeout=120)
