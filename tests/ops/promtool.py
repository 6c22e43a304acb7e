"""Prometheus's own checker (Debian's `prometheus` package, installed by scripts/test-system-deps.sh)."""

import shutil
import subprocess

import pytest


def promtool(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool is not installed (apt-get install prometheus; scripts/test-system-deps.sh does it)")
    return subprocess.run([binary, *args], input=stdin, capture_output=True, timeout=120, check=False)
