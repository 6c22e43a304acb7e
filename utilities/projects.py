"""Project generator: copier templates Keepers register, a form from their questions, rendering on a worker.

Questions become a JSON Schema, so the form and its plain-word errors are the resource forms' own (provisioning's
ResourceForm and parameters_validate). Templates run with copier's `unsafe=False`: a template that wants to run
tasks or load Jinja extensions is refused.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import yaml
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.audit import audit_record
from portal.errors import NotAllowed, PortalError
from portal.permissions import is_keeper
from provisioning.parameters import parameters_validate
from utilities.models import ProjectGeneration, ProjectTemplate

BUILTIN = Path(__file__).resolve().parent / "project_templates"
SHIPPED = {
    "ml-training": (
        "ML training project",
        "PyTorch Lightning-style training on CPU or GPUs: tests, pre-commit, "
        "Dockerfile, CI, DVC, a Slurm script and a Kubernetes job.",
    ),
    "data-analysis": ("Data-analysis project", "Notebooks, a small package with tests, raw data kept out of git."),
    "web-service": ("Small web service", "An HTTP API with /healthz and /readyz, tests, Dockerfile and Deployment."),
}
TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "yaml": "string", "json": "string"}
MAX_ARCHIVE_BYTES = 20 * 1024 * 1024


def _is_git(source: str) -> bool:
    return source.startswith(("https://", "file://", "ssh://", "git@"))


def _folder(source: str) -> Path:
    """A folder source, only inside the portal's repository (Keepers cannot point the worker at /etc)."""
    path = (settings.BASE_DIR / source).resolve()
    if not path.is_relative_to(settings.BASE_DIR.resolve()) or not (path / "copier.yml").is_file():
        raise PortalError(
            f"'{source[:200]}' is not a folder of the portal's repository with a copier.yml in it.",
            code="invalid",
            fields={"source": "Not a template folder."},
        )
    return path


def read_questions(source: str, ref: str = "") -> dict:
    """copier.yml's questions (settings starting with `_` left out); git sources are cloned first (worker side)."""
    if _is_git(source):
        with tempfile.TemporaryDirectory() as tmp:
            argv = (
                ["git", "clone", "--quiet", "--depth", "1"] + (["--branch", ref] if ref else []) + ["--", source, tmp]
            )
            done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise PortalError(f"Cannot clone {source[:200]}: {done.stderr.strip()[:300]}", code="invalid")
            data = (
                yaml.safe_load((Path(tmp) / "copier.yml").read_text()) if (Path(tmp) / "copier.yml").exists() else None
            )
    else:
        data = yaml.safe_load((_folder(source) / "copier.yml").read_text())
    if not isinstance(data, dict):
        raise PortalError("The template has no copier.yml questions.", code="invalid")
    return {key: value for key, value in data.items() if not key.startswith("_")}


def questions_schema(questions: dict) -> dict:
    """The questions as the JSON Schema that resource forms are made from."""
    properties = {}
    for name, question in questions.items():
        question = question if isinstance(question, dict) else {"default": question}
        spec = {"type": TYPES.get(question.get("type", "str"), "string"), "title": name.replace("_", " ").capitalize()}
        if question.get("help"):
            spec["description"] = question["help"]
        default = question.get("default")
        if default is not None and not (isinstance(default, str) and "{{" in default):
            spec["default"] = default  # a Jinja default is computed by copier from the other answers
        choices = question.get("choices")
        if isinstance(choices, list):
            spec["enum"] = choices
        elif isinstance(choices, dict):
            spec["enum"], spec["x-labels"] = list(choices.values()), {str(v): k for k, v in choices.items()}
        properties[name] = spec
    return {"type": "object", "properties": properties}


def project_template_save(*, user, slug: str, name: str, source: str, ref: str = "", summary: str = ""):
    """Register or change a project template (Keepers). Folder sources are read now; git sources on first render."""
    if not is_keeper(user):
        raise NotAllowed("Only Keepers register project templates.")
    questions = read_questions(source, ref) if not _is_git(source) else {}
    template, _ = ProjectTemplate.objects.update_or_create(
        slug=slug,
        defaults={
            "name": name,
            "source": source,
            "ref": ref,
            "summary": summary,
            "questions": questions,
            "updated_by": user,
        },
    )
    audit_record(actor=user, action="project_template.save", target=template, data={"source": source, "ref": ref})
    return template


def shipped_templates_load() -> int:
    """The three templates that come with the portal (safe to repeat; Keepers' later edits are kept)."""
    made = 0
    for slug, (name, summary) in SHIPPED.items():
        source = str((BUILTIN / slug).relative_to(settings.BASE_DIR))
        _, created = ProjectTemplate.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "summary": summary, "source": source, "questions": read_questions(source)},
        )
        made += created
    return made


def project_generate(*, template: ProjectTemplate, user, answers: dict, request=None) -> ProjectGeneration:
    """Check the answers like a resource form's, record the request, render it on a worker."""
    if not template.enabled:
        raise PortalError(f"The project template '{template.name}' is switched off.", code="template_disabled")
    if "\\u0000" in json.dumps(answers):
        raise PortalError("An answer contains a NUL character; remove it.", code="invalid")
    clean, errors = parameters_validate(questions_schema(template.questions), answers)
    if errors:
        raise PortalError(next(iter(errors.values())), code="invalid", fields=errors)
    with transaction.atomic():
        generation = ProjectGeneration.objects.create(template=template, user=user, answers=clean)
        audit_record(
            actor=user,
            action="project.generate",
            target=generation,
            request=request,
            data={"template": template.slug, "answers": clean},
        )
        generation_id = str(generation.pk)  # rung by task name: this module imports no tasks (tasks import it)
        transaction.on_commit(lambda: current_app.send_task("utilities.render_project", args=[generation_id]))
    return generation


def project_render(generation_id: str) -> str:
    """The worker's half: copier renders the project into a temporary folder, which becomes a zip. Idempotent."""
    import copier

    with transaction.atomic():
        generation = (
            ProjectGeneration.objects.select_for_update(skip_locked=True)
            .filter(pk=generation_id, state=ProjectGeneration.State.QUEUED)
            .select_related("template")
            .first()
        )
        if generation is None:
            return "not queued"
        generation.state = ProjectGeneration.State.RUNNING
        generation.save(update_fields=["state"])
    template = generation.template
    work = Path(tempfile.mkdtemp(prefix="portal-project-"))
    try:
        source = template.source if _is_git(template.source) else str(_folder(template.source))
        if _is_git(template.source) and not template.questions:
            ProjectTemplate.objects.filter(pk=template.pk).update(questions=read_questions(source, template.ref))
        target = work / "project"
        copier.run_copy(
            source,
            str(target),
            data=generation.answers,
            defaults=True,
            vcs_ref=template.ref or None,
            quiet=True,
            unsafe=False,
        )
        answers_file = (
            yaml.safe_load((target / ".copier-answers.yml").read_text())
            if (target / ".copier-answers.yml").exists()
            else {}
        )
        version = str(answers_file.get("_commit") or template.ref or f"portal {template.updated_at:%Y-%m-%d}")
        generation.archive = _zip(target, str(answers_file.get("package_name") or template.slug))
        generation.version = version[:100]
        generation.answers = {k: v for k, v in answers_file.items() if not k.startswith("_")} or generation.answers
        generation.state = ProjectGeneration.State.DONE
    except PortalError as exc:
        generation.state, generation.error = ProjectGeneration.State.FAILED, exc.message
    except Exception as exc:  # copier's own errors (a failed validator, an unsafe template) in its words
        generation.state, generation.error = ProjectGeneration.State.FAILED, f"{exc.__class__.__name__}: {exc}"[:2000]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    generation.finished_at = timezone.now()
    generation.save(update_fields=["archive", "version", "answers", "state", "error", "finished_at"])
    return generation.state


def _zip(folder: Path, name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and ".git" not in path.relative_to(folder).parts:
                archive.write(path, Path(name) / path.relative_to(folder))
    data = buffer.getvalue()
    if len(data) > MAX_ARCHIVE_BYTES:
        raise PortalError("The generated project is larger than 20 MB; a Keeper must slim the template.")
    return data


def generation_get(*, user, generation_id) -> ProjectGeneration:
    """The generation if it is the user's (Keepers: any); 404 otherwise."""
    from portal.errors import NotFound

    generations = ProjectGeneration.objects.select_related("template", "user")
    if not is_keeper(user):
        generations = generations.filter(user=user)
    generation = generations.filter(pk=generation_id).first()
    if generation is None:
        raise NotFound("No such generated project.")
    return generation
