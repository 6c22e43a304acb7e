"""The embedded PostgreSQL servers (issue 12): passwords on every connection, the portal's database closed to other
logins, and teams' databases on a second server. Real servers, real psql."""

import secrets
import subprocess
from urllib.parse import urlsplit

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from portal import embedded

pytestmark = pytest.mark.django_db


def _psql(*args) -> subprocess.CompletedProcess:
    psql = str(embedded._postgres_bin_path() / "psql")
    return subprocess.run([psql, *args], capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})


def test_no_connection_without_a_password_not_even_over_the_socket():
    state = embedded.read_state(settings.DATA_DIR)
    pgdata = embedded.EmbeddedPostgres(settings.DATA_DIR, state).pgdata
    over_socket = _psql(
        "-h", str(pgdata), "-p", str(state["postgres"]["port"]), "-U", "postgres", "-w", "-c", "SELECT 1"
    )
    assert over_socket.returncode != 0
    assert "no password supplied" in over_socket.stderr
    over_tcp = _psql("-h", "127.0.0.1", "-p", str(state["postgres"]["port"]), "-U", "postgres", "-w", "-c", "SELECT 1")
    assert "no password supplied" in over_tcp.stderr
    assert (pgdata / "pg_hba.conf").read_text() == embedded.PG_HBA
    assert "trust" not in embedded.PG_HBA


def test_other_logins_cannot_connect_to_the_portals_database():
    role, password = f"probe_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    admin = embedded.read_state(settings.DATA_DIR)["database_url"]
    with psycopg.connect(admin, autocommit=True) as conn:  # committed at once: the login below must see it
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")  # both our own random, quote-free values
    try:
        db = connection.settings_dict
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(
                host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=role, password=password, connect_timeout=10
            )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {role}")


def test_team_databases_live_on_a_second_server():
    portal = urlsplit(embedded.read_state(settings.DATA_DIR)["database_url"])
    teams = urlsplit(settings.PROVISIONING_POSTGRES_URL)
    assert teams.port != portal.port
    state = embedded.read_state(settings.DATA_DIR)
    assert teams.port == state["postgres_teams"]["port"]
    assert embedded.EmbeddedPostgres(settings.DATA_DIR, state, name="postgres_teams", database="postgres").running_pid()
    with psycopg.connect(settings.PROVISIONING_POSTGRES_URL, connect_timeout=10) as conn:
        databases = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert connection.settings_dict["NAME"] not in databases and "portal" not in databases
