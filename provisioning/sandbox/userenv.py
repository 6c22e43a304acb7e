"""The Python environment of notebooks and jobs: a shared read-only base plus a writable layer per team.

The base is a virtual environment built from `requirements-user.txt` (Keepers edit it) under PORTAL_USER_ENV_DIR,
in a folder named after the file's hash, so it is built once per machine and rebuilt when the file changes. A
team's layer is a virtual environment without packages of its own whose site-packages also reads the base's (a
`.pth` file); `pip install` inside a notebook or job writes into the team's layer, never into the base or the
portal's `.venv`. This module's build functions import nothing of Django (tests and the launcher call them).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
COMPLETE = ".complete"
PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"


def default_root() -> Path:
    """Outside the repository and the data folder, readable by team accounts: built once per machine."""
    configured = os.environ.get("PORTAL_USER_ENV_DIR")
    if configured:
        return Path(configured)
    if os.geteuid() == 0:
        return Path("/var/cache/portal/userenv")
    return Path.home() / ".cache" / "portal" / "userenv"


def default_requirements() -> Path:
    return Path(os.environ.get("PORTAL_USER_REQUIREMENTS") or BASE_DIR / "requirements-user.txt")


def base_dir(requirements: Path | None = None, root: Path | None = None) -> Path:
    requirements = requirements or default_requirements()
    digest = hashlib.sha256(requirements.read_bytes() + PYTHON.encode()).hexdigest()[:12]
    return (root or default_root()) / f"base-{digest}"


def system_python() -> str:
    """The interpreter the environments are made from (the one under the portal's venv, not the venv)."""
    # The system's first: a Python under /root (pyenv) cannot be run by team accounts.
    for candidate in (Path("/usr/bin") / PYTHON, Path(sys.base_prefix) / "bin" / PYTHON):
        if candidate.exists():
            return str(candidate)
    return str(Path(sys.base_prefix) / "bin" / "python3")


def base_ready(requirements: Path | None = None, root: Path | None = None) -> bool:
    return (base_dir(requirements, root) / COMPLETE).exists()


def build_base(requirements: Path | None = None, root: Path | None = None, *, log=print) -> Path:
    """Build the base environment if it is missing (idempotent, safe to call from several processes at once)."""
    requirements = requirements or default_requirements()
    target = base_dir(requirements, root)
    if (target / COMPLETE).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, 0o755)
    with (target.parent / ".build.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / COMPLETE).exists():
            return target
        shutil.rmtree(target, ignore_errors=True)
        log(f"building the notebook and job environment in {target} from {requirements} (once per machine)...")
        subprocess.run([system_python(), "-m", "venv", str(target)], check=True)
        subprocess.run(
            [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-r", str(requirements)],
            check=True,
        )
        # Readable and runnable by every team account, writable by nobody but the portal.
        subprocess.run(["chmod", "-R", "a+rX,go-w", str(target)], check=True)
        (target / COMPLETE).write_text(requirements.read_text())
        log("the notebook and job environment is ready.")
    return target


def site_packages(env: Path) -> Path:
    return env / "lib" / PYTHON / "site-packages"


PIP_WRAPPER = """#!{python}
import sys
from pip._internal.cli.main import main
sys.exit(main())
"""


def build_layer(layer: Path, base: Path) -> Path:
    """A team's writable environment over `base` (idempotent). Returns its python."""
    python = layer / "bin" / "python"
    marker = site_packages(layer) / "portal-base.pth"
    if python.exists() and marker.exists() and marker.read_text().strip() == str(site_packages(base)):
        return python
    subprocess.run([system_python(), "-m", "venv", "--without-pip", "--clear", str(layer)], check=True)
    marker.write_text(str(site_packages(base)) + "\n")
    # `pip` on PATH must be the team's: the base's own `pip` script would try to write into the (read-only) base.
    for name in ("pip", "pip3"):
        script = layer / "bin" / name
        script.write_text(PIP_WRAPPER.format(python=python))
        script.chmod(0o755)
    return python


def portal_packages() -> list[str]:
    """The portal's own package list (what a test compares before and after a user's `pip install`)."""
    out = subprocess.run([sys.executable, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True)
    return sorted(out.stdout.split())


def main(argv: list[str]) -> int:
    build_base()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
