import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import PASSWORD, MembershipFactory, TeamFactory, UserFactory, make_keeper

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def team_a(db):
    return TeamFactory(slug="team-a", name="Team A")


@pytest.fixture
def team_b(db):
    return TeamFactory(slug="team-b", name="Team B")


@pytest.fixture
def alice(team_a):
    """A scientist in team A."""
    return MembershipFactory(user=UserFactory(username="alice"), team=team_a).user


@pytest.fixture
def alice_admin(team_a):
    """A team admin of team A."""
    return MembershipFactory(user=UserFactory(username="anna"), team=team_a, role="admin").user


@pytest.fixture
def bob(team_b):
    """A scientist in team B."""
    return MembershipFactory(user=UserFactory(username="bob"), team=team_b).user


@pytest.fixture
def keeper(db):
    return make_keeper()


@pytest.fixture
def password():
    return PASSWORD


def api_client_for(user=None):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api():
    return api_client_for


def _worker_env() -> dict:
    """The environment of a worker that uses the test database pytest-django created."""
    settings_dict = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{settings_dict['USER']}:{settings_dict['PASSWORD']}@{settings_dict['HOST']}:"
        f"{settings_dict['PORT']}/{settings_dict['NAME']}"
    )
    from django.conf import settings

    env["REDIS_URL"] = settings.REDIS_URL
    env["CONN_MAX_AGE"] = "0"
    return env


class WorkerProcess:
    """A real `celery worker` process on the test database; can be killed and started again."""

    def __init__(self, env: dict, log: Path, concurrency: int = 2):
        self.env, self.log, self.concurrency = env, log, concurrency
        self.proc: subprocess.Popen | None = None
        self.index = 0

    def start(self, wait: bool = True) -> None:
        from portal.celery import app

        self.index += 1
        name = f"test{self.index}@%h"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(self.concurrency),
                "--hostname",
                name,
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the test worker exited; see {self.log}")
                if app.control.ping(timeout=0.5, destination=[name.replace("%h", _hostname())]):
                    return
            raise RuntimeError(f"the test worker did not answer within 60 s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and its pool), as a crash would."""
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def _hostname() -> str:
    import socket

    return socket.gethostname()


@pytest.fixture(scope="session")
def worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """One real Celery worker for the session, consuming from the test Redis and using the test database."""
    with django_db_blocker.unblock():
        env = _worker_env()
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    worker = WorkerProcess(env, log)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def live_worker(worker_process, transactional_db):
    """A running worker for a test whose writes must be visible to it (so the test commits them)."""
    if worker_process.proc is None or worker_process.proc.poll() is not None:
        worker_process.start()
    return worker_process


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


__all__ = ["PASSWORD"]
