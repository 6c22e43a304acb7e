"""Writes with rules for guides: syncing docs-as-code files, Keepers' edits, readers' progress, reviews."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import frontmatter
from django.db import transaction
from django.utils.text import slugify

from catalog.models import Entry
from guides.models import Guide, Progress
from portal.audit import audit_record
from portal.errors import NotAllowed, PortalError
from portal.models import Team
from portal.permissions import is_keeper

CONTENT_DIR = Path(__file__).resolve().parent / "content"
FENCE = re.compile(r"^\s*(```|~~~)")


def split_sections(body: str) -> tuple[str, list[tuple[str, str]]]:
    """(intro, [(heading, text)]) split on '## ' lines outside code fences."""
    intro: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    in_fence = False
    for line in (body or "").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        if not in_fence and line.startswith("## "):
            sections.append((line[3:].strip(), []))
            continue
        (sections[-1][1] if sections else intro).append(line)
    return "\n".join(intro).strip(), [(title, "\n".join(lines).strip()) for title, lines in sections]


def steps_from_body(body: str) -> list[dict]:
    """The steps of a guide: one per '## ' section, each with an id stable while its heading stays."""
    steps, seen = [], set()
    for title, _ in split_sections(body)[1]:
        base = slugify(title)[:90] or "step"
        step_id, n = base, 2
        while step_id in seen:
            step_id, n = f"{base}-{n}", n + 1
        seen.add(step_id)
        steps.append({"id": step_id, "title": title})
    return steps


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unpublished: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.unpublished)


def _fields_from_file(path: Path, root: Path) -> dict:
    post = frontmatter.loads(path.read_text(encoding="utf-8"))
    meta = post.metadata
    if not meta.get("title"):
        raise ValueError("front matter has no 'title'")
    kind = meta.get("kind", "guide")
    if kind not in Guide.Kind.values:
        raise ValueError(f"kind must be 'guide' or 'article', not {kind!r}")
    reviewed = meta.get("reviewed") or date.today()
    if isinstance(reviewed, str):
        reviewed = date.fromisoformat(reviewed)
    return {
        "slug": meta.get("slug") or slugify(path.stem),
        "title": str(meta["title"]),
        "kind": kind,
        "summary": str(meta.get("summary", "")),
        "body": post.content,
        "owner": str(meta.get("owner", "")),
        "reviewed_at": reviewed,
        "review_every_days": int(meta.get("review_every_days", 180)),
        "tags": [str(t) for t in meta.get("tags", [])],
        "journey_order": meta.get("journey"),
        "related": [str(s) for s in meta.get("related", [])],
        "source_path": str(path.relative_to(root)),
    }


def guides_sync(*, directory: Path = CONTENT_DIR) -> SyncReport:
    """Load every markdown file of `directory` into guides. Unchanged files write nothing; removed files unpublish."""
    report = SyncReport()
    seen_paths = set()
    teams = {t.slug: t for t in Team.objects.all()}
    for path in sorted(directory.rglob("*.md")):
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        relative = str(path.relative_to(directory))
        seen_paths.add(relative)
        existing = Guide.objects.filter(source_path=relative).first()
        if existing and existing.source_hash == digest and existing.published:
            report.unchanged.append(existing.slug)
            continue
        try:
            data = _fields_from_file(path, directory)
        except Exception as exc:  # a bad file must not stop the others
            report.errors.append(f"{relative}: {exc}")
            continue
        owner = data.pop("owner")
        related = data.pop("related")
        data["owner_team"] = teams.get(owner)
        data["owner_label"] = "" if owner in teams else owner
        data["steps"] = steps_from_body(data["body"]) if data["kind"] == Guide.Kind.GUIDE else []
        data["source_hash"], data["published"] = digest, True
        with transaction.atomic():
            guide = existing or Guide.objects.filter(slug=data["slug"]).first()
            if guide is None:
                guide = Guide.objects.create(**data)
                report.created.append(guide.slug)
            else:
                for key, value in data.items():
                    setattr(guide, key, value)
                guide.save()
                report.updated.append(guide.slug)
            guide.related_entries.set(Entry.objects.filter(slug__in=related))
    for guide in Guide.objects.exclude(source_path="").exclude(source_path__in=seen_paths).filter(published=True):
        guide.published = False
        guide.save(update_fields=["published", "updated_at"])
        report.unpublished.append(guide.slug)
    return report


def guide_save(*, user, guide: Guide | None = None, data: dict, request=None) -> Guide:
    """A Keeper writes or edits a guide in the portal. Guides from files are edited in git instead."""
    if not is_keeper(user):
        raise NotAllowed("Only Keepers write guides in the portal.")
    if guide is not None and guide.source_path:
        raise PortalError(
            f"This guide comes from guides/content/{guide.source_path}; change it there, in git, so the "
            "next sync keeps your edit.",
            code="docs_as_code",
        )
    fields = {
        key: data[key]
        for key in ("title", "kind", "summary", "body", "tags", "review_every_days", "journey_order", "owner_team")
        if key in data
    }
    with transaction.atomic():
        if guide is None:
            slug = data.get("slug") or slugify(fields["title"])[:80]
            if Guide.objects.filter(slug=slug).exists():
                raise PortalError(
                    f"A guide with the address '{slug}' exists already; choose another title or slug.",
                    code="duplicate_slug",
                    fields={"slug": "Taken."},
                )
            guide = Guide(slug=slug)
        for key, value in fields.items():
            setattr(guide, key, value)
        guide.steps = steps_from_body(guide.body) if guide.kind == Guide.Kind.GUIDE else []
        guide.reviewed_at, guide.updated_by = date.today(), user
        guide.save()
        audit_record(actor=user, action="guide.save", target=guide, request=request)
    return guide


def guide_mark_reviewed(*, user, guide: Guide, request=None) -> Guide:
    """A Keeper confirms the guide is still right; its review clock starts again."""
    if not is_keeper(user):
        raise NotAllowed("Only Keepers review guides.")
    guide.reviewed_at, guide.updated_by = date.today(), user
    guide.save(update_fields=["reviewed_at", "updated_by", "updated_at"])
    audit_record(actor=user, action="guide.review", target=guide, request=request)
    return guide


def progress_set(*, user, guide: Guide, step_id: str, done: bool) -> Progress:
    """Tick or untick one step for this reader."""
    if step_id not in guide.step_ids:
        raise PortalError(
            "This guide has no such step; reload the page, the guide may have changed.",
            code="unknown_step",
            status_code=404,
        )
    with transaction.atomic():
        progress, _ = Progress.objects.select_for_update().get_or_create(user=user, guide=guide)
        steps = [s for s in progress.steps_done if s in guide.step_ids and s != step_id]
        if done:
            steps.append(step_id)
        progress.steps_done = [s for s in guide.step_ids if s in steps]
        progress.save()
    return progress
