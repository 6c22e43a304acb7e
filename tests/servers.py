"""pytest plugin (loaded with -p before pytest-django): real PostgreSQL and Redis servers for the test run.

Unless DATABASE_URL and REDIS_URL are given, the embedded servers of a separate data folder (var/test, or
PORTAL_TEST_DATA_DIR) are started before Django reads its settings, and stopped at the end.
"""

import os
import shutil
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
_started = {}


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # Short heartbeats so tests of dead workers wait seconds, not a minute (workers inherit the environment).
    os.environ.setdefault("OPERATION_HEARTBEAT_TIMEOUT_SECONDS", "4")
    # Two GPU slots declared by setting (this machine has no GPU); jobs get CUDA_VISIBLE_DEVICES=0,1 all the same.
    os.environ.setdefault("PORTAL_GPUS", "2")
    # Test-only Terraform modules (terraform_data, no provider download), for this process and the worker.
    os.environ.setdefault("TERRAFORM_MODULE_PATHS", str(BASE_DIR / "tests" / "fixtures" / "terraform"))
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        from portal import embedded

        root = Path(os.environ.get("PORTAL_TEST_DATA_DIR") or BASE_DIR / "var" / "test").resolve()
        os.environ["PORTAL_DATA_DIR"] = str(root)
        state = embedded.read_state(root)
        already = bool(state) and bool(embedded.EmbeddedPostgres(root, state).running_pid())
        if not already:  # files left by an earlier run (notebook folders, workspaces) must not leak into this one
            for child in ("resources", "buckets", "terraform"):
                shutil.rmtree(root / child, ignore_errors=True)
        embedded.start(root)
        if not already:  # a second pytest run beside a first must not stop the first one's servers
            _started["root"] = root
    # The Python environment of sandboxed notebooks and jobs: built once per machine, then reused (cached by the
    # hash of requirements-user.txt under PORTAL_USER_ENV_DIR, outside the repository).
    import subprocess

    from provisioning.sandbox import userenv

    try:
        userenv.build_base(log=lambda line: print(f"[tests] {line}", flush=True))
    except (OSError, subprocess.CalledProcessError) as exc:  # the tests of notebooks and jobs then say it is missing
        print(f"[tests] the notebook and job environment could not be built: {exc}", flush=True)
    return (yield)


def pytest_unconfigure(config):
    if "root" in _started and not os.environ.get("PORTAL_TEST_KEEP_SERVERS"):
        from portal import embedded

        embedded.stop(_started["root"])
