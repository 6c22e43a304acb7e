"""The driver contract, modelled on JupyterHub's Spawner: a driver turns a Resource into real infrastructure and back.

The caller (the operation runner) owns persistence, timeouts, retries and events; a driver only talks to the outside
world. What it must remember between calls it keeps in `resource.driver_state` (a JSON dict with a `version` key),
so a restarted portal adopts what already runs.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from provisioning.failures import DriverError  # noqa: F401  (defined below the drivers, for the sandbox)

Log = Callable[[str], None]
# `Outputs.resource_state` of an apply/start that started something slow: the resource stays "being created" or
# "starting" and the control loop polls it every POLL_INTERVAL_SECONDS until `poll` says ready (or failed).
IN_PROGRESS = "in_progress"


class Queued(DriverError):
    """Not an error: the resource waits for capacity (GPUs). `position` 1 means it is next."""

    def __init__(self, message: str, *, position: int):
        super().__init__(message, reason="queued", retryable=False)
        self.position = position


@dataclass
class Outputs:
    """What an apply returns: public outputs, secrets (encrypted by the caller) and the state to remember."""

    outputs: dict = field(default_factory=dict)
    secrets: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)
    # For kinds that run to an end (jobs): the resource state right after apply (default: ready); IN_PROGRESS
    # when apply only started it (nothing waits in a worker).
    resource_state: str | None = None
    message: str = ""


@dataclass
class Status:
    """What poll returns. `state` is one of: ready, running, stopped, cancelled, succeeded, failed, missing, pending
    (still starting: the message says where it is)."""

    state: str
    message: str = ""
    outputs: dict | None = None
    last_activity_at: object | None = None


@dataclass
class FileEntry:
    """One file or folder of a resource's files, as the file browser lists it (`path` relative to the root)."""

    name: str
    path: str
    is_dir: bool
    size: int | None
    modified: datetime | None

    @property
    def content_type(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"


class Driver:
    """Base class. Subclasses set `name`, `label`, `kinds`, and implement the methods below."""

    name: str = ""
    label: str = ""
    kinds: frozenset[str] = frozenset()
    can_stop: bool = False
    # Whether a running resource can be cancelled (jobs): the `stop` operation ends it for good.
    can_cancel: bool = False
    # Whether the real thing can drift from what was made and be applied again (Terraform).
    can_reapply: bool = False
    # Whether servers can be started ahead of demand (the warm pool, provisioning/pool.py): then pool_key and
    # pool_status are implemented, and apply adopts a server that already answers.
    can_pool: bool = False

    @classmethod
    def available(cls) -> bool:
        """Whether this driver can be offered now (the Kubernetes one needs a configured cluster)."""
        return True

    def pool_key(self, parameters: dict) -> str | None:
        """What shapes a server started ahead of demand (a request with the same key may adopt it); None when a
        request with these parameters can never take a pooled server (e.g. it asks for GPUs)."""
        return None

    def pool_status(self, state: dict, token: str) -> str:
        """A pooled server's state: "ready" (answers), "starting", or "dead"."""
        return "dead"

    @classmethod
    def warm_up(cls) -> None:
        """Load what the first operation would otherwise load (a heavy client library). Called once in a worker's
        parent process, before it forks its pool, for each available driver."""

    def validate(self, parameters: dict, *, team, config: dict | None = None) -> dict[str, str]:
        """Checks beyond the JSON Schema (for example against the machine's capacity): {field: message}.

        `config` is the template's configuration (for example the Kubernetes profiles Keepers defined)."""
        return {}

    def conflicts(self, parameters: dict, *, team, config: dict | None = None) -> dict[str, str]:
        """Valid parameters that the team's things do not allow now (a file not uploaded yet): {field: message}.
        Answered 409, not 400: the request is right, the team's state must change first."""
        return {}

    def usage(self, parameters: dict, config: dict | None = None) -> dict[str, int]:
        """What one resource with these parameters (from a template with this config) counts against quotas."""
        return {}

    def apply(self, resource, log: Log) -> Outputs:
        """Create or update the real thing; idempotent: applying twice ends in the same place."""
        raise NotImplementedError

    def poll(self, resource) -> Status:
        """The real state, cheap and safe to call at any time."""
        raise NotImplementedError

    def stop(self, resource, log: Log) -> None:
        """Stop without losing data (kinds with can_stop); calling it on a stopped resource does nothing."""
        raise DriverError("This kind of resource cannot be stopped.", reason="unsupported")

    def start(self, resource, log: Log) -> Outputs:
        """Bring a stopped resource back; by default the same as apply."""
        return self.apply(resource, log)

    def destroy(self, resource, log: Log) -> None:
        """Remove the real thing; idempotent: succeeds when it is already gone."""
        raise NotImplementedError

    def end_failed(self, resource, log: Log) -> None:
        """Called by the control loop once `poll` said failed: release what a failed run still holds. Idempotent."""

    def drift(self, resource) -> tuple[str, str]:
        """What differs from what was applied (can_reapply drivers): "infrastructure" (changed outside the portal),
        "template" (the template or its variables changed) or "" (nothing), with a short summary."""
        return "", ""

    def logs(self, resource, tail: int = 200) -> str:
        """What the user's program printed (kinds that run programs)."""
        return ""

    def files(self, resource):
        """The resource's working folder as the file browser reads it, when the driver reaches it its own way (a
        cluster's file system): an object with the file browser's store methods (stat, is_dir, exists, list, walk,
        open, write, mkdir, rename, delete, zip_to, terminal_path) confined to that folder; None when it has none."""
        return None

    def output_file(self, resource):
        """The local file the program's output is written to, when there is one (a Path), else None."""
        return None

    def preview(self, resource) -> str:
        """What apply would create, in words or as a document, without creating it."""
        return ""


_REGISTRY: dict[tuple[str, str], type[Driver]] = {}


def register(cls: type[Driver]) -> type[Driver]:
    """Class decorator: make a driver available under its name for each of its kinds."""
    for kind in cls.kinds:
        _REGISTRY[(cls.name, kind)] = cls
    return cls


def get_driver(name: str, kind: str) -> Driver:
    try:
        return _REGISTRY[(name, kind)]()
    except KeyError:
        raise DriverError(
            f"No driver '{name}' for {kind.replace('_', ' ')} resources is installed. A Keeper must fix the template.",
            reason="no_driver",
        ) from None


def registered() -> dict[tuple[str, str], type[Driver]]:
    return dict(_REGISTRY)


def warm_up() -> None:
    """Warm up every driver that can be offered here (see Driver.warm_up)."""
    for cls in set(_REGISTRY.values()):
        if cls.available():
            cls.warm_up()


def unavailable_drivers() -> set[str]:
    """Names of drivers that cannot be offered now; their templates are hidden from scientists."""
    return {cls.name for cls in _REGISTRY.values() if not cls.available()}
