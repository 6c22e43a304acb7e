"""Step-by-step guides and best-practice articles (docs as code in guides/content/), and readers' progress."""

from datetime import date, timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models

from catalog.models import Entry, search_vector_expression
from portal.models import Team, TimeStamped


class Guide(TimeStamped):
    class Kind(models.TextChoices):
        GUIDE = "guide", "Guide"
        ARTICLE = "article", "Best-practice article"

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=160)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.GUIDE, db_index=True)
    summary = models.CharField(max_length=300, blank=True)
    body = models.TextField(help_text="Markdown. In a guide, each '## ' section is one step.")
    steps = models.JSONField(default=list, blank=True, editable=False, help_text="[{id, title}] from the ## sections.")
    owner_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="guides")
    owner_label = models.CharField(max_length=120, blank=True)
    reviewed_at = models.DateField(default=date.today)
    review_every_days = models.PositiveIntegerField(default=180)
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    journey_order = models.PositiveIntegerField(
        null=True, blank=True, help_text="Position in the onboarding journey on the home page; empty: not in it."
    )
    related_entries = models.ManyToManyField(Entry, blank=True, related_name="guides")
    source_path = models.CharField(max_length=255, blank=True, help_text="File in guides/content/ it is synced from.")
    source_hash = models.CharField(max_length=64, blank=True, editable=False)
    published = models.BooleanField(default=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    search_vector = models.GeneratedField(
        expression=search_vector_expression(("title", "A"), ("summary", "B"), ("body", "C")),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["title"]
        indexes = [
            GinIndex(fields=["search_vector"]),
            GinIndex(fields=["tags"]),
            models.Index(fields=["kind", "published", "title"]),
            # Issue 19: the guide list's order (journey first, then by title; ASC puts NULLs last as the list wants)
            # read from an index at 10,000 guides, with and without the kind filter of /articles/.
            models.Index(fields=["journey_order", "title"], name="guides_guide_order_i19"),
            models.Index(fields=["kind", "journey_order", "title"], name="guides_guide_kind_order_i19"),
        ]

    def __str__(self):
        return self.title

    @property
    def review_due(self) -> date:
        return self.reviewed_at + timedelta(days=self.review_every_days)

    @property
    def is_stale(self) -> bool:
        return date.today() > self.review_due

    @property
    def owner_display(self) -> str:
        return self.owner_team.name if self.owner_team_id else (self.owner_label or "the Keepers")

    @property
    def step_ids(self) -> list[str]:
        return [step["id"] for step in self.steps]


class Progress(models.Model):
    """Which steps of a guide a reader has ticked."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="guide_progress")
    guide = models.ForeignKey(Guide, on_delete=models.CASCADE, related_name="progress")
    steps_done = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "guide"], name="progress_unique_user_guide")]

    def __str__(self):
        return f"{self.user} on {self.guide}: {len(self.steps_done)} steps"
