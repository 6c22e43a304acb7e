"""Training jobs and notebooks as Slurm batch jobs, driven the way Open OnDemand's Slurm adapter does.

apply submits (sbatch --parsable, the script on standard input) and returns at once with the resource running
(waiting in the queue); poll is one shared squeue read; a job that left the queue is settled from scontrol, sacct or
the exit-code file its script writes. Each submission carries a token in the job's comment, written to a marker
file before sbatch, so a worker that died between sbatch and saving the job id leaves a job that is found, never a
second one.
"""

from __future__ import annotations

import copy
import json
import os
import pwd
import re
import secrets
import shlex
import time
import urllib.error
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from provisioning.drivers.base import Driver, DriverError, Outputs, Status, register
from provisioning.drivers.shared import jupyter_last_activity, split_command
from provisioning.drivers.slurm import client, parse
from provisioning.drivers.slurm.scripts import BatchSpec, job_script, notebook_script, sbatch_argv, time_limit
from provisioning.sandbox import Account, account_name, team_account, team_python

STATE_VERSION = 1
WORKDIR_RE = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


def slurm_account(team) -> Account:
    """The Unix account a team's jobs run as: SLURM_ACCOUNTS maps team slugs to accounts; else the team's own."""
    mapped = settings.SLURM_ACCOUNTS.get(team.slug)
    if not mapped:
        return team_account(team)
    try:
        entry = pwd.getpwnam(mapped)
    except KeyError:  # known only on the login node the prefix reaches (ssh): no uid here
        return Account(mapped, -1, -1, "")
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


def _marker(resource) -> Path:
    return settings.DATA_DIR / "slurm-submissions" / f"{resource.id}.json"


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write(path: Path, data: dict) -> None:
    """Written before sbatch and after it; 0600, as it may hold a notebook's token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        json.dump(data, handle)
    temporary.replace(path)


def _tail(path: Path, lines: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class SlurmDriver(Driver):
    """What jobs and notebooks share: validation against the partitions, submission, finding, cancelling."""

    name = "slurm"
    can_cancel = True

    @classmethod
    def available(cls) -> bool:
        return client.configured() and client.reachable()

    # Forms and checks -------------------------------------------------------------------------------------------

    def form_schema(self, schema: dict) -> dict:
        """The template's schema with the cluster's partitions (and their limits in words) as the choices."""
        try:
            found = client.partitions()
        except DriverError:
            return schema
        schema = copy.deepcopy(schema or {})
        spec = schema.get("properties", {}).get("partition")
        if isinstance(spec, dict) and found:
            spec["enum"] = list(found)
            spec["x-labels"] = {name: p.describe() for name, p in found.items()}
            spec["default"] = next((name for name, p in found.items() if p.default), next(iter(found)))
        return schema

    def validate(self, parameters, *, team, config=None):
        errors = {}
        workdir = str(parameters.get("workdir") or "")
        if workdir and (not WORKDIR_RE.match(workdir) or ".." in workdir.split("/")):
            errors["workdir"] = (
                "Working folder must be a folder inside your team's cluster folder, like results/run-1 "
                "(letters, digits, '.', '_', '-' and '/'; no '..')."
            )
        try:
            found = client.partitions()
        except DriverError as exc:
            errors["partition"] = f"The cluster does not answer right now ({exc.message}); try again in a minute."
            return errors
        name = parameters.get("partition") or next((n for n, p in found.items() if p.default), "")
        partition = found.get(name)
        if partition is None:
            errors["partition"] = f"The cluster has no partition '{name}'; choose one of: {', '.join(found) or 'none'}."
            return errors
        minutes = int(parameters.get("max_runtime_minutes") or 60)
        if partition.max_seconds is not None and minutes * 60 > partition.max_seconds:
            errors["max_runtime_minutes"] = (
                f"Partition {name} allows at most {partition.max_seconds // 60} minutes "
                f"({parse.duration_words(partition.max_seconds)}); you asked for {minutes} minutes."
            )
        cpus = int(parameters.get("cpus") or 1)
        if cpus > partition.cpus:
            errors["cpus"] = f"The nodes of partition {name} have at most {partition.cpus} CPUs; you asked for {cpus}."
        memory_gb = int(parameters.get("memory_gb") or 1)
        if memory_gb * 1024 > partition.memory_mb:
            errors["memory_gb"] = (
                f"The nodes of partition {name} have at most {parse.memory_words(partition.memory_mb)} of memory; "
                f"you asked for {memory_gb} GB."
            )
        gpus = int(parameters.get("gpus") or 0)
        if gpus > partition.gpus:
            most = max((p.gpus for p in found.values()), default=0)
            errors["gpus"] = (
                f"No node of the cluster has {gpus} GPUs: the most on one node is {most}."
                if gpus > most
                else f"The nodes of partition {name} have at most {partition.gpus} GPUs; you asked for {gpus}."
            )
        return errors

    # Submitting -------------------------------------------------------------------------------------------------

    def _folder(self, resource, account: Account) -> Path:
        return client.account_root(account) / f"{resource.name}-{str(resource.id)[:8]}"

    def _spec(self, resource, account: Account, partition: str, token: str) -> BatchSpec:
        parameters = resource.parameters
        folder = self._folder(resource, account)
        workdir = client.account_root(account) / parameters["workdir"] if parameters.get("workdir") else folder
        return BatchSpec(
            resource_id=str(resource.id),
            token=token,
            partition=partition,
            minutes=float(parameters.get("max_runtime_minutes") or 60),
            cpus=int(parameters.get("cpus") or 1),
            memory_mb=int(parameters.get("memory_gb") or 1) * 1024,
            gpus=int(parameters.get("gpus") or 0),
            folder=str(folder),
            workdir=str(workdir),
            python=settings.SLURM_PYTHON or team_python(resource.team),
            array_size=int(parameters.get("array_size") or 0),
            env={
                **{str(k): str(v) for k, v in ((resource.template.config or {}).get("env") or {}).items()},
                **{str(k): str(v) for k, v in (parameters.get("env") or {}).items()},
            },
        )

    def _script(self, resource, spec: BatchSpec, notebook_token: str) -> str:
        raise NotImplementedError

    def _find(self, recorded: dict) -> str | None:
        """The job of a submission whose id was never saved: by the token in its comment, or the file it wrote."""
        wanted = f"portal:{recorded['token']}"
        for row in client.queue():
            if row.comment == wanted:
                return row.array_job_id
        written = Path(recorded.get("folder", "/nonexistent")) / f"submission-{recorded['token']}"
        try:
            job_id = written.read_text().strip()
        except OSError:
            return None
        return job_id if job_id.isdigit() else None

    def _submit(self, resource, log) -> Outputs:
        """Submit, unless this resource's job is already known: one whose id was never saved (found by its token),
        or the saved one while it is still queued or running. A saved job that ended is submitted anew (retry, or
        start after stop)."""
        state = dict(resource.driver_state or {})
        marker = _marker(resource)
        recorded = _read(marker)
        if recorded.get("token") and recorded["token"] != state.get("token"):
            job_id = recorded.get("job_id") or self._find(recorded)
            if job_id:
                state = {**recorded, "job_id": job_id}
                _write(marker, state)
                log(f"Found Slurm job {job_id}, submitted by an attempt that was interrupted; following it.")
                return self._submitted(resource, state)
        if state.get("job_id") and not self._ended(state):
            log(f"Slurm job {state['job_id']} was submitted before; following it.")
            return self._submitted(resource, state)
        account = slurm_account(resource.team)
        partitions = client.partitions()
        partition = resource.parameters.get("partition") or next(
            (name for name, p in partitions.items() if p.default), ""
        )
        token = secrets.token_hex(8)
        spec = self._spec(resource, account, partition, token)
        client.make_folder(Path(spec.folder), account=account)
        if spec.workdir != spec.folder:
            client.make_folder(Path(spec.workdir), account=account)
        notebook_token = resource.secrets.get("token") or secrets.token_urlsafe(32)
        if hasattr(log, "add_secrets"):
            log.add_secrets({"token": notebook_token})
        state = {
            "version": STATE_VERSION,
            "token": token,
            "folder": spec.folder,
            "workdir": spec.workdir,
            "account": account.name,
            "partition": partition,
            "minutes": spec.minutes,
            "array_size": spec.array_size,
        }
        if self.kinds == {"notebook"}:
            state["notebook_token"] = notebook_token
        _write(marker, state)  # before sbatch: whatever happens next, this submission can be found
        state["job_id"] = client.submit(
            self._script(resource, spec, notebook_token), sbatch_argv(spec), account=account
        )
        state["submitted_at"] = time.time()
        _write(marker, state)
        log(
            f"Submitted Slurm job {state['job_id']} to partition {partition} as {account.name} "
            f"({spec.cpus} CPUs, {spec.memory_mb // 1024} GB, {spec.gpus} GPUs, time limit {time_limit(spec.minutes)}"
            + (f", an array of {spec.array_size} tasks" if spec.array_size > 1 else "")
            + ")."
        )
        return self._submitted(resource, state)

    def _submitted(self, resource, state: dict) -> Outputs:
        outputs = {
            "slurm_job_id": state["job_id"],
            "partition": state.get("partition", ""),
            "working_folder": state.get("workdir", ""),
        }
        found = secrets_of(state)
        return Outputs(
            outputs=outputs,
            secrets=found,
            state={k: v for k, v in state.items() if k != "notebook_token"},
            resource_state="running",
            message=f"Submitted as Slurm job {state['job_id']}; waiting in the queue.",
        )

    def _ended(self, state: dict) -> bool:
        """Whether the saved job has ended (a job Slurm no longer knows has ended too)."""
        if any(r.active for r in client.queue() if r.array_job_id == state["job_id"]):
            return False
        records = client.job_records(state["job_id"])  # squeue's answer may be a second old
        return not records or parse.settle(records, "scontrol") is not None

    def apply(self, resource, log) -> Outputs:
        return self._submit(resource, log)

    # Watching ---------------------------------------------------------------------------------------------------

    def _rows(self, state: dict) -> tuple[list[parse.QueueRow], list[parse.QueueRow]]:
        rows = client.queue()
        return [r for r in rows if r.array_job_id == state["job_id"]], rows

    def _settled(self, state: dict) -> parse.Settled | None:
        """How the job ended: scontrol, else sacct, else the exit-code files its script wrote; None while active."""
        records = client.job_records(state["job_id"])
        if records:
            return parse.settle(records, "scontrol")
        records = client.accounting_records(state["job_id"])
        if records:
            return parse.settle(records, "sacct")
        folder = Path(state.get("folder", "/nonexistent"))
        codes = []
        for path in sorted(folder.glob("exit-*")):
            try:
                codes.append(int(path.read_text().strip()))
            except (OSError, ValueError):
                continue
        expected = max(1, int(state.get("array_size") or 0))
        if len(codes) < expected or (expected == 1 and not (folder / f"exit-{state['job_id']}").exists()):
            return parse.Settled(state="UNKNOWN", exit_code=None, source="nothing")
        worst = max(codes, key=lambda c: (c != 0, c))
        return parse.Settled(state="COMPLETED" if worst == 0 else "FAILED", exit_code=worst, source="exit file")

    def _waiting(self, mine: list[parse.QueueRow], everyone: list[parse.QueueRow]) -> str:
        row = next((r for r in mine if r.state == "PENDING"), mine[0])
        position = parse.queue_position(row, everyone)
        return (
            f"Waiting in the queue of partition {row.partition}, {parse.ordinal(position)} in line: "
            f"{parse.reason_words(row.reason)}."
        )

    def _running_words(self, mine: list[parse.QueueRow]) -> str:
        running = [r for r in mine if r.state in ("RUNNING", "COMPLETING", "CONFIGURING")]
        row = running[0]
        used, limit = parse.seconds(row.elapsed), parse.seconds(row.time_limit)
        left = parse.seconds(row.time_left)
        where = f"node {row.nodes}" if "," not in row.nodes else f"nodes {row.nodes}"
        verb = {"COMPLETING": "Finishing", "CONFIGURING": "Starting"}.get(row.state, "Running")
        words = (
            f"{verb} on {where}: {parse.duration_words(used)} of {parse.duration_words(limit)} used, "
            f"{parse.duration_words(left)} left."
        )
        if len(mine) > 1 or "_" in row.job_id:
            waiting = sum(1 for r in mine if r.state == "PENDING")
            words = f"{len(running)} tasks running, {waiting} waiting. " + words
        return words

    def stop(self, resource, log) -> None:
        """Cancel the job in any state (scancel); its output and folder are kept. Nothing to do when it ended."""
        state = resource.driver_state or {}
        recorded = _read(_marker(resource))
        job_id = state.get("job_id") or recorded.get("job_id") or (self._find(recorded) if recorded else None)
        if not job_id:
            log("No Slurm job was submitted; nothing to cancel.")
            return
        rows = [r for r in client.queue() if r.array_job_id == job_id]
        if rows and not any(r.active for r in rows):
            log(f"Slurm job {job_id} had already ended.")
            return
        client.cancel(job_id, account=slurm_account(resource.team))
        log(f"Cancelled Slurm job {job_id}; its output and folder are kept.")

    def destroy(self, resource, log) -> None:
        self.stop(resource, log)
        state = resource.driver_state or _read(_marker(resource))
        if state.get("folder"):
            client.remove_folder(Path(state["folder"]), account=slurm_account(resource.team))
            log(f"Removed its folder {state['folder']}.")
        _marker(resource).unlink(missing_ok=True)

    def logs(self, resource, tail: int = 200) -> str:
        state = resource.driver_state or {}
        folder, job_id = Path(state.get("folder", "/nonexistent")), state.get("job_id")
        if not job_id:
            return ""
        single = folder / f"slurm-{job_id}.out"
        if single.exists():
            return _tail(single, tail)
        parts = sorted(folder.glob(f"slurm-{job_id}_*.out"), key=lambda p: int(p.stem.rsplit("_", 1)[-1] or 0))
        each = max(5, tail // max(1, len(parts)))
        return "\n".join(f"== task {p.stem.rsplit('_', 1)[-1]} ==\n{_tail(p, each)}" for p in parts[:8])

    def files(self, resource):
        """The job's working folder on the cluster's shared file system, read as the team's account (files.py)."""
        from provisioning.drivers.slurm.files import ClusterFolder

        state = resource.driver_state or {}
        workdir = state.get("workdir")
        if not workdir:
            return None
        account = slurm_account(resource.team)
        root = client.account_root(account)
        if Path(workdir) != root and root not in Path(workdir).parents:
            return None  # saved by another configuration (SLURM_WORK_ROOT changed): not this account's to show
        return ClusterFolder(workdir, account)

    def preview(self, resource) -> str:
        account = Account(account_name(resource.team.slug), -1, -1, "")
        spec = self._spec(resource, account, resource.parameters.get("partition") or "", "<token>")
        return (
            f"Submits, as {account.name}:\n\nsbatch {shlex.join(sbatch_argv(spec))} <<'SCRIPT'\n"
            f"{self._script(resource, spec, '<notebook token>')}SCRIPT"
        )


def secrets_of(state: dict) -> dict:
    token = state.get("notebook_token")
    return {"token": token} if token else {}


@register
class SlurmJobDriver(SlurmDriver):
    label = "a batch job on the HPC cluster (Slurm)"
    kinds = frozenset({"training_job"})

    def validate(self, parameters, *, team, config=None):
        errors = {}
        try:
            argv = split_command(parameters.get("command"))
        except ValueError as exc:
            errors["command"] = f"Command cannot be read ({exc}); check its quotes."
        else:
            if not argv:
                errors["command"] = "Give the command to run, for example: python train.py --epochs 10"
        return {**super().validate(parameters, team=team, config=config), **errors}

    def usage(self, parameters, config=None):
        tasks = max(1, int(parameters.get("array_size") or 0))
        return {"gpus": int(parameters.get("gpus") or 0) * tasks}

    def _script(self, resource, spec, notebook_token):
        return job_script(spec, split_command(resource.parameters.get("command")))

    def poll(self, resource) -> Status:
        state = resource.driver_state or {}
        if not state.get("job_id"):
            return Status("pending")
        mine, everyone = self._rows(state)
        if any(r.active for r in mine):
            if any(r.state in ("RUNNING", "COMPLETING", "CONFIGURING") for r in mine):
                return Status("running", self._running_words(mine))
            return Status("running", self._waiting([r for r in mine if r.active], everyone))
        settled = self._settled(state)
        if settled is None:  # scontrol still has it as active (squeue's answer is a second old)
            return Status("running", f"Slurm job {state['job_id']} is about to start or end.")
        return self._ended_status(resource, state, settled)

    def _ended_status(self, resource, state, settled: parse.Settled) -> Status:
        outputs = {**(resource.outputs or {}), "slurm_state": settled.state.lower().replace("_", " ")}
        if settled.exit_code is not None:
            outputs["exit_code"] = settled.exit_code
        if settled.runtime_seconds is not None:
            outputs["runtime_seconds"] = settled.runtime_seconds
        took = f" after {parse.duration_words(settled.runtime_seconds)}" if settled.runtime_seconds is not None else ""
        node = f" on node {settled.nodes}" if settled.nodes else ""
        limit = parse.duration_words(round(float(state.get("minutes") or 0) * 60))
        if settled.state == "COMPLETED" and not settled.exit_code:
            return Status("succeeded", f"Completed successfully{took}{node}.", outputs=outputs)
        if settled.state == "CANCELLED":
            return Status("cancelled", f"Cancelled{took}; its output and folder are kept.", outputs=outputs)
        if settled.state == "TIMEOUT":
            return Status(
                "failed",
                f"Timed out: Slurm stopped it at its time limit of {limit}{node}. Save checkpoints and "
                "resume, or ask for more time.",
                outputs=outputs,
            )
        if settled.state == "OUT_OF_MEMORY":
            return Status(
                "failed",
                f"Out of memory: it used more than the {resource.parameters.get('memory_gb', 1)} GB it asked "
                f"for{node}. Ask for more memory.",
                outputs=outputs,
            )
        if settled.state == "UNKNOWN":
            return Status(
                "failed",
                f"Slurm no longer knows job {state['job_id']} and it left no exit code (its node may have "
                "failed). Its output is kept; retry to run it again.",
                outputs=outputs,
            )
        tasks = f" (tasks {', '.join(settled.failed_tasks)})" if settled.failed_tasks else ""
        if settled.state in ("FAILED", "COMPLETED"):
            return Status(
                "failed",
                f"Failed with exit code {settled.exit_code}{tasks}{took}{node}; the end of its output says why.",
                outputs=outputs,
            )
        return Status(
            "failed",
            f"Ended by Slurm as {settled.state.lower().replace('_', ' ')}{tasks}{took}{node}.",
            outputs=outputs,
        )


@register
class SlurmNotebookDriver(SlurmDriver):
    label = "JupyterLab as a batch job on the HPC cluster (Slurm)"
    kinds = frozenset({"notebook"})
    can_stop = True

    def usage(self, parameters, config=None):
        return {"notebooks": 1, "gpus": int(parameters.get("gpus") or 0)}

    def _script(self, resource, spec, notebook_token):
        return notebook_script(spec, token=notebook_token, bind_address=settings.SLURM_NOTEBOOK_BIND_ADDRESS)

    def start(self, resource, log) -> Outputs:
        """A new batch job for the same folder (the old one was cancelled or ran out of wall time)."""
        return self._submit(resource, log)

    def _address(self, state: dict) -> str | None:
        try:
            text = (Path(state["folder"]) / f"address-{state['job_id']}").read_text().strip()
        except (OSError, KeyError):
            return None
        return text if re.fullmatch(r"[A-Za-z0-9.\-]+:\d+", text) else None

    def poll(self, resource) -> Status:
        state = resource.driver_state or {}
        if not state.get("job_id"):
            return Status("pending")
        mine, everyone = self._rows(state)
        row = next((r for r in mine if r.active), None)
        if row is None:
            settled = self._settled(state)
            if settled is None:
                return Status("running", "Starting: Slurm is about to run it.")
            return self._ended_status(state, settled)
        if row.state == "PENDING":
            return Status("running", self._waiting([row], everyone))
        address = self._address(state)
        token = resource.secrets.get("token", "")
        base = f"http://{address}" if address else ""
        try:
            last = jupyter_last_activity(base, token, timeout=2) if address else None
            answers = bool(address)
        except (OSError, urllib.error.URLError, ValueError):
            last, answers = None, False
        if not answers:
            if resource.state == "ready":
                return Status("ready", f"Running on node {row.nodes}, but not answering right now.")
            return Status("running", f"Starting JupyterLab on node {row.nodes}...")
        left = parse.seconds(row.time_left)
        ends = timezone.localtime(timezone.now() + timedelta(seconds=left)) if left is not None else None
        outputs = {
            "url": f"{base}/lab",
            "node": row.nodes,
            "slurm_job_id": state["job_id"],
            "wall_time_ends": f"{ends:%Y-%m-%d %H:%M}" if ends else "no limit",
        }
        words = f"Running on node {row.nodes}; its wall time ends at {ends:%H:%M}." if ends else "Running."
        if left is not None and left <= settings.SLURM_WALLTIME_WARNING_MINUTES * 60:
            words += f" {parse.duration_words(left)} left: save your work."
            if resource.state == "ready":
                self._warn_walltime(resource, state, left, ends)
        return Status("ready", words, outputs=outputs, last_activity_at=last)

    def _warn_walltime(self, resource, state: dict, left: int, ends: datetime) -> None:
        """Tell the owner, once per job, that the wall time is about to end: an event and the resource_warning signal.

        (The page shows it in the status message: the resource's `warning` belongs to idle culling, which clears it.)"""
        if state.get("walltime_warned") == state["job_id"]:
            return
        from portal.signals import resource_warning, send_after_commit
        from provisioning.models import Event, Resource

        message = (
            f"Its wall time ends at {ends:%H:%M} ({parse.duration_words(left)} from now): Slurm stops it then. "
            "Save your work; your files are kept and you can start it again."
        )
        updated = Resource.objects.filter(pk=resource.pk, driver_state=resource.driver_state).update(
            driver_state={**state, "walltime_warned": state["job_id"]}
        )
        if updated:
            Event.objects.create(resource=resource, level=Event.Level.WARNING, message=message)
            send_after_commit(
                resource_warning, sender=Resource, resource=resource, warning="walltime", message=message, at=ends
            )

    def _ended_status(self, state, settled: parse.Settled) -> Status:
        limit = parse.duration_words(round(float(state.get("minutes") or 0) * 60))
        if settled.state == "TIMEOUT":
            return Status(
                "stopped",
                f"Stopped: it reached its wall time of {limit}. Your files are kept; start it again.",
            )
        if settled.state in ("CANCELLED", "COMPLETED"):
            return Status("stopped", "Stopped; your files are kept. Start it again any time.")
        last_words = _tail(Path(state.get("folder", "/nonexistent")) / f"slurm-{state['job_id']}.out", 5)
        return Status(
            "failed",
            f"The notebook's job ended as {settled.state.lower().replace('_', ' ')} (exit code "
            f"{settled.exit_code}). Start it again; its last words:\n{last_words}"[:500],
        )
