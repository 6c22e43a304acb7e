"""JupyterLab servers as local processes, one per notebook, the way JupyterHub's LocalProcessSpawner runs them."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

from provisioning import gpus
from provisioning.drivers.base import Driver, DriverError, Outputs, Status, register
from provisioning.drivers.local import process as local_process
from provisioning.drivers.shared import jupyter_get, jupyter_last_activity  # noqa: F401  (used here, and re-exported)

STATE_VERSION = 1
START_TIMEOUT_SECONDS = 60


def jupyter_argv(*, port: int, workdir: Path) -> list[str]:
    """The command line of a notebook server (the token travels in the environment, never here)."""
    argv = [
        sys.executable,
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
    if os.geteuid() == 0:
        argv.append("--allow-root")
    return argv


_get = jupyter_get


def _loopback(state: dict) -> str:
    return f"http://127.0.0.1:{state['port']}"


@register
class LocalNotebookDriver(Driver):
    name = "local"
    label = "JupyterLab on this machine"
    kinds = frozenset({"notebook"})
    can_stop = True

    def validate(self, parameters, *, team, config=None):
        problem = gpus.capacity_error(int(parameters.get("gpus") or 0))
        return {"gpus": problem} if problem else {}

    def usage(self, parameters, config=None):
        return {"notebooks": 1, "gpus": int(parameters.get("gpus") or 0)}

    def _outputs(self, resource, state, token) -> Outputs:
        url = f"http://{settings.NOTEBOOK_PUBLIC_HOST}:{state['port']}/lab"
        outputs = {"url": url, "workdir": state["workdir"]}
        if state.get("gpus"):
            outputs["gpus"] = ",".join(map(str, state["gpus"]))
        return Outputs(
            outputs=outputs,
            secrets={"token": token, "url_with_token": f"{url}?token={token}"},
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
        workdir = root / "work"
        for folder in (workdir, root / "home", root / "jupyter" / "config", root / "jupyter" / "runtime"):
            folder.mkdir(parents=True, exist_ok=True)
        # No "Would you like to receive Jupyter news?" pop-up: this server cannot reach the internet anyway.
        settings_file = (
            root / "jupyter/config/lab/user-settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
        )
        if not settings_file.exists():
            settings_file.parent.mkdir(parents=True, exist_ok=True)
            settings_file.write_text(json.dumps({"fetchNews": "false"}))
        port = local_process.free_port(settings.NOTEBOOK_BIND_ADDRESS)
        env = local_process.clean_env(
            root / "home",
            {
                "JUPYTER_TOKEN": token,
                "JUPYTER_CONFIG_DIR": str(root / "jupyter" / "config"),
                "JUPYTER_RUNTIME_DIR": str(root / "jupyter" / "runtime"),
                "CUDA_VISIBLE_DEVICES": ",".join(map(str, allocated)),
            },
        )
        started = time.monotonic()
        process = local_process.start(
            jupyter_argv(port=port, workdir=workdir), cwd=workdir, env=env, log=root / "notebook.log"
        )
        state = {"version": STATE_VERSION, **process, "port": port, "workdir": str(workdir), "gpus": allocated}
        # Remembered on disk at once: a worker that dies before saving driver_state leaves no unknown server behind.
        (root / "process.json").write_text(json.dumps(state))
        log(
            f"Started JupyterLab (pid {process['pid']}) on port {port}"
            + (f" with GPUs {allocated}" if allocated else "")
            + "; waiting for it to answer..."
        )
        while time.monotonic() - started < START_TIMEOUT_SECONDS:
            if not local_process.alive(state):
                raise DriverError(
                    "The notebook server stopped while starting. Its last words:\n"
                    + local_process.tail(root / "notebook.log", 15),
                    reason="start_failed",
                )
            if self._answers(state, token):
                log(f"JupyterLab answers after {time.monotonic() - started:.1f} s.")
                return self._outputs(resource, state, token)
            time.sleep(0.1)
        local_process.stop(state)
        raise DriverError(
            f"The notebook server did not answer within {START_TIMEOUT_SECONDS} s; it was stopped. "
            "Retry, or tell the Keepers if it happens again.",
            reason="start_timeout",
            retryable=True,
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

    def poll(self, resource) -> Status:
        state = resource.driver_state
        if not local_process.alive(state):
            return Status("failed", "The notebook server stopped unexpectedly. Start it again: your files are kept.")
        try:
            last = jupyter_last_activity(_loopback(state), resource.secrets.get("token", ""))
        except (OSError, urllib.error.URLError, ValueError):
            return Status("ready", "Running, but not answering right now.")
        return Status("ready", last_activity_at=last)

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
            f"token and a working folder under {settings.DATA_DIR / 'resources'}."
        )
