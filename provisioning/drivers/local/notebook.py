"""JupyterLab servers as local processes, one per notebook, the way JupyterHub's LocalProcessSpawner runs them."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

from provisioning import gpus, sandbox
from provisioning.drivers.base import IN_PROGRESS, Driver, Outputs, Status, register
from provisioning.drivers.local import process as local_process
from provisioning.drivers.local.job import runner_argv
from provisioning.drivers.shared import jupyter_get, jupyter_last_activity  # noqa: F401  (used here, and re-exported)
from provisioning.sandbox import notebook_login

STATE_VERSION = 1
START_TIMEOUT_SECONDS = 120  # judged by the control loop's polls, not by a waiting worker


def jupyter_argv(*, port: int, workdir: Path, python: str) -> list[str]:
    """The command line of a notebook server in the team's environment (the token travels in the environment)."""
    return [
        python,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ServerApp.ip={settings.NOTEBOOK_BIND_ADDRESS}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={workdir}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--ServerApp.allow_remote_access=True",
    ]


_get = jupyter_get


def _loopback(state: dict) -> str:
    return f"http://127.0.0.1:{state['port']}"


@register
class LocalNotebookDriver(Driver):
    name = "local"
    label = "JupyterLab on this machine"
    kinds = frozenset({"notebook"})
    can_stop = True
    can_pool = True

    @classmethod
    def offer_problem(cls) -> str | None:
        """Why this cannot be offered here now (never run unsandboxed), or None."""
        return sandbox.local_compute_problem()

    def validate(self, parameters, *, team, config=None):
        problem = gpus.capacity_error(int(parameters.get("gpus") or 0))
        return {"gpus": problem} if problem else {}

    def usage(self, parameters, config=None):
        return {"notebooks": 1, "gpus": int(parameters.get("gpus") or 0)}

    def pool_key(self, parameters):
        if int(parameters.get("gpus") or 0):
            return None  # GPUs are given when a notebook is asked for, never held by a pool
        return json.dumps({"memory_gb": parameters.get("memory_gb"), "cpus": parameters.get("cpus")}, sort_keys=True)

    def pool_status(self, state, token):
        if not local_process.alive(state):
            return "dead"
        return "ready" if self._answers(state, token) else "starting"

    def _outputs(self, resource, state, token) -> Outputs:
        url = f"http://{settings.NOTEBOOK_PUBLIC_HOST}:{state['port']}/lab"
        outputs = {"url": url, "workdir": state["workdir"]}
        if state.get("gpus"):
            outputs["gpus"] = ",".join(map(str, state["gpus"]))
        return Outputs(
            outputs=outputs,
            secrets={"token": token},
            state=state,
            message="Ready: open it with the Open notebook button.",
        )

    def apply(self, resource, log) -> Outputs:
        allocated = local_process.gpus_or_wait(resource, noun="request")
        state = dict(resource.driver_state)
        token = resource.secrets.get("token") or secrets.token_urlsafe(32)
        if local_process.alive(state) and self._answers(state, token):
            log(f"The notebook server (pid {state['pid']}) is already running; adopted it.")
            return self._outputs(resource, state, token)
        root = local_process.resource_dir(resource)
        self._end_orphan(resource, root, token, log)
        python = sandbox.team_python(resource.team)
        account = sandbox.team_account(resource.team)
        sandbox.traversable(root)
        workdir, home, jupyter = root / "work", root / "home", root / "jupyter"
        fresh_home = not home.exists()
        for folder in (workdir, home, jupyter / "runtime"):  # the team's account writes only these
            sandbox.own(folder, account)
        for folder in (jupyter, jupyter / "config", jupyter / "logins"):  # the portal's; the team's account reads
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o755)
        notebook_login.write_config(jupyter / "config")
        with contextlib.suppress(OSError):  # the team folder, at hand in the file browser
            (workdir / "team").symlink_to(sandbox.team_folder(resource.team))
        # No "Would you like to receive Jupyter news?" pop-up. Written only into a home just made, before the team's
        # account had it: root never writes where that account could have planted a link.
        lab_settings = home / ".jupyter" / "lab" / "user-settings"
        if fresh_home:
            settings_file = lab_settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
            settings_file.parent.mkdir(parents=True, exist_ok=True)
            settings_file.write_text(json.dumps({"fetchNews": "false"}))
            if sandbox.running_as_root():
                subprocess.run(["chown", "-R", f"{account.uid}:{account.gid}", str(home)], check=True)
        port = local_process.free_port(settings.NOTEBOOK_BIND_ADDRESS)
        env = local_process.clean_env(
            home,
            {
                "JUPYTER_TOKEN": token,
                "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
                "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
                "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
                "JUPYTERLAB_SETTINGS_DIR": str(lab_settings),
                "JUPYTERLAB_WORKSPACES_DIR": str(home / ".jupyter" / "lab" / "workspaces"),
                "PORTAL_LOGIN_DIR": str(jupyter / "logins"),
                "PORTAL_SESSION_COOKIE": settings.SESSION_COOKIE_NAME,
                "PORTAL_TEAM_DIR": str(sandbox.team_folder(resource.team)),
                "CUDA_VISIBLE_DEVICES": ",".join(map(str, allocated)),
            },
            python=python,
        )
        sandboxed, limits = sandbox.sandbox_for(
            resource,
            jupyter_argv(port=port, workdir=workdir, python=python),
            workdir=workdir,
            extra_binds=[home, jupyter],
        )
        # The same supervisor as jobs (no time limit): the sandbox dies with it, and it outlives the worker.
        (root / "result.json").unlink(missing_ok=True)
        process = local_process.start(
            runner_argv(resource, sandboxed, root / "result.json", seconds=0, limits=limits),
            cwd=workdir,
            env=env,
            log=root / "notebook.log",
        )
        state = {
            "version": STATE_VERSION,
            **process,
            "port": port,
            "workdir": str(workdir),
            "gpus": allocated,
            "started_at": time.time(),
        }
        # Remembered on disk at once: a worker that dies before saving driver_state leaves no unknown server behind.
        (root / "process.json").write_text(json.dumps(state))
        message = "Starting JupyterLab; it answers in a few seconds."
        log(
            f"Started JupyterLab (pid {process['pid']}) on port {port}"
            + (f" with GPUs {allocated}" if allocated else "")
            + ". Nothing waits here: the control loop sees it answer."
        )
        outputs = self._outputs(resource, state, token)
        # In progress: the control loop (control.follow, then the poller) polls until JupyterLab answers.
        return Outputs(
            outputs=outputs.outputs,
            secrets=outputs.secrets,
            state=state,
            resource_state=IN_PROGRESS,
            message=message,
        )

    def _end_orphan(self, resource, root: Path, token: str, log) -> None:
        """A server started by an apply whose worker died before saving it: stop it, so there is never a second.

        Its token was never saved (secrets are written when an apply ends), so it cannot be adopted."""
        marker = root / "process.json"
        if not marker.exists():
            return
        previous = json.loads(marker.read_text())
        if previous.get("pid") == resource.driver_state.get("pid") or not local_process.alive(previous):
            return
        local_process.stop(previous)
        log(f"Stopped the notebook server (pid {previous['pid']}) an interrupted start had left; starting it afresh.")

    def _answers(self, state, token) -> bool:
        try:
            _get(_loopback(state), token, "/api/status", timeout=1.0)
            return True
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def login_url(self, resource) -> str:
        """A one-time link that signs the browser in to the notebook (no token in the address)."""
        return notebook_login.login_link(
            resource.outputs["url"], local_process.resource_dir(resource) / "jupyter" / "logins"
        )

    def poll(self, resource) -> Status:
        state = resource.driver_state
        if resource.state in ("provisioning", "starting"):
            return self._poll_start(resource, state)
        if not local_process.alive(state):
            result = local_process.resource_dir(resource) / "result.json"
            if result.exists() and json.loads(result.read_text()).get("reason") == "memory":
                return Status(
                    "failed",
                    f"The notebook used more than its memory limit ({sandbox.limits_for(resource).memory_mb} MB) "
                    "and the system stopped it. Start it again (your files are kept) with a bigger size.",
                )
            return Status("failed", "The notebook server stopped unexpectedly. Start it again: your files are kept.")
        try:
            last = jupyter_last_activity(_loopback(state), resource.secrets.get("token", ""))
        except (OSError, urllib.error.URLError, ValueError):
            return Status("ready", "Running, but not answering right now.")
        return Status("ready", last_activity_at=last)

    def _poll_start(self, resource, state) -> Status:
        """A server that apply started: ready once JupyterLab answers; failed if it died or never answered."""
        root = local_process.resource_dir(resource)
        if not state.get("pid"):
            return Status("pending", "Starting JupyterLab.")
        if not local_process.alive(state):
            return Status(
                "failed",
                "The notebook server stopped while starting. Its last words:\n"
                + local_process.tail(root / "notebook.log", 15),
            )
        if self._answers(state, resource.secrets.get("token", "")):
            return Status("ready", "Ready: open it with the Open notebook button.")
        waited = time.time() - float(state.get("started_at") or time.time())
        if waited > START_TIMEOUT_SECONDS:
            local_process.stop(state)
            return Status(
                "failed",
                f"The notebook server did not answer within {START_TIMEOUT_SECONDS} s; it was stopped. "
                "Start it again, or tell the Keepers if it happens again.",
            )
        return Status("pending", f"Starting JupyterLab ({waited:.0f} s so far).")

    def stop(self, resource, log) -> None:
        if local_process.stop(resource.driver_state):
            log("Stopped the notebook server; the working folder is kept.")
        else:
            log("The notebook server was not running.")

    def start(self, resource, log) -> Outputs:
        return self.apply(resource, log)

    def destroy(self, resource, log) -> None:
        if local_process.stop(resource.driver_state):
            log("Stopped the notebook server.")
        root = local_process.resource_dir(resource)
        if root.exists():
            shutil.rmtree(root, ignore_errors=True)
            log(f"Removed its folder {root}.")

    def logs(self, resource, tail: int = 200) -> str:
        return local_process.tail(local_process.resource_dir(resource) / "notebook.log", tail)

    def preview(self, resource) -> str:
        return (
            f"A JupyterLab server on this machine with {resource.parameters.get('gpus', 0)} GPU(s), its own "
            f"token and a working folder under {settings.PORTAL_USER_DATA_DIR / 'resources'}, in a sandbox as "
            "your team's account."
        )
