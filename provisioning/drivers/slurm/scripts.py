"""Pure builders: the sbatch command line and the batch scripts of training jobs and notebooks.

Everything a person typed reaches the script through `shlex.quote`; options go to sbatch as separate arguments
(never through a shell), so tests compare the whole output of each builder.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

JOB_NAME_PREFIX = "portal-"


@dataclass(frozen=True)
class BatchSpec:
    """What one submission asks of Slurm, already validated."""

    resource_id: str
    token: str  # one per submission, in the job's comment: finds a job whose id was never saved
    partition: str  # "" for the cluster's default partition
    minutes: float
    cpus: int
    memory_mb: int
    gpus: int
    folder: str  # the resource's folder on the shared file system: output, exit codes, notebook address
    workdir: str  # where the command runs
    python: str  # the team's Python (its folder goes first on PATH)
    array_size: int = 0
    env: dict = field(default_factory=dict)


def job_name(resource_id: str) -> str:
    return f"{JOB_NAME_PREFIX}{resource_id}"


def comment(token: str) -> str:
    return f"portal:{token}"


def output_pattern(spec: BatchSpec) -> str:
    name = "slurm-%A_%a.out" if spec.array_size > 1 else "slurm-%j.out"
    return f"{spec.folder}/{name}"


def time_limit(minutes: float) -> str:
    """Slurm's --time: whole minutes as "90", a part of a minute as "minutes:seconds"."""
    if float(minutes).is_integer():
        return str(int(minutes))
    total = max(1, round(minutes * 60))
    return f"{total // 60}:{total % 60:02d}"


def sbatch_argv(spec: BatchSpec) -> list[str]:
    """sbatch's options (the script comes on standard input)."""
    argv = [
        "--parsable",
        f"--job-name={job_name(spec.resource_id)}",
        f"--comment={comment(spec.token)}",
        f"--time={time_limit(spec.minutes)}",
        "--nodes=1",
        "--ntasks=1",
        f"--cpus-per-task={spec.cpus}",
        f"--mem={spec.memory_mb}M",
        f"--chdir={spec.workdir}",
        f"--output={output_pattern(spec)}",
        "--export=ALL",  # sbatch runs with a clean environment of ours; the job gets that, not the portal's
    ]
    if spec.partition:
        argv.insert(3, f"--partition={spec.partition}")
    if spec.gpus:
        argv.append(f"--gres=gpu:{spec.gpus}")
    if spec.array_size > 1:
        argv.append(f"--array=0-{spec.array_size - 1}")
    return argv


def _header(spec: BatchSpec, what: str) -> list[str]:
    q = shlex.quote
    python_dir = spec.python.rsplit("/", 1)[0] if "/" in spec.python else ""
    lines = [
        "#!/bin/bash",
        f"# {what} submitted by the research portal for resource {spec.resource_id}.",
        "# The portal reads the files this script writes in the resource's folder.",
        f"export PORTAL_RESOURCE_ID={q(spec.resource_id)}",
        f"export PORTAL_JOB_DIR={q(spec.workdir)}",
    ]
    if python_dir:
        lines.append(f'export PATH={q(python_dir)}:"$PATH"')
    lines += [f"export {name}={q(str(value))}" for name, value in sorted(spec.env.items())]
    lines.append(f'echo "${{SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}}" > {q(spec.folder)}/submission-{q(spec.token)}')
    return lines


def job_script(spec: BatchSpec, argv: list[str]) -> str:
    """A training job: run the command (split into words, each quoted), then record its exit code."""
    q = shlex.quote
    lines = _header(spec, "A training job")
    lines += [
        f"cd {q(spec.workdir)} || exit 1",
        shlex.join(argv),
        "code=$?",
        f'echo "$code" > {q(spec.folder)}/exit-"$SLURM_JOB_ID"',
        'exit "$code"',
    ]
    return "\n".join(lines) + "\n"


FREE_PORT = "import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1]); s.close()"


def notebook_script(spec: BatchSpec, *, token: str, bind_address: str) -> str:
    """A notebook (Open OnDemand's interactive app): JupyterLab on a free port of its node, with a token.

    It writes `host:port` to `address-<job id>` in the resource's folder once it has picked the port; the portal
    shows the Open button when JupyterLab answers there. `bind_address` empty means the node's host name."""
    q = shlex.quote
    lines = _header(spec, "A JupyterLab notebook")
    lines += [
        f"export JUPYTER_TOKEN={q(token)}",
        f"export JUPYTER_CONFIG_DIR={q(spec.folder)}/jupyter/config",
        f"export JUPYTER_RUNTIME_DIR={q(spec.folder)}/jupyter/runtime",
        f'[ -w "${{HOME:-/nonexistent}}" ] || export HOME={q(spec.folder)}',
        f"host={q(bind_address)}" if bind_address else 'host="$(hostname -f)"',
        f'port="$({q(spec.python)} -c {q(FREE_PORT)} "$host")" || exit 1',
        f'echo "$host:$port" > {q(spec.folder)}/address-"$SLURM_JOB_ID"',
        " ".join(
            [
                f"exec {q(spec.python)} -m jupyterlab --no-browser",
                '--ServerApp.ip="$host" --ServerApp.port="$port" --ServerApp.port_retries=0',
                f"--ServerApp.root_dir={q(spec.workdir)} --ServerApp.allow_remote_access=True",
                "--LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ]
        ),
    ]
    return "\n".join(lines) + "\n"
