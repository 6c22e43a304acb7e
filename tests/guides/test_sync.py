import pytest
from django.core.management import call_command

from guides.models import Guide
from guides.services import CONTENT_DIR, guides_sync, steps_from_body

pytestmark = pytest.mark.django_db

GUIDE = """---
title: Test guide
slug: test-guide
summary: For tests.
owner: team-a
reviewed: 2026-01-01
review_every_days: 30
tags: [testing]
journey: 1
---
Intro text.

## First step

Do this:

```bash
## not a step: a comment inside code
echo hi
```

## Second step

Then that.
"""


def test_steps_are_the_level_two_sections_outside_code():
    assert steps_from_body(GUIDE.split("---", 2)[2]) == [
        {"id": "first-step", "title": "First step"},
        {"id": "second-step", "title": "Second step"},
    ]
    assert steps_from_body("## Same\n\n## Same\n") == [
        {"id": "same", "title": "Same"},
        {"id": "same-2", "title": "Same"},
    ]


def test_sync_twice_changes_nothing_and_edits_update(tmp_path, team_a):
    (tmp_path / "test.md").write_text(GUIDE)
    first = guides_sync(directory=tmp_path)
    assert first.created == ["test-guide"]
    guide = Guide.objects.get(slug="test-guide")
    assert guide.owner_team == team_a and guide.journey_order == 1 and guide.tags == ["testing"]
    assert [s["id"] for s in guide.steps] == ["first-step", "second-step"]
    stamp = guide.updated_at
    second = guides_sync(directory=tmp_path)
    assert second.unchanged == ["test-guide"] and not second.changed
    assert Guide.objects.get(slug="test-guide").updated_at == stamp

    (tmp_path / "test.md").write_text(GUIDE.replace("Then that.", "Then that.\n\n## Third step\n\nDone."))
    third = guides_sync(directory=tmp_path)
    assert third.updated == ["test-guide"]
    assert len(Guide.objects.get(slug="test-guide").steps) == 3


def test_removed_file_unpublishes_and_bad_files_are_reported(tmp_path):
    (tmp_path / "test.md").write_text(GUIDE)
    (tmp_path / "bad.md").write_text("---\nkind: poem\n---\nno title")
    report = guides_sync(directory=tmp_path)
    assert report.errors and report.errors[0].startswith("bad.md: front matter has no 'title'")
    (tmp_path / "test.md").unlink()
    assert guides_sync(directory=tmp_path).unpublished == ["test-guide"]
    assert not Guide.objects.get(slug="test-guide").published


def test_shipped_content_has_at_least_10_guides_and_articles(capsys):
    call_command("guides_sync", verbosity=1)
    assert "0 with errors" in capsys.readouterr().out
    assert Guide.objects.filter(published=True).count() >= 10
    assert Guide.objects.filter(kind="article").count() >= 4
    slugs = set(Guide.objects.values_list("slug", flat=True))
    assert {
        "getting-started",
        "first-notebook",
        "gpu-training-job",
        "storing-data-in-a-bucket",
        "using-your-database",
        "choosing-storage",
        "gpu-training-best-practices",
        "reproducible-experiments",
        "handling-credentials",
        "asking-the-keepers",
    } <= slugs
    assert list(
        Guide.objects.filter(journey_order__isnull=False).order_by("journey_order").values_list("slug", flat=True)
    )[:2] == ["getting-started", "first-notebook"]
    call_command("guides_sync", verbosity=1)
    assert "0 created, 0 updated" in capsys.readouterr().out
    assert CONTENT_DIR.is_dir()
