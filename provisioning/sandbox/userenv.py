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
    os.chmod(target.parent, 0o755)  # noqa: S103 (team accounts read the environment; only the portal writes)
    with (target.parent / ".build.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / COMPLETE).exists():
            return target
        shutil.rmtree(target, ignore_errors=True)
        log(f"building the notebook and job environment in {target} from {requirements} (once per machine)...")
        subprocess.run([system_python(), "-m", "venv", str(target)], check=True)
        subprocess.run(
            [
                str(target / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(requirements),
            ],
            check=True,
        )
        # Readable and runnable by every team account, writable by nobody but the portal.
        subprocess.run(["chmod", "-R", "a+rX,go-w", str(target)], check=True)
        (target / COMPLETE).write_text(requirements.read_text())
        log("the notebook and job environment is ready.")
    return target


def site_packages(env: Path) -> Path:
    return env / "lib" / PYTHON / "site-packages"


# Run as the team's account (`python -c LAYER_SCRIPT LAYER BASE_SITE_PACKAGES`): root never writes into a folder
# that account owns. `pip` on PATH must be the team's: the base's own would try to write into the read-only base.
LAYER_SCRIPT = """
import os, subprocess, sys
layer, base_site = sys.argv[1], sys.argv[2]
subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--clear", layer], check=True)
version = "python%d.%d" % sys.version_info[:2]
with open(os.path.join(layer, "lib", version, "site-packages", "portal-base.pth"), "w") as handle:
    handle.write(base_site + "\\n")
for name in ("pip", "pip3"):
    path = os.path.join(layer, "bin", name)
    with open(path, "w") as handle:
        handle.write("#!" + os.path.join(layer, "bin", "python") + "\\n"
                     "import sys\\nfrom pip._internal.cli.main import main\\nsys.exit(main())\\n")
    os.chmod(path, 0o755)
"""


def build_layer(layer: Path, base: Path, *, run_as: list[str] = ()) -> Path:
    """A team's writable environment over `base` (idempotent); `run_as`: a setpriv prefix. Returns its python."""
    python = layer / "bin" / "python"
    marker = site_packages(layer) / "portal-base.pth"

    def built() -> bool:
        return python.exists() and marker.exists() and marker.read_text().strip() == str(site_packages(base))

    if built():
        return python
    # One build at a time per layer: two notebooks starting at once for a new team would otherwise both build it,
    # and the second's `venv --clear` empties the layer under the first one's starting server. The lock lives
    # beside the base (the portal's), never in the team's folder.
    locks = base.parent / ".layer-locks"
    locks.mkdir(parents=True, exist_ok=True)
    with (locks / f"{hashlib.sha256(str(layer).encode()).hexdigest()[:24]}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if built():
            return python
        subprocess.run(
            [*run_as, system_python(), "-I", "-c", LAYER_SCRIPT, str(layer), str(site_packages(base))],
            check=True,
            capture_output=True,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
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
