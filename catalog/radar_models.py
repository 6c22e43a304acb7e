"""The technology radar and the acceptance procedure: proposals, six scored criteria, votes, ring history."""

from django.conf import settings
from django.db import models

from catalog.models import Entry, Template
from portal.models import Team


class Quadrant(models.TextChoices):
    TECHNIQUES = "techniques", "Techniques"
    TOOLS = "tools", "Tools"
    PLATFORMS = "platforms", "Platforms"
    LANGUAGES = "languages-and-frameworks", "Languages and frameworks"


class Ring(models.TextChoices):
    ADOPT = "adopt", "Adopt"
    TRIAL = "trial", "Trial"
    ASSESS = "assess", "Assess"
    HOLD = "hold", "Hold"


RING_ORDER = [Ring.ADOPT, Ring.TRIAL, Ring.ASSESS, Ring.HOLD]
RING_COLORS = {Ring.ADOPT: "#5ba300", Ring.TRIAL: "#009eb0", Ring.ASSESS: "#c7ba00", Ring.HOLD: "#e09b96"}

# The brief's procedure of acceptance: what each criterion asks.
CRITERIA = {
    "market_presence": ("Market presence", "How long has it been on the market?"),
    "relevance": ("Relevance", "Is it still actively used and supported in the industry?"),
    "integration": ("Integration", "Can it be added as an extension without altering the platform's core?"),
    "tested": ("Tested by a team", "Has at least one team tried it for real, and what did they find?"),
    "essentiality": ("Essentiality", "Do teams need it, or is something we already run good enough?"),
    "consensus": ("Consensus", "Do the Keepers and the teams that would use it agree?"),
}


class Technology(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(max_length=5000, blank=True, help_text="What it is, in plain words. Markdown.")
    quadrant = models.CharField(max_length=30, choices=Quadrant.choices)
    ring = models.CharField(max_length=10, choices=Ring.choices, blank=True, help_text="Empty until decided.")
    links = models.JSONField(default=list, blank=True, help_text='[{"title": ..., "url": ...}]')
    entry = models.ForeignKey(Entry, null=True, blank=True, on_delete=models.SET_NULL, related_name="technologies")
    template = models.ForeignKey(
        Template, null=True, blank=True, on_delete=models.SET_NULL, related_name="technologies"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "catalog"
        ordering = ["name"]
        verbose_name_plural = "technologies"

    def __str__(self):
        return self.name


class Proposal(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Being assessed"
        DECIDED = "decided", "Decided"
        WITHDRAWN = "withdrawn", "Withdrawn"

    technology = models.ForeignKey(Technology, on_delete=models.CASCADE, related_name="proposals")
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    tried_by = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    findings = models.TextField(max_length=5000, blank=True, help_text="What the team that tried it found.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    decided_ring = models.CharField(max_length=10, choices=Ring.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "catalog"
        ordering = ["-created_at"]

    def __str__(self):
        return f"Proposal: {self.technology}"


class Score(models.Model):
    """One Keeper's score (0 to 5) of one criterion, with a short justification."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="scores")
    keeper = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    criterion = models.CharField(max_length=20, choices=[(k, v[0]) for k, v in CRITERIA.items()])
    value = models.PositiveSmallIntegerField()
    justification = models.CharField(max_length=500)

    class Meta:
        app_label = "catalog"
        constraints = [models.UniqueConstraint(fields=["proposal", "keeper", "criterion"], name="score_unique")]

    def __str__(self):
        return f"{self.keeper}: {self.criterion} {self.value}"


class Vote(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="votes")
    keeper = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    ring = models.CharField(max_length=10, choices=Ring.choices)
    reason = models.CharField(max_length=1000, blank=True)
    at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "catalog"
        constraints = [models.UniqueConstraint(fields=["proposal", "keeper"], name="vote_unique")]

    def __str__(self):
        return f"{self.keeper}: {self.ring}"


class ProposalComment(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    body = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "catalog"
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"Comment by {self.author}"


class RingMove(models.Model):
    """Every placement of a technology in a ring, kept as its history (the radar's timeline)."""

    technology = models.ForeignKey(Technology, on_delete=models.CASCADE, related_name="moves")
    ring = models.CharField(max_length=10, choices=Ring.choices)
    previous_ring = models.CharField(max_length=10, choices=Ring.choices, blank=True)
    date = models.DateField()
    reasons = models.TextField(max_length=5000)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    proposal = models.ForeignKey(Proposal, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "catalog"
        ordering = ["-date", "-id"]

    def __str__(self):
        return f"{self.technology}: {self.ring} on {self.date}"

    @property
    def moved(self) -> int:
        """Backstage's `moved`: 1 moved in (towards adopt), -1 moved out, 0 new or unchanged."""
        if not self.previous_ring or self.previous_ring == self.ring:
            return 0
        return 1 if RING_ORDER.index(self.ring) < RING_ORDER.index(self.previous_ring) else -1
