"""The pure builders of the Slurm driver, compared whole (no cluster needed)."""

from provisioning.drivers.slurm.scripts import BatchSpec, job_script, notebook_script, sbatch_argv, time_limit

SPEC = BatchSpec(
    resource_id="0b8e2c1a-1111-2222-3333-444455556666",
    token="c0ffee00c0ffee00",
    partition="gpu",
    minutes=90,
    cpus=4,
    memory_mb=8192,
    gpus=2,
    folder="/shared/portal/pt-team-a/train-0b8e2c1a",
    workdir="/shared/portal/pt-team-a/results/run 1",
    python="/opt/envs/team-a/bin/python",
    env={"EPOCHS": "20", "NOTE": "it's $HOME; rm -rf /"},
)


def test_sbatch_options_are_separate_arguments():
    assert sbatch_argv(SPEC) == [
        "--parsable",
        "--job-name=portal-0b8e2c1a-1111-2222-3333-444455556666",
        "--comment=portal:c0ffee00c0ffee00",
        "--partition=gpu",
        "--time=90",
        "--nodes=1",
        "--ntasks=1",
        "--cpus-per-task=4",
        "--mem=8192M",
        "--chdir=/shared/portal/pt-team-a/results/run 1",
        "--output=/shared/portal/pt-team-a/train-0b8e2c1a/slurm-%j.out",
        "--export=ALL",
        "--gres=gpu:2",
    ]


def test_an_array_on_the_default_partition():
    spec = BatchSpec(**{**SPEC.__dict__, "partition": "", "gpus": 0, "array_size": 4, "minutes": 0.25})
    assert sbatch_argv(spec) == [
        "--parsable",
        "--job-name=portal-0b8e2c1a-1111-2222-3333-444455556666",
        "--comment=portal:c0ffee00c0ffee00",
        "--time=0:15",
        "--nodes=1",
        "--ntasks=1",
        "--cpus-per-task=4",
        "--mem=8192M",
        "--chdir=/shared/portal/pt-team-a/results/run 1",
        "--output=/shared/portal/pt-team-a/train-0b8e2c1a/slurm-%A_%a.out",
        "--export=ALL",
        "--array=0-3",
    ]


def test_time_limits():
    assert [time_limit(m) for m in (1, 60, 90.0, 0.5, 1.25)] == ["1", "60", "90", "0:30", "1:15"]


def test_job_script_quotes_everything_a_person_typed():
    argv = ["python", "train.py", "--name", "a b; echo pwned", "$(id)"]
    assert job_script(SPEC, argv) == (
        "#!/bin/bash\n"
        "# A training job submitted by the research portal for resource 0b8e2c1a-1111-2222-3333-444455556666.\n"
        "# The portal reads the files this script writes in the resource's folder.\n"
        "export PORTAL_RESOURCE_ID=0b8e2c1a-1111-2222-3333-444455556666\n"
        "export PORTAL_JOB_DIR='/shared/portal/pt-team-a/results/run 1'\n"
        'export PATH=/opt/envs/team-a/bin:"$PATH"\n'
        "export EPOCHS=20\n"
        "export NOTE='it'\"'\"'s $HOME; rm -rf /'\n"
        'echo "${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}" > '
        "/shared/portal/pt-team-a/train-0b8e2c1a/submission-c0ffee00c0ffee00\n"
        "cd '/shared/portal/pt-team-a/results/run 1' || exit 1\n"
        "python train.py --name 'a b; echo pwned' '$(id)'\n"
        "code=$?\n"
        'echo "$code" > /shared/portal/pt-team-a/train-0b8e2c1a/exit-"$SLURM_JOB_ID"\n'
        'exit "$code"\n'
    )


def test_notebook_script_writes_where_it_listens():
    spec = BatchSpec(**{**SPEC.__dict__, "env": {}, "gpus": 0, "workdir": SPEC.folder})
    assert notebook_script(spec, token="tok'en", bind_address="") == (
        "#!/bin/bash\n"
        "# A JupyterLab notebook submitted by the research portal for resource "
        "0b8e2c1a-1111-2222-3333-444455556666.\n"
        "# The portal reads the files this script writes in the resource's folder.\n"
        "export PORTAL_RESOURCE_ID=0b8e2c1a-1111-2222-3333-444455556666\n"
        "export PORTAL_JOB_DIR=/shared/portal/pt-team-a/train-0b8e2c1a\n"
        'export PATH=/opt/envs/team-a/bin:"$PATH"\n'
        'echo "${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}" > '
        "/shared/portal/pt-team-a/train-0b8e2c1a/submission-c0ffee00c0ffee00\n"
        "export JUPYTER_TOKEN='tok'\"'\"'en'\n"
        "export JUPYTER_CONFIG_DIR=/shared/portal/pt-team-a/train-0b8e2c1a/jupyter/config\n"
        "export JUPYTER_RUNTIME_DIR=/shared/portal/pt-team-a/train-0b8e2c1a/jupyter/runtime\n"
        '[ -w "${HOME:-/nonexistent}" ] || export HOME=/shared/portal/pt-team-a/train-0b8e2c1a\n'
        'host="$(hostname -f)"\n'
        "port=\"$(/opt/envs/team-a/bin/python -c 'import socket, sys; s = socket.socket(); "
        's.bind((sys.argv[1], 0)); print(s.getsockname()[1]); s.close()\' "$host")" || exit 1\n'
        'echo "$host:$port" > /shared/portal/pt-team-a/train-0b8e2c1a/address-"$SLURM_JOB_ID"\n'
        "exec /opt/envs/team-a/bin/python -m jupyterlab --no-browser "
        '--ServerApp.ip="$host" --ServerApp.port="$port" --ServerApp.port_retries=0 '
        "--ServerApp.root_dir=/shared/portal/pt-team-a/train-0b8e2c1a --ServerApp.allow_remote_access=True "
        "--LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate\n"
    )
