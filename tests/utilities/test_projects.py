"""Project generator: the shipped copier templates generate projects whose own tests pass, `copier update` brings
a later template version, and the portal renders projects on a real worker."""

import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import copier
import pytest
import yaml

from portal.models import AuditEvent
from utilities.models import ProjectGeneration, ProjectTemplate
from utilities.projects import BUILTIN, SHIPPED, questions_schema, shipped_templates_load

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slug", sorted(SHIPPED))
def test_each_shipped_template_generated_with_defaults_passes_its_own_tests(slug, tmp_path):
    project = tmp_path / slug
    copier.run_copy(str(BUILTIN / slug), str(project), defaults=True, quiet=True, unsafe=False)
    assert (project / "README.md").exists() and (project / ".copier-answers.yml").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "PYTEST"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django", "-p", "no:asyncio"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_the_ml_template_has_every_file_the_platform_promises(tmp_path):
    project = tmp_path / "ml"
    copier.run_copy(str(BUILTIN / "ml-training"), str(project), data={"gpus": 2}, defaults=True, quiet=True)
    for name in (".pre-commit-config.yaml", "Dockerfile", ".github/workflows/ci.yml", "dvc.yaml", "k8s/job.yaml"):
        assert (project / name).exists(), name
    assert "#SBATCH --gres=gpu:2" in (project / "slurm/train.sbatch").read_text()
    job = yaml.safe_load((project / "k8s/job.yaml").read_text())
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert job["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def _git(cwd, *args):
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_copier_update_brings_version_2_into_a_project_made_from_version_1(tmp_path):
    template = tmp_path / "template"
    shutil.copytree(BUILTIN / "web-service", template)
    _git(template, "init", "-q", "-b", "main")
    _git(template, "add", "-A")
    _git(template, "commit", "-q", "-m", "v1")
    _git(template, "tag", "v1")

    project = tmp_path / "project"
    copier.run_copy(str(template), str(project), vcs_ref="v1", data={"project_name": "Hello API"}, defaults=True)
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v1"
    _git(project, "init", "-q", "-b", "main")
    (project / "NOTES.md").write_text("our own notes\n")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "generated")

    (template / "template" / "CHANGELOG.md.jinja").write_text("# {{ project_name }}: changes\n\n- v2: a changelog\n")
    _git(template, "add", "-A")
    _git(template, "commit", "-q", "-m", "v2")
    _git(template, "tag", "v2")

    copier.run_update(str(project), defaults=True, overwrite=True, quiet=True, unsafe=False)
    assert (project / "CHANGELOG.md").read_text().startswith("# Hello API: changes")
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v2"
    assert (project / "NOTES.md").read_text() == "our own notes\n", "the project's own files are kept"


def test_questions_become_the_resource_forms_schema():
    template = ProjectTemplate(questions=yaml.safe_load((BUILTIN / "ml-training" / "copier.yml").read_text()))
    schema = questions_schema({k: v for k, v in template.questions.items() if not k.startswith("_")})
    assert schema["properties"]["epochs"] == {
        "type": "integer",
        "title": "Epochs",
        "description": "Training epochs by default",
        "default": 20,
    }
    assert "default" not in schema["properties"]["package_name"], "a Jinja default is left to copier"
    assert schema["properties"]["python_version"]["enum"] == ["3.11", "3.12"]


def test_bad_answers_are_refused_in_plain_words(api, alice):
    shipped_templates_load()
    response = api(alice).post(
        "/api/v1/project-templates/ml-training/generate/", {"answers": {"epochs": "many"}}, format="json"
    )
    assert response.status_code == 400
    assert "epochs" in response.json()["fields"]
    assert not ProjectGeneration.objects.exists()


def _wait(generation_id, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        generation = ProjectGeneration.objects.get(pk=generation_id)
        if generation.state in ("done", "failed"):
            return generation
        assert time.monotonic() < deadline, generation.state
        time.sleep(0.2)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_renders_the_project_and_the_zip_is_downloaded(live_worker, api, alice, bob, client):
    shipped_templates_load()
    response = api(alice).post(
        "/api/v1/project-templates/ml-training/generate/",
        {"answers": {"project_name": "Churn model", "epochs": 3}},
        format="json",
    )
    assert response.status_code == 202, response.json()
    generation = _wait(response.json()["id"])
    assert generation.state == "done", generation.error
    assert generation.answers["package_name"] == "churn_model" and generation.answers["epochs"] == 3
    assert generation.version
    assert AuditEvent.objects.filter(action="project.generate", actor=alice).exists()

    download = api(alice).get(f"/api/v1/projects/{generation.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert "churn_model/src/churn_model/train.py" in names and "churn_model/.copier-answers.yml" in names
    assert api(bob).get(f"/api/v1/projects/{generation.pk}/download/").status_code == 404

    bad = api(alice).post(
        "/api/v1/project-templates/ml-training/generate/", {"answers": {"package_name": "Not Valid"}}, format="json"
    )
    failed = _wait(bad.json()["id"])
    assert failed.state == "failed"
    assert "Use lowercase letters, digits and underscores" in failed.error

    client.force_login(alice)
    page = client.get("/projects/ml-training/").content.decode()
    assert 'name="epochs"' in page and "copier update" in page
    posted = client.post("/projects/web-service/", {"project_name": "Hello API", "port": "8081"})
    assert posted.status_code == 302
    made = _wait(posted["Location"].rstrip("/").split("/")[-1])
    assert made.state == "done" and made.answers["port"] == 8081
    assert client.get(f"/projects/generated/{made.pk}/download/")["Content-Type"] == "application/zip"
    assert Path(BUILTIN).is_dir()


def test_the_schema_lists_one_generate_operation_per_template_with_its_own_questions(api, alice):
    """OpenAPI cannot tie the body to the path's slug: each enabled template gets its concrete path, whose
    `answers` are exactly its questions, and the server takes what that schema allows and refuses the rest."""
    shipped_templates_load()
    ProjectTemplate.objects.filter(slug="web-service").update(enabled=False)
    schema = api(alice).get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert "/api/v1/project-templates/{slug}/generate/" not in paths
    generate = sorted(p for p in paths if p.startswith("/api/v1/project-templates/") and p.endswith("/generate/"))
    assert generate == [
        "/api/v1/project-templates/data-analysis/generate/",
        "/api/v1/project-templates/ml-training/generate/",
    ]
    operation = paths["/api/v1/project-templates/ml-training/generate/"]["post"]
    answers = operation["requestBody"]["content"]["application/json"]["schema"]["properties"]["answers"]
    template = ProjectTemplate.objects.get(slug="ml-training")
    assert set(answers["properties"]) == set(template.questions) and answers["additionalProperties"] is False
    assert answers["properties"]["python_version"]["enum"] == ["3.11", "3.12"]
    assert not [p for p in operation.get("parameters", []) if p["in"] == "path"]
    assert len({paths[p]["post"]["operationId"] for p in generate}) == 2

    # what the schema allows is taken; a question of another template (schema-invalid here) is refused
    accepted = api(alice).post(generate[1], {"answers": {"epochs": 3, "python_version": "3.12"}}, format="json")
    assert accepted.status_code == 202, accepted.json()
    refused = api(alice).post(generate[1], {"answers": {"port": 8080}}, format="json")
    assert refused.status_code == 400 and "port" in json.dumps(refused.json())
