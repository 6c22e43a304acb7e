"""Reads of guides shared by pages, the home page and the API."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

from django.core.cache import cache
from django.db.models import DateField, ExpressionWrapper, F

from guides.models import Guide, Progress
from guides.services import split_sections
from portal.errors import NotFound
from portal.markdown import render_markdown


def guide_list(*, kind: str = "", tag: str = ""):
    guides = Guide.objects.filter(published=True).select_related("owner_team").defer("body")
    if kind:
        guides = guides.filter(kind=kind)
    if tag:
        guides = guides.filter(tags__contains=[tag])
    return guides.order_by(F("journey_order").asc(nulls_last=True), "title")


def guide_get(*, slug: str) -> Guide:
    guide = Guide.objects.filter(slug=slug, published=True).select_related("owner_team").first()
    if guide is None:
        raise NotFound("No such guide; it may have been renamed. Try the search.")
    return guide


def progress_map(*, user, guide_ids) -> dict[int, list[str]]:
    """{guide id: steps done} for one reader, in one query."""
    if not user.is_authenticated:
        return {}
    return dict(Progress.objects.filter(user=user, guide_id__in=list(guide_ids)).values_list("guide_id", "steps_done"))


def journey(*, user) -> list[dict]:
    """The onboarding journey: the guides in order, with this reader's progress and the next step."""
    guides = list(
        Guide.objects.filter(published=True, journey_order__isnull=False).defer("body").order_by("journey_order")
    )
    done = progress_map(user=user, guide_ids=[g.id for g in guides])
    items = []
    for guide in guides:
        ticked = set(done.get(guide.id, []))
        total = len(guide.steps)
        next_step = next((s for s in guide.steps if s["id"] not in ticked), None)
        items.append(
            {
                "guide": guide,
                "done": len(ticked & set(guide.step_ids)),
                "total": total,
                "complete": total > 0 and next_step is None,
                "next_step": next_step,
            }
        )
    current = next((item for item in items if not item["complete"]), None)
    if current:
        current["current"] = True
    return items


def stale_guides():
    """Guides past their review date, oldest first (compared in the database, not in Python)."""
    due = ExpressionWrapper(F("reviewed_at") + timedelta(days=1) * F("review_every_days"), output_field=DateField())
    return list(
        Guide.objects.filter(published=True)
        .annotate(due=due)
        .filter(due__lt=date.today())
        .select_related("owner_team")
        .defer("body")
        .order_by("reviewed_at")
    )


def recently_updated(limit: int = 5):
    return Guide.objects.filter(published=True).defer("body").order_by("-updated_at")[:limit]


def rendered(guide: Guide) -> dict:
    """The guide as HTML: intro, then one block per step, and a table of contents. Cached per version."""
    key = f"guide-html:{guide.id}:{guide.updated_at.timestamp()}"
    result = cache.get(key)
    if result is None:
        intro, sections = split_sections(guide.body)
        steps = []
        for (title, text), step in zip(sections, guide.steps or [None] * len(sections), strict=False):
            steps.append({"id": step["id"] if step else None, "title": title, "html": render_markdown(text).html})
        whole = render_markdown(guide.body)
        result = {"intro": render_markdown(intro).html, "steps": steps, "toc": whole.toc}
        cache.set(key, result, 3600)
    return result


TAG_CLOUD_KEY = "guides:tag-cloud:{limit}"


def tag_cloud(limit: int = 30) -> list[str]:
    """The most used tags of published guides; cached for minutes and dropped when a guide changes (it reads every
    guide: 10,000 of them in the issue 19 benchmark)."""
    from catalog.selectors import cached_value

    return cached_value(TAG_CLOUD_KEY.format(limit=limit), lambda: _tag_cloud(limit))


def _tag_cloud(limit: int) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t, count(*) FROM guides_guide, unnest(tags) t WHERE published GROUP BY t "
            "ORDER BY count(*) DESC, t LIMIT %s",
            [limit],
        )
        return [row[0] for row in cursor.fetchall()]


def forget_tag_cloud(**kwargs) -> None:
    """Drop the cached tag cloud (connected to Guide's post_save and post_delete)."""
    with contextlib.suppress(Exception):  # a cache that does not answer: the cloud lives out its few minutes
        cache.delete(TAG_CLOUD_KEY.format(limit=30))
