"""The database driver against the real PostgreSQL server of the test run."""

import psycopg
import pytest
from django.conf import settings

from provisioning.drivers import get_driver
from tests.factories import make_resource

pytestmark = pytest.mark.django_db(transaction=True)


def _resource(templates, team, owner, name="db1"):
    return make_resource(templates["postgres-database"], team, owner, name, {"connection_limit": 5})


def _apply(resource, lines):
    result = get_driver("local", "database").apply(resource, lines.append)
    resource.outputs, resource.secrets, resource.driver_state = result.outputs, result.secrets, result.state
    resource.save()
    return result


def _exists(name):
    with psycopg.connect(settings.PROVISIONING_POSTGRES_URL) as conn:
        db = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        role = conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", [name]).fetchone()
    return bool(db), role


def test_apply_makes_a_database_the_dsn_can_use(templates, team_a, alice):
    resource = _resource(templates, team_a, alice)
    lines = []
    result = _apply(resource, lines)
    name = result.outputs["database"]
    assert result.outputs["user"] == name
    assert name.startswith("team_a_db1_")
    assert set(result.secrets) == {"password", "dsn"}
    assert _exists(name) == (True, (5,))
    with psycopg.connect(result.secrets["dsn"]) as conn:
        conn.execute("CREATE TABLE samples (id serial primary key, value float)")
        conn.execute("INSERT INTO samples (value) VALUES (1.5)")
        assert conn.execute("SELECT value FROM samples").fetchone() == (1.5,)
    assert not any(result.secrets["password"] in line for line in lines)


def test_apply_twice_keeps_password_and_database(templates, team_a, alice):
    resource = _resource(templates, team_a, alice)
    first = _apply(resource, [])
    second = _apply(resource, [])
    assert first.secrets == second.secrets
    assert first.outputs == second.outputs


def test_one_role_cannot_reach_another_database(templates, team_a, alice):
    one = _apply(_resource(templates, team_a, alice, "one"), [])
    two = _apply(_resource(templates, team_a, alice, "two"), [])
    other_dsn = one.secrets["dsn"].rsplit("/", 1)[0] + "/" + two.outputs["database"]
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(other_dsn).close()


def test_destroy_removes_database_and_role_and_is_idempotent(templates, team_a, alice):
    resource = _resource(templates, team_a, alice)
    result = _apply(resource, [])
    driver = get_driver("local", "database")
    assert driver.poll(resource).state == "ready"
    driver.destroy(resource, [].append)
    assert _exists(result.outputs["database"]) == (False, None)
    driver.destroy(resource, [].append)  # already gone: still fine
    assert driver.poll(resource).state == "missing"


def test_destroy_before_anything_was_made(templates, team_a, alice):
    resource = _resource(templates, team_a, alice)
    get_driver("local", "database").destroy(resource, [].append)


def test_hostile_names_never_reach_sql(templates, team_a, alice):
    from provisioning.drivers.names import physical_name

    resource = _resource(templates, team_a, alice, "x-y")
    resource.name = 'a"; DROP DATABASE portal; --'
    with pytest.raises(ValueError):
        physical_name(resource)
