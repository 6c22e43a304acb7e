"""Helpers more than one driver family uses (part of the base: every family may import it, it imports no family)."""

from __future__ import annotations

import json
import shlex
import urllib.request
from datetime import datetime


def split_command(command) -> list[str]:
    """The command as an argument list: a list as given, or a line split like a shell would (without a shell)."""
    if isinstance(command, list):
        return [str(part) for part in command]
    return shlex.split(str(command or ""))


def jupyter_get(base_url: str, token: str, path: str, timeout: float = 3.0):
    request = urllib.request.Request(base_url + path, headers={"Authorization": f"token {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (a notebook server of ours)
        return json.loads(response.read())


def jupyter_last_activity(base_url: str, token: str, timeout: float = 3.0):
    """Jupyter Server's own last activity; now when a kernel is busy (a kernel at work is not idle, whatever the
    browser does). Raises OSError / ValueError when the server does not answer."""
    status = jupyter_get(base_url, token, "/api/status", timeout)
    if any(k.get("execution_state") == "busy" for k in jupyter_get(base_url, token, "/api/kernels", timeout)):
        from django.utils import timezone

        return timezone.now()
    value = status.get("last_activity")
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
