"""Training curves: metrics a job writes (JSON lines, CSV, TensorBoard event files) drawn as charts on its page."""

import io
import json
import re
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from files.charts import line_chart
from files.curves import curves_read
from provisioning import control, sandbox
from provisioning.models import Resource, State
from tests.conftest import api_create, wait_for
from tests.factories import make_resource

DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "provisioning" / "default_templates.yaml"


def _tensorboard_events(folder: Path, tag: str, values: list[float]) -> None:
    """Written with tensorboard's own writer, as a training framework would."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(folder))
    for step, value in enumerate(values):
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
        writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))
    writer.close()


def test_json_lines_csv_and_tensorboard_are_read(tmp_path):
    (tmp_path / "metrics.jsonl").write_text(
        "\n".join(json.dumps({"step": s, "loss": 1 / s, "note": "text is skipped"}) for s in range(1, 6))
        + '\n{"step": 6, "loss": 0.1'  # a line still being written
    )
    (tmp_path / "metrics.csv").write_text("epoch,val_accuracy\n1,0.5\n2,0.75\n")
    _tensorboard_events(tmp_path / "tb" / "run1", "train/reward", [0.0, 1.0, 3.0])
    series = curves_read(tmp_path)
    assert series["loss"] == [(1.0, 1.0), (2.0, 0.5), (3.0, 1 / 3), (4.0, 0.25), (5.0, 0.2)]
    assert series["val_accuracy"] == [(1.0, 0.5), (2.0, 0.75)]
    assert series["train/reward"] == [(0.0, 0.0), (1.0, 1.0), (2.0, 3.0)]
    assert "note" not in series


def test_a_chart_is_an_svg_with_one_line_per_run_and_escaped_labels():
    svg = line_chart("loss", [("run-a", [(1, 1.0), (2, 0.5)]), ("<script>", [(1, 0.9), (2, 0.4), (3, 0.2)])])
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert line_chart("empty", []) == ""


@pytest.mark.django_db
def test_curves_page_is_for_the_team_only(templates, client, alice, bob, tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 0.9}\n{"step": 2, "loss": 0.4}\n')
    job = make_resource(
        templates["training-job"],
        alice.memberships.get().team,
        alice,
        "curvy",
        state=State.SUCCEEDED,
        driver_state={"workdir": str(tmp_path)},
    )
    client.force_login(alice)
    page = client.get(f"/files/curves/{job.pk}/").content.decode()
    assert 'data-metric="loss"' in page and "<polyline" in page
    detail = client.get(f"/resources/{job.pk}/").content.decode()
    assert "Training curves" in detail
    compare = client.get("/files/curves/compare/", {"run": str(job.pk)}).content.decode()
    assert 'data-metric="loss"' in compare
    client.force_login(bob)
    assert client.get(f"/files/curves/{job.pk}/").status_code == 404
    assert 'data-metric="loss"' not in client.get("/files/curves/compare/", {"run": str(job.pk)}).content.decode()


def _finish(job, timeout=90):
    deadline = time.monotonic() + timeout
    while Resource.objects.get(pk=job.pk).state == State.RUNNING and time.monotonic() < deadline:
        control.poll_running()
        time.sleep(0.5)
    return Resource.objects.get(pk=job.pk)


@pytest.mark.worker
def test_the_example_job_draws_loss_and_accuracy(live_worker, templates, api, client, alice):
    job = api_create(api(alice), "training-job", "example-curves", command="python train_example.py --epochs 15")
    job = wait_for(job, {State.RUNNING, State.SUCCEEDED}, timeout=30)
    job = _finish(job)
    assert job.state == State.SUCCEEDED, api(alice).get(f"/api/v1/resources/{job.pk}/logs/").json()
    client.force_login(alice)
    page = client.get(f"/files/curves/{job.pk}/").content.decode()
    assert 'data-metric="loss"' in page and 'data-metric="accuracy"' in page
    assert "at step 15" in page


@pytest.mark.worker
def test_a_job_started_from_an_uploaded_script_writes_its_results_into_its_files(live_worker, templates, api, alice):
    client = api(alice)
    script = (
        b"import json\n"
        b"for s in range(1, 4):\n"
        b"    print('step', s)\n"
        b"    open('metrics.jsonl', 'a').write(json.dumps({'step': s, 'loss': 1 / s}) + '\\n')\n"
        b"open('result.txt', 'w').write('trained')\n"
    )
    upload = io.BytesIO(script)
    upload.name = "train.py"
    assert (
        client.post(
            "/api/v1/files/team-team-a/upload/", {"path": "", "files": [upload]}, format="multipart"
        ).status_code
        == 201
    )
    job = api_create(client, "training-job", "from-upload", command="python train.py", start_from="train.py")
    job = _finish(wait_for(job, {State.RUNNING, State.SUCCEEDED, State.FAILED}, timeout=30))
    assert job.state == State.SUCCEEDED, job.status_message
    names = [e["name"] for e in client.get(f"/api/v1/files/resource-{job.pk}/").json()["entries"]]
    assert {"train.py", "result.txt", "metrics.jsonl"} <= set(names)
    result = client.get(f"/api/v1/files/resource-{job.pk}/download/", {"path": "result.txt"})
    assert b"".join(result.streaming_content) == b"trained"


@pytest.mark.django_db
def test_start_from_an_escaping_path_is_a_400_and_a_missing_file_a_409(templates, api, alice, team_a):
    """A path that can never be inside the team folder is bad input (400); a well-formed one that names nothing
    there yet is a conflict with the folder's state (409: upload it, then ask again)."""
    client = api(alice)
    long_name = "n" * 300
    cases = [
        ("nothing.py", 409, "upload it in Files first"),
        (f"x/{long_name}", 409, "longer than 255 bytes cannot exist"),
        ("../../etc", 400, "no '..'"),
        ("a/../../etc", 400, "no '..'"),
        ("a\\..\\b", 400, "no '..'"),
        ("/etc", 400, "no '..'"),
        ("\\etc", 400, "no '..'"),
        ("./", 400, "no '..'"),
    ]
    for path, status, words in cases:
        response = client.post(
            "/api/v1/resources/",
            {"template": "training-job", "name": "bad", "parameters": {"start_from": path}},
            format="json",
        )
        assert response.status_code == status, (path, response.json())
        assert words in response.json()["fields"]["start_from"], (path, response.json())
    outside = sandbox.team_folder(team_a) / "outside"
    outside.symlink_to("/etc")
    response = client.post(
        "/api/v1/resources/",
        {"template": "training-job", "name": "bad", "parameters": {"start_from": "outside/passwd"}},
        format="json",
    )
    assert response.status_code == 409 and "leads outside your team folder" in response.json()["message"]
    assert not Resource.objects.exists()


@given(st.text(alphabet="./\\a\n", max_size=8))
@settings(max_examples=300, deadline=None)
def test_the_templates_start_from_pattern_is_the_servers_rule(path):
    """The schema's pattern (what clients and the fuzzer read) accepts exactly the paths the server takes."""
    from provisioning.drivers.local.job import START_FROM_PATTERN, team_path_error

    templates = yaml.safe_load(DEFAULT_TEMPLATES.read_text())
    job = next(t for t in templates if t["slug"] == "training-job")
    pattern = job["parameters_schema"]["properties"]["start_from"]["pattern"]
    assert pattern == "^$|" + START_FROM_PATTERN
    assert (re.search(pattern, path) is not None) == (path == "" or team_path_error(path) is None), path


@pytest.mark.django_db
def test_run_again_opens_the_form_filled_in(templates, client, alice):
    job = make_resource(
        templates["training-job"],
        alice.memberships.get().team,
        alice,
        "first",
        {"command": "python train.py --lr 0.1", "env": {"EPOCHS": "3"}},
        state=State.SUCCEEDED,
    )
    client.force_login(alice)
    page = client.get(f"/resources/new/training-job/?from={job.pk}").content.decode()
    assert 'value="python train.py --lr 0.1"' in page and "EPOCHS=3" in page


@pytest.mark.worker
def test_a_job_linked_to_a_team_folder_writes_into_it(live_worker, templates, api, alice):
    client = api(alice)
    assert client.post("/api/v1/files/team-team-a/folders/", {"path": "", "name": "project"}).status_code == 201
    script = io.BytesIO(b"open('project/out.txt', 'w').write('from the job')\n")
    script.name = "write.py"
    client.post("/api/v1/files/team-team-a/upload/", {"path": "project", "files": [script]}, format="multipart")
    job = api_create(
        client, "training-job", "linked", command="python project/write.py", start_from="project", start_mode="link"
    )
    job = _finish(wait_for(job, {State.RUNNING, State.SUCCEEDED, State.FAILED}, timeout=30))
    assert job.state == State.SUCCEEDED, client.get(f"/api/v1/resources/{job.pk}/logs/").json()
    written = client.get("/api/v1/files/team-team-a/download/", {"path": "project/out.txt"})
    assert b"".join(written.streaming_content) == b"from the job"  # the team sees it at once: no copy


@pytest.mark.django_db
def test_the_job_form_suggests_the_team_folders_files(templates, client, alice):
    from provisioning.sandbox import team_folder

    folder = team_folder(alice.memberships.get().team)
    (folder / "projects" / "mnist").mkdir(parents=True)
    (folder / "train.py").write_text("print(1)")
    client.force_login(alice)
    page = client.get("/resources/new/training-job/").content.decode()
    assert 'list="team-files"' in page
    assert '<option value="train.py">' in page and '<option value="projects/mnist/">' in page
