"""Writes with rules for the catalog: Keepers' edits (audited, with a diff) and Backstage import/export."""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass, field

import yaml
from django.db import transaction
from django.utils.text import slugify

from catalog.models import Entry, EntryKind, Lifecycle
from portal.audit import audit_record
from portal.errors import NotAllowed, PortalError
from portal.models import Team
from portal.permissions import is_keeper
from portal.slugs import slug_for

EDITABLE = ["name", "kind", "summary", "body", "owner_team", "owner_label", "tags", "lifecycle", "links", "featured"]


def _comparable(entry: Entry, name: str):
    value = getattr(entry, name)
    return value.slug if isinstance(value, Team) else value


def entry_save(*, user, entry: Entry | None = None, data: dict, request=None) -> Entry:
    """Create or change a catalog entry. Only Keepers; every change is recorded with what changed."""
    if not is_keeper(user):
        raise NotAllowed("Only Keepers change the catalog. Suggest a change to them instead.")
    creating = entry is None
    with transaction.atomic():
        if creating:
            name = (data.get("name") or "").strip()
            if not name and not data.get("slug"):
                raise PortalError("Give the entry a name.", code="invalid", fields={"name": "Required."})
            slug = data.get("slug") or slug_for(name, prefix="entry", max_length=80)
            if Entry.objects.filter(slug=slug).exists():
                raise PortalError(
                    f"An entry with the address '{slug}' exists already; choose another name.",
                    code="duplicate_slug",
                    fields={"slug": "Taken."},
                    status_code=409,
                )
            entry = Entry(slug=slug)
        # Read what is stored: a form may already have changed this instance in memory.
        stored = Entry.objects.filter(pk=entry.pk).first() if not creating else None
        before = {name: _comparable(stored, name) for name in EDITABLE} if stored else {}
        for name in EDITABLE:
            if name in data:
                setattr(entry, name, data[name])
        entry.updated_by = user
        entry.save()
        if "related_templates" in data:
            entry.related_templates.set(data["related_templates"])
        after = {name: _comparable(entry, name) for name in EDITABLE}
        changed = sorted(name for name in EDITABLE if before.get(name) != after[name]) if not creating else []
        audit_record(
            actor=user,
            action="catalog.create" if creating else "catalog.update",
            target=entry,
            request=request,
            data={"changed": changed},
        )
    return entry


def entry_delete(*, user, entry: Entry, request=None) -> None:
    if not is_keeper(user):
        raise NotAllowed("Only Keepers change the catalog.")
    audit_record(actor=user, action="catalog.delete", target=entry, request=request)
    entry.delete()


# Backstage ---------------------------------------------------------------------------------------------------------

COMPONENT_TYPES = {
    "service": EntryKind.SERVICE,
    "website": EntryKind.SERVICE,
    "library": EntryKind.LIBRARY,
    "tool": EntryKind.TOOL,
    "documentation": EntryKind.LINK,
    "link": EntryKind.LINK,
}
KIND_TO_BACKSTAGE = {
    EntryKind.SERVICE: ("Component", "service"),
    EntryKind.TOOL: ("Component", "tool"),
    EntryKind.LIBRARY: ("Component", "library"),
    EntryKind.LINK: ("Component", "documentation"),
    EntryKind.API: ("API", "openapi"),
    EntryKind.DATASET: ("Resource", "dataset"),
}
SUPPORTED_KINDS = {"Component", "API", "Resource", "System"}
LINK_TYPES = {"docs", "source", "dashboard", "support", "other"}


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _documents(text: str):
    """(document number, first line, text) for each YAML document, so one bad document cannot hide the rest."""
    number, start, lines = 1, 1, []
    for index, line in enumerate(text.splitlines(), start=1):
        if re.match(r"^---\s*$", line):
            if any(item.strip() and not item.lstrip().startswith("#") for item in lines):
                yield number, start, "\n".join(lines)
                number += 1
            start, lines = index + 1, []
        else:
            lines.append(line)
    if any(item.strip() and not item.lstrip().startswith("#") for item in lines):
        yield number, start, "\n".join(lines)


def _owner(ref: str) -> str:
    """'group:default/keepers' -> 'keepers'."""
    return ref.split(":", 1)[-1].split("/", 1)[-1] if ref else ""


def _entry_fields(doc: dict, teams: dict[str, Team]) -> tuple[str, dict]:
    kind = doc.get("kind")
    metadata, spec = doc.get("metadata") or {}, doc.get("spec") or {}
    if not isinstance(metadata, dict) or not isinstance(spec, dict):
        raise ValueError("metadata and spec must be mappings")
    name = metadata.get("name")
    if not name or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", str(name)):
        raise ValueError(f"metadata.name {name!r} is missing or not a valid Backstage name")
    namespace = metadata.get("namespace", "default")
    spec_type = str(spec.get("type", "")).lower()
    if kind == "Component":
        entry_kind = COMPONENT_TYPES.get(spec_type, EntryKind.SERVICE)
    elif kind == "API":
        entry_kind = EntryKind.API
    elif kind == "Resource":
        entry_kind = EntryKind.DATASET if "data" in spec_type else EntryKind.SERVICE
    else:
        entry_kind = EntryKind.SERVICE
    lifecycle = str(spec.get("lifecycle", "production")).lower()
    if lifecycle not in Lifecycle.values:
        lifecycle = Lifecycle.EXPERIMENTAL
    owner = _owner(str(spec.get("owner", "")))
    links = []
    for link in metadata.get("links") or []:
        if isinstance(link, dict) and str(link.get("url", "")).startswith(("https://", "http://")):
            link_type = str(link.get("type", "other")).lower()
            links.append(
                {
                    "title": str(link.get("title") or link["url"]),
                    "url": str(link["url"]),
                    "type": link_type if link_type in LINK_TYPES else "other",
                }
            )
    annotations = metadata.get("annotations") or {}
    annotations = {**annotations, "backstage.io/kind": kind, "backstage.io/type": spec_type}
    fields = {
        "name": str(metadata.get("title") or name),
        "kind": entry_kind,
        "summary": str(metadata.get("description", ""))[:300],
        "body": str(annotations.get("portal/body", metadata.get("description", ""))),
        "tags": [str(t).lower()[:40] for t in metadata.get("tags") or []],
        "lifecycle": lifecycle,
        "links": links,
        "owner_team": teams.get(owner),
        "owner_label": "" if owner in teams else owner,
        "annotations": annotations,
        "system": str(spec.get("system", "")),
        "featured": str(annotations.get("portal/featured", "")).lower() == "true",
    }
    return f"{kind}:{namespace}/{name}".lower(), {**fields, "slug_hint": slugify(str(name))[:80]}


def _read(source: str) -> str:
    if source.startswith(("https://", "http://")):
        with urllib.request.urlopen(source, timeout=30) as response:  # noqa: S310 (scheme checked above)
            return response.read().decode("utf-8")
    with open(source, encoding="utf-8") as handle:
        return handle.read()


def catalog_import(
    *, source: str | None = None, text: str | None = None, user=None, update_existing: bool = True
) -> ImportReport:
    """Read Backstage catalog-info documents into entries. Importing the same file twice changes nothing.

    With update_existing=False, entries already in the portal are left as they are (Keepers' edits win).
    """
    from catalog.models import Template

    report = ImportReport()
    text = _read(source) if text is None else text
    teams = {t.slug: t for t in Team.objects.all()}
    for number, line, chunk in _documents(text):
        where = f"document {number} (line {line})"
        try:
            doc = yaml.safe_load(chunk)
        except yaml.YAMLError as exc:
            report.problems.append(f"{where}: not valid YAML: {str(exc).splitlines()[0]}")
            continue
        if not isinstance(doc, dict):
            report.problems.append(f"{where}: not a mapping")
            continue
        if doc.get("kind") not in SUPPORTED_KINDS:
            report.problems.append(
                f"{where}: kind {doc.get('kind')!r} is not imported (supported: {', '.join(sorted(SUPPORTED_KINDS))})"
            )
            continue
        try:
            ref, fields = _entry_fields(doc, teams)
        except ValueError as exc:
            report.problems.append(f"{where}: {exc}")
            continue
        slug_hint = fields.pop("slug_hint")
        template_slugs = [
            s.strip() for s in str(fields["annotations"].get("portal/templates", "")).split(",") if s.strip()
        ]
        with transaction.atomic():
            entry = Entry.objects.filter(backstage_ref=ref).first()
            if entry is None:
                slug = slug_hint
                if Entry.objects.filter(slug=slug).exists():
                    slug = f"{slug_hint}-{doc['kind'].lower()}"[:80]
                entry = Entry.objects.create(slug=slug, backstage_ref=ref, updated_by=user, **fields)
                if template_slugs:
                    entry.related_templates.set(Template.objects.filter(slug__in=template_slugs))
                report.created.append(entry.slug)
                continue
            current = {name: getattr(entry, name) for name in fields}
            if current == fields or not update_existing:
                report.unchanged.append(entry.slug)
                continue
            for name, value in fields.items():
                setattr(entry, name, value)
            entry.updated_by = user
            entry.save()
            report.updated.append(entry.slug)
    audit_record(
        actor=user,
        action="catalog.import",
        data={
            "source": (source or "text")[:200],
            "created": report.created[:50],
            "updated": report.updated[:50],
            "unchanged": len(report.unchanged),
            "skipped": len(report.problems),
        },
    )
    return report


def entry_to_backstage(entry: Entry) -> dict:
    kind, default_type = KIND_TO_BACKSTAGE.get(entry.kind, ("Component", "service"))
    annotations = dict(entry.annotations or {})
    kind = annotations.pop("backstage.io/kind", None) or kind
    spec_type = annotations.pop("backstage.io/type", None) or default_type
    name = entry.backstage_ref.split("/", 1)[1] if entry.backstage_ref else entry.slug
    namespace = entry.backstage_ref.split(":", 1)[1].split("/", 1)[0] if entry.backstage_ref else "default"
    if entry.body and entry.body != entry.summary:
        annotations["portal/body"] = entry.body
    if entry.featured:
        annotations["portal/featured"] = "true"
    metadata = {"name": name, "title": entry.name, "description": entry.summary}
    if namespace != "default":
        metadata["namespace"] = namespace
    if entry.tags:
        metadata["tags"] = list(entry.tags)
    if entry.links:
        metadata["links"] = [
            {"url": link["url"], "title": link.get("title", ""), "type": link.get("type", "other")}
            for link in entry.links
        ]
    if annotations:
        metadata["annotations"] = annotations
    owner = entry.owner_team.slug if entry.owner_team_id else entry.owner_label
    spec = {"type": spec_type, "lifecycle": entry.lifecycle, "owner": f"group:{owner}" if owner else "unknown"}
    if entry.system:
        spec["system"] = entry.system
    if kind == "System":
        spec.pop("type")
    return {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}


def catalog_export(entries) -> str:
    return yaml.safe_dump_all(
        [entry_to_backstage(e) for e in entries], sort_keys=False, allow_unicode=True, explicit_start=True
    )
