"""Isolation of notebooks and jobs on this machine (issue 12): real sandboxes, real team accounts, real cgroups.

No mocks: jobs go through the API and a real Celery worker, run in bubblewrap as the team's account, and the test
reads what they printed.
"""

import base64
import hashlib
import json
import os
import pwd
import secrets
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from portal import embedded
from provisioning import control, sandbox
from provisioning.drivers.local import process as local_process
from provisioning.models import Resource, State
from provisioning.sandbox import userenv
from provisioning.sandbox.accounts import Account
from provisioning.sandbox.limits import cgroup_mode
from tests.conftest import api_create, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow]

BASE_DIR = Path(__file__).resolve().parents[2]
HOSTILE = Path(__file__).resolve().parent / "hostile_job.py"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CI and this machine run tests as root)")


def _finish(job, timeout=180):
    """Poll running jobs (what the control loop does) until this one ends."""
    deadline = time.monotonic() + timeout
    while (
        Resource.objects.get(pk=job.pk).state in (State.RUNNING, State.REQUESTED, State.PROVISIONING, State.QUEUED)
        and time.monotonic() < deadline
    ):
        control.poll_running()
        time.sleep(0.3)
    return Resource.objects.get(pk=job.pk)


def _visible_copy(folder: Path) -> Path:
    """The hostile script where the sandboxed program can see it: a checkout under /tmp is not (private /tmp)."""
    copy = folder / "hostile_job.py"
    shutil.copyfile(HOSTILE, copy)
    os.chmod(copy, 0o644)
    return copy


def _secrets_of_the_portal() -> dict[str, str]:
    """Every secret a hostile program must not print: keys, server passwords, the test database's password."""
    state = embedded.read_state(settings.DATA_DIR)
    from django.db import connection

    found = {
        "SECRET_KEY": settings.SECRET_KEY,
        "encryption key": settings.ENCRYPTION_KEYS[0],
        "postgres password": state["postgres"]["password"],
        "teams postgres password": state["postgres_teams"]["password"],
        "redis password": state["redis"]["password"],
        "database password": connection.settings_dict["PASSWORD"],
    }
    return {name: value for name, value in found.items() if value}


def _assert_nothing_leaked(output: str, extra: dict[str, str]) -> None:
    for name, value in {**_secrets_of_the_portal(), **extra}.items():
        assert value not in output, f"the sandboxed program printed the {name}"
    assert "PSQL-CONNECTED" not in output, "it connected to the portal's PostgreSQL"
    assert "SIGNAL-ALLOWED" not in output, "it could signal a portal process"


@as_root
def test_a_hostile_job_gets_no_key_password_or_other_teams_file(live_worker, templates, api, alice, team_a, team_b):
    """Run as root (like CI): the job runs as pt-team-a, sees none of the portal's files, processes or servers."""
    other_secret = "TEAM-B-PRIVATE-" + secrets.token_hex(8)
    (sandbox.team_folder(team_b) / "private.txt").write_text(other_secret)
    own_note = "TEAM-A-SHARED-" + secrets.token_hex(8)
    (sandbox.team_folder(team_a) / "shared.txt").write_text(own_note)
    state = embedded.read_state(settings.DATA_DIR)
    pg = embedded.EmbeddedPostgres(settings.DATA_DIR, state)
    portal_pids = [os.getpid(), live_worker.proc.pid, pg.running_pid()]
    folders = [settings.DATA_DIR, settings.PORTAL_USER_DATA_DIR, BASE_DIR / "var", sandbox.team_folder(team_b), "/root"]
    hostile = _visible_copy(sandbox.team_folder(team_a))
    command = shlex.join(
        ["python", str(hostile), str(pg.pgdata), str(state["postgres"]["port"]), *map(str, portal_pids)]
        + ["--", *map(str, folders), str(sandbox.team_folder(team_a))]
    )
    job = api_create(api(alice), "training-job", "hostile", command=command)
    job = _finish(job)
    output = local_process.tail(local_process.resource_dir(job) / "job.log", 100_000)
    assert job.state == State.SUCCEEDED, output[-3000:]

    _assert_nothing_leaked(output, {"other team's file": other_secret})
    assert own_note in output  # its own team's folder is there, read-write for the team's account
    account = sandbox.team_account(team_a)
    assert account.name == "pt-team-a" and account.uid != 0
    assert f"uid={account.uid} " in output
    pids_seen = json.loads(output.rsplit("pids=", 1)[1].splitlines()[0])
    assert len(pids_seen) <= 6, f"it saw other processes: {pids_seen}"
    for pid in portal_pids:  # they do not exist in its PID namespace
        assert f"=== kill -0 {pid}\n[Errno 3] No such process" in output
    # The server's socket folder is not there; over TCP the server asks for a password, which the job does not have.
    assert f"=== postgres socket {pg.pgdata}\ncould not connect to server" in output
    assert "=== postgres tcp 127.0.0.1\nthe server asks for a password" in output


def _walkable(path: Path) -> None:
    """pytest's tmp folders are private to root: let other accounts pass through (not list) down to `path`."""
    for folder in [path, *path.parents]:
        mode = os.stat(folder).st_mode
        if not mode & 0o001:
            os.chmod(folder, mode | 0o011)


def _run_as(account: Account, argv: list[str], env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    prefix = ["setpriv", f"--reuid={account.uid}", f"--regid={account.gid}", "--clear-groups"]
    return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=120, env=env, **kwargs)


@pytest.fixture
def ordinary_user():
    """A throwaway unprivileged Unix user, playing a portal that does not run as root."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
        yield Account(entry.pw_name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir))
        return
    name = "pt-ordinary-test"
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", name], capture_output=True)
    entry = pwd.getpwnam(name)
    yield Account(name, entry.pw_uid, entry.pw_gid, Path("/nonexistent"))
    subprocess.run(["userdel", name], capture_output=True)


PORTAL_AS_ORDINARY_USER = """
import json, os, subprocess, sys
from pathlib import Path
from provisioning.sandbox.accounts import Account
from provisioning.sandbox.command import sandbox_command
args = json.loads(sys.argv[1])
me = Account("me", os.getuid(), os.getgid(), Path("/"))
argv = sandbox_command(args["argv"], account=me, workdir=Path(args["workdir"]), binds=[Path(args["team"])],
                       limits=None, ro_binds=[Path(p) for p in args["ro"]], hide=[Path(p) for p in args["hide"]])
done = subprocess.run(argv, capture_output=True, text=True, env={"PATH": args["path"], "HOME": args["workdir"]})
print(done.stdout + done.stderr)
print("SANDBOX-EXIT", done.returncode)
"""


def test_a_hostile_program_gets_nothing_when_the_portal_is_an_ordinary_user(ordinary_user, tmp_path):
    """The portal runs as an ordinary user U and the program as U too: only the sandbox keeps U's files away.

    A copy of a data folder owned by U (keys, a server state file, another team's folder) and a portal process
    of U with a secret in its environment and command line: the sandboxed program sees none of them."""

    secret = "PORTAL-SECRET-" + secrets.token_hex(8)
    root = tmp_path / "ordinary"
    data, team, other, work = root / "data", root / "users" / "teams" / "a", root / "users" / "teams" / "b", root / "w"
    for folder in (data, team, other, work):
        folder.mkdir(parents=True)
    (data / "secret_key").write_text(secret + "-key")
    (data / "embedded.json").write_text(json.dumps({"postgres": {"password": secret + "-pg"}}))
    (other / "private.txt").write_text(secret + "-other-team")
    (team / "shared.txt").write_text("TEAM-A-NOTE")
    for path in [root, *root.rglob("*")]:
        os.chown(path, ordinary_user.uid, ordinary_user.gid)
    _walkable(tmp_path)
    python = userenv.system_python()
    site = [str(BASE_DIR), *[p for p in sys.path if p.endswith("site-packages") and ".venv" in p]]
    hostile = [
        python,
        str(_visible_copy(work)),
        str(data),
        str(embedded.read_state(settings.DATA_DIR)["postgres"]["port"]),
    ]
    spec = {
        "argv": [*hostile, "PORTALPID", "--", str(data), str(root / "users"), str(team)],
        "workdir": str(work),
        "team": str(team),
        "ro": [],
        "hide": [str(data), str(root / "users")],
        "path": "/usr/bin:/bin",
    }
    # The "portal" process: U, with the secret in its environment and command line; its pid goes to the program.
    script = PORTAL_AS_ORDINARY_USER.replace(
        "args = json.loads(sys.argv[1])",
        "args = json.loads(sys.argv[1])\n"
        'args["argv"] = [str(os.getpid()) if a == "PORTALPID" else a for a in args["argv"]]',
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(site), "PORTAL_SECRET": secret + "-env"}
    done = _run_as(ordinary_user, [python, "-c", script, json.dumps(spec), secret + "-argv"], env=env, cwd=str(root))
    output = done.stdout + done.stderr
    shutil.rmtree(root, ignore_errors=True)
    assert "SANDBOX-EXIT 0" in output, output[-3000:]
    assert "TEAM-A-NOTE" in output  # its own team's folder is there
    assert secret not in output, "the sandboxed program saw a secret of the portal's user"
    assert "SIGNAL-ALLOWED" not in output and "PSQL-CONNECTED" not in output
    assert "No such process" in output
    assert f"uid={ordinary_user.uid} " in output


def test_sandbox_basics_private_tmp_no_new_privileges_readonly_system(team_a, tmp_path):
    """The promises of the sandbox one by one, through `sandbox_command` itself."""
    account = sandbox.team_account(team_a)
    work = sandbox.own(tmp_path / "work", account)
    _walkable(tmp_path)
    Path("/tmp/portal-sandbox-probe").write_text("host tmp")
    probe = (
        "import os, pathlib\n"
        "print('tmp', sorted(os.listdir('/tmp')))\n"
        "print('nnp', [l for l in open('/proc/self/status') if l.startswith('NoNewPrivs')][0].split()[1])\n"
        "try:\n    open('/etc/portal-sandbox-write', 'w'); print('etc writable')\n"
        "except OSError:\n    print('etc read-only')\n"
        "pathlib.Path('made-here').write_text('ok'); print('work writable')\n"
        "print('uid', os.getuid())\n"
    )
    argv = sandbox.sandbox_command(
        [userenv.system_python(), "-c", probe], account=account, workdir=work, binds=[], limits=None
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "tmp [" in done.stdout and "portal-sandbox-probe" not in done.stdout  # only the mount point of `work`
    assert "nnp 1" in done.stdout
    assert "etc read-only" in done.stdout and "work writable" in done.stdout
    assert (work / "made-here").read_text() == "ok"
    if os.geteuid() == 0:
        assert f"uid {account.uid}" in done.stdout and account.uid != 0
        assert "--allow-root" not in " ".join(argv)


def test_a_job_over_its_memory_is_stopped_with_that_reason(live_worker, templates, api, alice):
    if cgroup_mode() == "none":
        pytest.skip("no writable cgroups here: memory is limited with rlimits, whose end is an ordinary error")
    command = "python -c \"chunks = [b'x' * (64 * 2**20) for _ in range(48)]; print('survived', len(chunks))\""
    job = api_create(api(alice), "training-job", "greedy", command=command, memory_gb=1)
    job = _finish(job)
    log = local_process.tail(local_process.resource_dir(job) / "job.log", 50)
    assert job.state == State.FAILED, log
    assert "used more than its memory limit (1024 MB)" in job.status_message
    assert "survived" not in log
    assert not any(d.exists() for d in sandbox.cgroup_dirs(sandbox.limits_for(job)))  # cleaned up


def _tiny_wheel(folder: Path) -> Path:
    """A real wheel of a one-module package, made by hand (offline, no build backend needed)."""
    name, version = "portal_tiny_probe", "1.0"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    files = {
        f"{name}/__init__.py": b"VALUE = 'tiny probe installed'\n",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def _installed_in_team_layer(team) -> bool:
    layer = sandbox.team_folder(team) / ".python"
    return (userenv.site_packages(layer) / "portal_tiny_probe" / "__init__.py").exists()


def test_pip_install_in_a_job_and_in_a_notebook_lands_in_the_team_env(live_worker, templates, api, alice, team_a):
    from jupyter_client import BlockingKernelClient

    before = userenv.portal_packages()
    base_before = sorted(os.listdir(userenv.site_packages(userenv.base_dir())))
    wheel = _tiny_wheel(sandbox.team_folder(team_a))
    client = api(alice)

    job = api_create(client, "training-job", "pip-job", command=f"pip install --no-index --no-deps {wheel}")
    job = _finish(job)
    log = local_process.tail(local_process.resource_dir(job) / "job.log", 50)
    assert job.state == State.SUCCEEDED, log
    assert _installed_in_team_layer(team_a)
    subprocess.run([sandbox.team_python(team_a), "-m", "pip", "uninstall", "-y", "-q", "portal_tiny_probe"], check=True)
    assert not _installed_in_team_layer(team_a)

    notebook = wait_for(api_create(client, "jupyter-notebook", "pip-notebook"), State.READY, timeout=120)
    token = client.post(f"/api/v1/resources/{notebook.pk}/credentials/").json()["credentials"]["token"]
    base = f"http://127.0.0.1:{notebook.driver_state['port']}"
    request = urllib.request.Request(f"{base}/api/kernels", data=b"{}", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        kernel_id = json.loads(response.read())["id"]
    runtime = local_process.resource_dir(notebook) / "jupyter" / "runtime"
    deadline = time.monotonic() + 60
    while not list(runtime.glob(f"kernel-{kernel_id}*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    kernel = BlockingKernelClient()
    kernel.load_connection_file(str(next(runtime.glob(f"kernel-{kernel_id}*.json"))))
    kernel.start_channels(hb=False)  # no heartbeat: on a busy machine a late beat reads as a dead kernel
    try:
        kernel.kernel_info()
        kernel.get_shell_msg(timeout=120)  # the kernel answers: it is ready
        printed = []
        code = (
            f"%pip install --no-index --no-deps {wheel}\n"
            "import portal_tiny_probe, sys\nprint(portal_tiny_probe.VALUE, sys.prefix)"
        )
        reply = kernel.execute_interactive(
            code, timeout=120, output_hook=lambda msg: printed.append(json.dumps(msg.get("content", {})))
        )
    finally:
        kernel.stop_channels()
    assert reply["content"]["status"] == "ok", printed
    assert "tiny probe installed" in "".join(printed)
    assert _installed_in_team_layer(team_a)

    assert userenv.portal_packages() == before  # the portal's .venv did not change
    assert sorted(os.listdir(userenv.site_packages(userenv.base_dir()))) == base_before  # nor the shared base
    client.delete(f"/api/v1/resources/{notebook.pk}/")
    wait_for(notebook, State.DELETED, timeout=60)


def test_the_sizes_from_the_form_reach_the_cgroups(live_worker, templates, api, alice):
    """Memory, CPUs and a process cap of a running job, read back from the kernel's cgroup files."""
    mode = cgroup_mode()
    if mode == "none":
        pytest.skip("no writable cgroups here (rlimits only)")
    client = api(alice)
    job = api_create(client, "training-job", "sized", command="python -c 'import time; time.sleep(120)'", memory_gb=4)
    job = wait_for(job, State.RUNNING, timeout=60)
    limits = sandbox.limits_for(job)
    assert (limits.memory_mb, limits.cpus) == (4096, 1.0)  # the template's default CPUs
    dirs = sandbox.cgroup_dirs(limits)
    if mode == "v1":
        memory, cpu, pids = dirs
        assert int((memory / "memory.limit_in_bytes").read_text()) == 4096 * 2**20
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == 100_000
        assert int((pids / "pids.max").read_text()) == settings.PORTAL_SANDBOX_MAX_PROCESSES // 2
        procs_file = memory / "cgroup.procs"
    else:
        assert int((dirs[0] / "memory.max").read_text()) == 4096 * 2**20
        assert (dirs[0] / "cpu.max").read_text().split()[0] == "100000"
        procs_file = dirs[0] / "cgroup.procs"
    deadline = time.monotonic() + 60  # the supervisor starts the sandbox a moment after the job is running
    while len(procs_file.read_text().split()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(procs_file.read_text().split()) >= 2  # the sandbox and the program inside it are counted
    assert client.post(f"/api/v1/resources/{job.pk}/cancel/").status_code == 202
    wait_for(job, [State.CANCELLED, State.STOPPED, State.FAILED], timeout=60)


def test_a_new_teams_environment_made_by_several_starts_at_once_is_whole_for_each(db):
    """Two notebooks of a new team starting at once both made its Python layer, and the second one's `venv --clear`
    emptied it under the first ("No module named jupyterlab", seen by the outside fuzz run's set-up). One build per
    layer at a time: every caller gets a whole environment."""
    import threading

    from tests.factories import TeamFactory

    team = TeamFactory(slug="fresh-" + secrets.token_hex(3))
    layer = sandbox.team_folder(team) / ".python"
    marker = userenv.site_packages(layer) / "portal-base.pth"
    whole: list[bool] = []
    errors: list[BaseException] = []

    def start():
        try:
            python = Path(sandbox.team_python(team))
            whole.append(python.exists() and marker.exists())  # what a server started now would find
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not errors and whole == [True] * 4, (errors, whole)
    done = subprocess.run(
        [str(layer / "bin" / "python"), "-c", "import jupyterlab"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
