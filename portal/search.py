"""Site-wide search: Postgres full-text search over catalog entries, guides, articles and templates, plus the
user's own resources by name. One query per kind of thing, whatever the amount of data."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db.models import F, TextField, Value
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe

from catalog.models import Entry
from guides.models import Guide
from portal.permissions import scope_to_teams
from provisioning.models import Resource, State
from provisioning.selectors import template_list

START, STOP = "\x02", "\x03"
MAX_TERMS = 8
# Guides are where a newcomer should land first; catalog entries next.
BOOST = {"guide": 1.3, "article": 1.2, "entry": 1.0, "template": 0.9}


@dataclass
class Hit:
    kind: str
    label: str
    title: str
    url: str
    snippet: str
    rank: float


def build_query(text: str) -> SearchQuery | None:
    """Every word must match, each as a prefix ('noteb' finds 'notebooks'), stemmed in English."""
    terms = re.findall(r"[^\W_]+", (text or "").lower())[:MAX_TERMS]
    if not terms:
        return None
    return SearchQuery(" & ".join(f"{term}:*" for term in terms), search_type="raw", config="english")


def _snippet(raw: str | None) -> str:
    text = re.sub(r"[#`*_>|]+", " ", raw or "")
    text = re.sub(r"\s+", " ", text).strip()
    return mark_safe(escape(text).replace(START, "<mark>").replace(STOP, "</mark>"))  # noqa: S308 (escaped first)


def _headline(query):
    return SearchHeadline(
        Concat("summary", Value(" \u2014 "), "body", output_field=TextField()),
        query,
        config="english",
        start_sel=START,
        stop_sel=STOP,
        max_words=30,
        min_words=12,
        max_fragments=2,
        fragment_delimiter=" … ",
    )


def search(*, user, text: str, limit: int = 20) -> list[Hit]:
    query = build_query(text)
    if query is None:
        return []
    hits: list[Hit] = []
    rank = SearchRank(F("search_vector"), query)
    guides = (
        Guide.objects.filter(published=True, search_vector=query)
        .annotate(rank=rank, snippet=_headline(query))
        .order_by("-rank", "title")
        .values("slug", "title", "kind", "rank", "snippet")[:limit]
    )
    for g in guides:
        hits.append(
            Hit(
                g["kind"],
                "Guide" if g["kind"] == "guide" else "Article",
                g["title"],
                reverse("guides:detail", args=[g["slug"]]),
                _snippet(g["snippet"]),
                g["rank"] * BOOST[g["kind"]],
            )
        )
    entries = (
        Entry.objects.filter(search_vector=query)
        .annotate(rank=rank, snippet=_headline(query))
        .order_by("-rank", "name")
        .values("slug", "name", "kind", "rank", "snippet")[:limit]
    )
    for e in entries:
        hits.append(
            Hit(
                "entry",
                e["kind"].capitalize() if e["kind"] != "api" else "API",
                e["name"],
                reverse("catalog:detail", args=[e["slug"]]),
                _snippet(e["snippet"]),
                e["rank"] * BOOST["entry"],
            )
        )
    templates = (
        template_list()
        .filter(search_vector=query)
        .annotate(rank=rank, snippet=_headline(query))
        .order_by("-rank")
        .values("slug", "name", "rank", "snippet")[:limit]
    )
    for t in templates:
        hits.append(
            Hit(
                "template",
                "Self-service form",
                t["name"],
                reverse("provisioning:new", args=[t["slug"]]),
                _snippet(t["snippet"]),
                t["rank"] * BOOST["template"],
            )
        )
    terms = re.findall(r"[^\W_]+", text.lower())[:MAX_TERMS]
    resources = scope_to_teams(Resource.objects.exclude(state=State.DELETED), user)
    for term in terms:
        resources = resources.filter(name__icontains=term)
    for r in resources.select_related("team").order_by("-created_at")[:5]:
        hits.append(
            Hit(
                "resource",
                "Your resource",
                r.name,
                reverse("provisioning:detail", args=[r.pk]),
                escape(f"{r.get_kind_display()} in {r.team.name}, {r.get_state_display().lower()}"),
                10.0,
            )
        )
    hits.sort(key=lambda hit: (-hit.rank, hit.title))
    return hits[:limit]
