"""Databases on a PostgreSQL server: one database and one login role per resource."""

from __future__ import annotations

import secrets
from urllib.parse import quote, urlsplit

import psycopg
from django.conf import settings
from psycopg import sql

from provisioning.drivers.base import Driver, DriverError, Outputs, Status, register
from provisioning.drivers.names import physical_name

STATE_VERSION = 1


def _connect():
    try:
        return psycopg.connect(settings.PROVISIONING_POSTGRES_URL, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise DriverError(
            "The database server is not reachable right now; the portal will retry.",
            reason="unreachable",
            retryable=True,
        ) from exc


# Advisory-lock namespace of this driver: one apply or destroy per database at a time, across workers.
LOCK_NAMESPACE = 7411


def _lock(conn, name: str, log) -> None:
    """Wait (up to 2 minutes) for other workers working on the same database; released when `conn` closes."""
    conn.execute("SET lock_timeout = '120s'")
    try:
        conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, name])
    except psycopg.errors.LockNotAvailable as exc:
        raise DriverError(
            "Another worker is still working on this database; the portal will retry.", reason="locked", retryable=True
        ) from exc


def _server():
    parts = urlsplit(settings.PROVISIONING_POSTGRES_URL)
    return settings.PROVISIONING_POSTGRES_PUBLIC_HOST or parts.hostname or "localhost", parts.port or 5432


@register
class PostgresDatabaseDriver(Driver):
    name = "local"
    label = "PostgreSQL server"
    kinds = frozenset({"database"})

    def usage(self, parameters, config=None):
        return {"databases": 1, "storage_gb": int(parameters.get("storage_gb") or 0)}

    def _names(self, resource) -> str:
        return resource.driver_state.get("database") or physical_name(resource)

    def apply(self, resource, log) -> Outputs:
        name = self._names(resource)
        password = resource.secrets.get("password") or secrets.token_urlsafe(24)
        limit = int(resource.parameters.get("connection_limit") or 20)
        with _connect() as conn:
            _lock(conn, name, log)
            role_exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
            verb = "ALTER" if role_exists else "CREATE"
            conn.execute(
                sql.SQL(
                    verb + " ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE CONNECTION LIMIT {} PASSWORD {}"
                ).format(sql.Identifier(name), sql.Literal(limit), sql.Literal(password))
            )
            log(f"{'Updated' if role_exists else 'Created'} the login role {name}.")
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
                        sql.Identifier(name), sql.Identifier(name)
                    )
                )
                log(f"Created the database {name}.")
            else:
                log(f"The database {name} already exists.")
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))
            conn.execute(sql.SQL("GRANT ALL ON DATABASE {} TO {}").format(sql.Identifier(name), sql.Identifier(name)))
            log("Only the new role may connect to it (CONNECT revoked from PUBLIC).")
        host, port = _server()
        dsn = f"postgresql://{quote(name)}:{quote(password)}@{host}:{port}/{quote(name)}"
        return Outputs(
            outputs={"host": host, "port": port, "database": name, "user": name},
            secrets={"password": password, "dsn": dsn},
            state={"version": STATE_VERSION, "database": name},
        )

    def poll(self, resource) -> Status:
        name = self._names(resource)
        with _connect() as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            return Status("missing", "The database no longer exists on the server.")
        return Status("ready")

    def destroy(self, resource, log) -> None:
        name = self._names(resource)  # derived from the id: also right after a crash before the state was saved
        with _connect() as conn:
            _lock(conn, name, log)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
        log(f"Dropped the database and the role {name}.")

    def preview(self, resource) -> str:
        return (
            f"A PostgreSQL database and a login role named {physical_name(resource)} on "
            f"{_server()[0]}, at most {resource.parameters.get('connection_limit', 20)} connections."
        )
