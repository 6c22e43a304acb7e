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


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """Real password hashing costs ~0.25 s a user; tests make many users. (`make run` keeps PBKDF2.)"""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
                "--queues",
                "operations,control,previews",
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
                try:
                    if app.control.ping(timeout=0.5, destination=[name.replace("%h", _hostname())]):
                        return
                except Exception:  # noqa: S110 (a pooled connection to a restarted Redis; the next try reconnects)
                    pass
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


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3 + IAM API (moto's server) on 127.0.0.1 with key and policy checking on.

    moto stands in for AWS, which cannot be reached here; the portal talks to it with boto3 exactly as to AWS.
    The first three calls (unauthenticated) make the admin identity the portal uses.
    """
    import json
    import socket

    import boto3

    port = _free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"moto did not start; see {log}") from None
            time.sleep(0.1)
    endpoint = f"http://127.0.0.1:{port}"
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
        region_name="us-east-1",
    )
    iam.create_user(UserName="portal-admin")
    iam.put_user_policy(
        UserName="portal-admin",
        PolicyName="all",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="portal-admin")["AccessKey"]
    yield {
        "S3_ENDPOINT_URL": endpoint,
        "S3_ACCESS_KEY_ID": key["AccessKeyId"],
        "S3_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        "S3_REGION": "us-east-1",
    }
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def s3_open_server(tmp_path_factory):
    """A second moto S3 server on 127.0.0.1 WITHOUT key checking (for presigned URLs; see the test that uses it)."""
    import os
    import socket
    import subprocess
    import sys
    import time

    port = _free_port()
    log = tmp_path_factory.mktemp("moto-open") / "moto.log"
    env = {key: value for key, value in os.environ.items() if key != "INITIAL_NO_AUTH_ACTION_COUNT"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"moto did not start; see {log}") from None
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def s3_settings(s3_server, settings):
    """This test process uses the S3 server too (the worker always does)."""
    for key, value in s3_server.items():
        setattr(settings, key, value)
    return s3_server


@pytest.fixture
def templates(db):
    """The default templates of the initial data."""
    from django.core.management import call_command

    from catalog.models import Template

    call_command("provisioning_load", verbosity=0)
    return {t.slug: t for t in Template.objects.all()}


def api_create(client, template, name, **parameters):
    """POST /api/v1/resources/ as `client`; asserts 201 and returns the new resource."""
    from provisioning.models import Resource

    response = client.post(
        "/api/v1/resources/", {"template": template, "name": name, "parameters": parameters}, format="json"
    )
    assert response.status_code == 201, response.json()
    return Resource.objects.get(pk=response.json()["id"])


def wait_for(resource, states, timeout=30.0):
    """Poll the database until the resource reaches one of `states`; returns it fresh."""
    from provisioning.models import Resource

    states = {states} if isinstance(states, str) else set(states)
    deadline = time.monotonic() + timeout
    while True:
        fresh = Resource.objects.get(pk=resource.pk)
        if fresh.state in states:
            return fresh
        if time.monotonic() > deadline:
            log = "\n".join(op.log for op in fresh.operations.all())
            raise AssertionError(f"{fresh.name} is {fresh.state} ({fresh.status_message}), not {states}:\n{log}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def kube_server(tmp_path_factory):
    """An emulated Kubernetes API server (kmock, tests/kube_emulator.py) on 127.0.0.1; yields its kubeconfig path.

    Kubernetes cannot run here; the portal talks to the emulator with the official client exactly as to a cluster.
    """
    folder = tmp_path_factory.mktemp("kube")
    config, log = folder / "kubeconfig", folder / "emulator.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.kube_emulator", "--kubeconfig", str(config)],
        cwd=BASE_DIR,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while not (config.exists() and config.stat().st_size):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"the Kubernetes emulator did not start; see {log}")
        time.sleep(0.05)
    yield str(config)
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def kube_settings(kube_server, settings):
    """This test process sees the cluster too (the worker always does); short waits for the tests."""
    settings.KUBECONFIG = kube_server
    return kube_server


@pytest.fixture
def kube_api(kube_server):
    """The official client on the emulator, for tests that play the scheduler and the kubelet."""
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=kube_server, client_configuration=configuration)
    return client.ApiClient(configuration)


@pytest.fixture(scope="session")
def worker_process(django_db_setup, django_db_blocker, tmp_path_factory, s3_server, kube_server):
    """One real Celery worker for the session, consuming from the test Redis and using the test database."""
    with django_db_blocker.unblock():
        env = _worker_env()
    env.update(s3_server)
    env.update(
        KUBECONFIG=kube_server, KUBERNETES_UNSCHEDULABLE_LIMIT_SECONDS="5", KUBERNETES_START_TIMEOUT_SECONDS="60"
    )
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
    yield worker_process
    _drain()


class BeatProcess:
    """A real `celery beat` process on the test Redis; its schedule comes from each app's `tasks.BEAT_SCHEDULE`."""

    def __init__(self, env: dict, folder: Path):
        self.env, self.folder = env, folder
        self.proc: subprocess.Popen | None = None

    def start(self, **env_overrides: str) -> None:
        env = dict(self.env, **env_overrides)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.folder / "celerybeat-schedule"),
                "--max-interval",
                "1",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=(self.folder / "beat.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture
def beat_process(live_worker, tmp_path):
    """Start a real beat with `beat_process.start(SOME_INTERVAL_SECONDS="1")`; stopped after the test.

    Settings given to `start` reach beat only; a test that needs the worker to see them too restarts the worker.
    """
    beat = BeatProcess(live_worker.env, tmp_path)
    yield beat
    beat.stop()


def _drain(timeout: float = 20.0) -> None:
    """Let the worker finish what the test started, then empty the queue, before the database is flushed."""
    from portal.celery import app
    from provisioning.models import Operation

    deadline = time.monotonic() + timeout
    while Operation.objects.filter(state__in=["queued", "running"]).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    app.control.purge()


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


__all__ = ["PASSWORD"]


@pytest.fixture(autouse=True)
def _forget_cached_lists():
    """Lists cached for minutes in Redis (tags, owners) must not leak from one test into the next. Not cache.clear():
    that would also empty Celery's queue, which lives in the same Redis database."""
    yield
    from django.core.cache import cache

    cache.delete_many(["catalog:popular-tags:25", "catalog:owner-teams", "guides:tag-cloud:30", "catalog:version"])


@pytest.fixture(autouse=True)
def _empty_team_folders_of_the_test_teams():
    """Team folders live on disk, outside the database each test rolls back: the test teams (team-a, team-b) start
    with empty ones. Their Python layer (.python) is kept: it is made on demand and costs time to make again."""
    import shutil

    from django.conf import settings

    for slug in ("team-a", "team-b"):
        folder = Path(settings.PORTAL_USER_DATA_DIR) / "teams" / slug
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.name == ".python":
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
    yield
