"""Training jobs as local processes: the command runs in its own folder, supervised by jobrunner.py beside it."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from provisioning import gpus, sandbox
from provisioning.drivers.base import Driver, DriverError, Outputs, Status, register
from provisioning.drivers.local import jobrunner as jobrunner_module
from provisioning.drivers.local import process as local_process
from provisioning.drivers.shared import split_command

STATE_VERSION = 1
EXAMPLES = Path(__file__).resolve().parents[3] / "provisioning" / "examples"


def runner_argv(resource, argv: list[str], result: Path, seconds: float | None = None, limits=None) -> list[str]:
    """The supervisor's command line: it runs `argv` (sandboxed), enforces the time limit, records the exit code
    and whether the memory limit ended it."""
    if seconds is None:
        seconds = float(resource.parameters.get("max_runtime_minutes") or 60) * 60
    cgroups = [part for folder in sandbox.cgroup_dirs(limits) for part in ("--cgroup", str(folder))] if limits else []
    # -I: isolated, so the script's own folder (with our selectors.py) does not shadow the standard library.
    runner = [sys.executable, "-I", str(Path(jobrunner_module.__file__)), str(result), str(seconds)]
    return [*runner, *cgroups, "--", *argv]


class NotInTeamFolder(ValueError):
    """The path is well formed but names nothing usable in the team folder now (uploading it resolves it)."""


# What `team_source` accepts as a path, for the template's JSON Schema (ECMA and Python read it alike): not
# starting with a slash, no '..' part, and naming something (not only '.', '/' and '\\').
START_FROM_PATTERN = r"^(?![/\\])(?![\s\S]*(?:^|[/\\])\.\.(?:[/\\]|(?![\s\S])))(?=[\s\S]*(?:[^./\\]|\.\.\.))"


def team_path_error(relative: str) -> str | None:
    """Why `relative` is not a path inside a team folder (the rule START_FROM_PATTERN states), or None."""
    parts = relative.replace("\\", "/").split("/")
    if relative.startswith(("/", "\\")) or ".." in parts or all(part in ("", ".") for part in parts):
        return "Give a path inside your team folder, like projects/mnist (no '..', not starting with '/')."
    return None


def team_source(team, relative: str) -> Path:
    """The file or folder `relative` names in the team's folder: ValueError in words when the path is not one,
    NotInTeamFolder when nothing usable is there."""
    from provisioning.sandbox import team_folder

    if problem := team_path_error(relative):
        raise ValueError(problem)
    parts = [part for part in relative.replace("\\", "/").split("/") if part not in ("", ".")]
    missing = f"There is no {relative[:300]} in your team folder; upload it in Files first."
    if any(len(part.encode()) > 255 for part in parts):
        raise NotInTeamFolder(missing + " (A name longer than 255 bytes cannot exist.)")
    base = Path(os.path.realpath(team_folder(team)))
    try:
        source = Path(os.path.realpath(base.joinpath(*parts)))
        exists = source.exists()
    except OSError:
        raise NotInTeamFolder("That path cannot be read in your team folder; check its spelling.") from None
    if base not in source.parents:
        raise NotInTeamFolder("That path leads outside your team folder (through a link).")
    if not exists:
        raise NotInTeamFolder(missing)
    return source


def copy_into(source: Path, workdir: Path) -> None:
    """A folder's contents, or a single file, copied into the working folder (links are copied as links)."""
    if source.is_dir():
        shutil.copytree(source, workdir, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(source, workdir / source.name)


def link_into(source: Path, workdir: Path) -> Path:
    """A link named like the source in the working folder, to the file or folder in the team folder (the sandbox
    shows the team folder at the same path, so the link works inside it)."""
    link = workdir / source.name
    if link.is_symlink() or link.exists():
        if link.is_symlink() and link.resolve() == source:
            return link
        raise ValueError(f"The working folder already has a {source.name}; it was not replaced by a link.")
    link.symlink_to(source)
    return link


@register
class LocalJobDriver(Driver):
    name = "local"
    label = "a process on this machine"
    kinds = frozenset({"training_job"})
    can_cancel = True

    @classmethod
    def offer_problem(cls) -> str | None:
        """Why this cannot be offered here now (never run unsandboxed), or None."""
        return sandbox.local_compute_problem()

    def validate(self, parameters, *, team, config=None):
        errors = {}
        try:
            argv = split_command(parameters.get("command"))
        except ValueError as exc:
            errors["command"] = f"The command cannot be read ({exc}); check its quotes."
        else:
            if not argv:
                errors["command"] = "Give the command to run, for example: python train.py --epochs 10"
        if parameters.get("start_from") and (problem := team_path_error(parameters["start_from"])):
            errors["start_from"] = problem
        problem = gpus.capacity_error(int(parameters.get("gpus") or 0))
        if problem:
            errors["gpus"] = problem
        return errors

    def conflicts(self, parameters, *, team, config=None):
        if parameters.get("start_from"):
            try:
                team_source(team, parameters["start_from"])
            except ValueError as exc:
                return {"start_from": str(exc)}
        return {}

    def usage(self, parameters, config=None):
        return {"gpus": int(parameters.get("gpus") or 0)}

    def apply(self, resource, log) -> Outputs:
        root = local_process.resource_dir(resource)
        marker = root / "process.json"
        if marker.exists():
            state = json.loads(marker.read_text())
            ended = Path(state.get("result", "/nonexistent")).exists() or not local_process.alive(state)
            if not (ended and state.get("pid") == resource.driver_state.get("pid")):
                # Started by an apply whose worker died before recording it: never start twice, follow it.
                log(f"The job was already started (pid {state['pid']}); following it.")
                return self._outputs(state)
            # The recorded run has ended (a retry, or a cancelled job run again): run the command again, same folder.
            marker.unlink()
            Path(state.get("result", root / "result.json")).unlink(missing_ok=True)
            log(f"The earlier run (pid {state['pid']}) has ended; running the command again in the same folder.")
        allocated = local_process.gpus_or_wait(resource, noun="job")
        python = sandbox.team_python(resource.team)
        account = sandbox.team_account(resource.team)
        sandbox.traversable(root)
        workdir = sandbox.own(root / "work", account)
        for name in resource.template.config.get("files", []):
            source = EXAMPLES / Path(name).name
            if source.is_file() and sandbox.write_new(workdir / source.name, source.read_bytes(), account):
                log(f"Added the starter file {source.name} to the working folder.")
        if resource.parameters.get("start_from"):
            source = team_source(resource.team, resource.parameters["start_from"])
            if resource.parameters.get("start_mode") == "link":
                try:
                    link = link_into(source, workdir)
                except ValueError as exc:
                    raise DriverError(str(exc), reason="start_from") from None
                log(f"Linked {link.name} in the working folder to the team folder's {link.name}.")
            else:
                copy_into(source, workdir)
                log(f"Copied {resource.parameters['start_from']} from the team folder into the working folder.")
        argv = split_command(resource.parameters.get("command"))
        env = local_process.clean_env(
            workdir,
            {
                **{str(k): str(v) for k, v in (resource.template.config.get("env") or {}).items()},
                **{str(k): str(v) for k, v in (resource.parameters.get("env") or {}).items()},
                "CUDA_VISIBLE_DEVICES": ",".join(map(str, allocated)),
                "PORTAL_JOB_DIR": str(workdir),
                "PORTAL_TEAM_DIR": str(sandbox.team_folder(resource.team)),
            },
            python=python,
        )
        result = root / "result.json"
        sandboxed, limits = sandbox.sandbox_for(resource, argv, workdir=workdir)
        process = local_process.start(
            runner_argv(resource, sandboxed, result, limits=limits), cwd=workdir, env=env, log=root / "job.log"
        )
        state = {
            "version": STATE_VERSION,
            **process,
            "workdir": str(workdir),
            "result": str(result),
            "log": str(root / "job.log"),
            "gpus": allocated,
            "started_at": time.time(),
        }
        marker.write_text(json.dumps(state))
        log(
            f"Started `{shlex.join(argv)}` (pid {process['pid']})"
            + (f" on GPUs {allocated}" if allocated else " without GPUs")
            + "."
        )
        return self._outputs(state)

    def _outputs(self, state) -> Outputs:
        outputs = {"workdir": state["workdir"]}
        if state.get("gpus"):
            outputs["cuda_visible_devices"] = ",".join(map(str, state["gpus"]))
        return Outputs(outputs=outputs, state=state, resource_state="running", message="Running.")

    def poll(self, resource) -> Status:
        state = resource.driver_state
        result_path = Path(state.get("result", "/nonexistent"))
        running = local_process.alive(state)
        if result_path.exists():  # checked after `alive`: the supervisor writes the result, then exits
            result = json.loads(result_path.read_text())
            code, reason = result["exit_code"], result["reason"]
            runtime = round(result["finished_at"] - state.get("started_at", result["finished_at"]))
            outputs = {**resource.outputs, "exit_code": code, "runtime_seconds": runtime}
            if reason == "timeout":
                minutes = resource.parameters.get("max_runtime_minutes")
                return Status(
                    "failed",
                    f"Stopped: it reached its maximum run time of {minutes} minutes. Save "
                    "checkpoints and resume, or ask for a longer run time.",
                    outputs=outputs,
                )
            if reason == "memory":
                limit = sandbox.limits_for(resource).memory_mb
                return Status(
                    "failed",
                    f"Stopped: it used more than its memory limit ({limit} MB) and the system ended it. Ask for a "
                    "bigger size, or make it use less memory (smaller batches, fewer rows at once).",
                    outputs=outputs,
                )
            if reason == "cancelled":
                return Status("cancelled", "Cancelled; its log and working folder are kept.", outputs=outputs)
            if code == 0:
                return Status("succeeded", f"Finished successfully after {runtime} s.", outputs=outputs)
            return Status(
                "failed", f"The program ended with exit code {code}; the end of its log says why.", outputs=outputs
            )
        if running:
            return Status("running", "Running.")
        return Status(
            "failed",
            "The job's process disappeared without an exit code (was the machine restarted?). Retry to run it again.",
        )

    def stop(self, resource, log) -> None:
        if local_process.stop(resource.driver_state):
            log("Cancelled the job: its processes were ended.")
        else:
            log("The job was not running.")

    def destroy(self, resource, log) -> None:
        self.stop(resource, log)
        root = local_process.resource_dir(resource)
        if root.exists():
            shutil.rmtree(root, ignore_errors=True)
            log(f"Removed its folder {root}.")

    def output_file(self, resource):
        return local_process.resource_dir(resource) / "job.log"

    def logs(self, resource, tail: int = 200) -> str:
        return local_process.tail(local_process.resource_dir(resource) / "job.log", tail)

    def preview(self, resource) -> str:
        argv = split_command(resource.parameters.get("command"))
        return f"Runs `{shlex.join(argv)}` on this machine with {resource.parameters.get('gpus', 0)} GPU(s)."
