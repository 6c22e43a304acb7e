"""Prices Keepers set, team budgets, and usage recorded by day from the lifecycle."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from catalog.models import Template
from portal.models import Team

ZERO = Decimal("0")


class Price(models.Model):
    """What one running resource of a template (and size) costs. Size "" is every size without its own price."""

    template = models.ForeignKey(Template, on_delete=models.CASCADE, related_name="prices")
    size = models.CharField(
        max_length=60, blank=True, help_text="A profile name (gpu-1), or '2-gpu' for local GPUs; empty: any size."
    )
    per_hour = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
        help_text="Per hour while it runs (notebooks, jobs).",
    )
    per_gb_day = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
        help_text="Per GB of storage and day while it exists (buckets, databases, notebook volumes).",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["template", "size"], name="usage_price_template_size")]
        ordering = ["template__name", "size"]

    def __str__(self):
        return f"{self.template.slug} {self.size or '(any size)'}"


class Budget(models.Model):
    """A team's monthly budget; past it, new requests are refused when `refuse_over` is on."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="budget")
    monthly = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(ZERO)])
    refuse_over = models.BooleanField(default=False, help_text="Refuse new requests once the month's budget is spent.")

    def __str__(self):
        return f"{self.team.slug}: {self.monthly}"


class BudgetWarning(models.Model):
    """A warning given once per team, month and level (80 or 100 %)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()
    level = models.PositiveSmallIntegerField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "month", "level"], name="usage_budgetwarning_once"),
        ]

    def __str__(self):
        return f"{self.team_id} {self.month:%Y-%m} {self.level} %"


class Meter(models.Model):
    """A resource's running meter: what it holds, its prices, and up to when it has been counted."""

    resource = models.OneToOneField("provisioning.Resource", on_delete=models.CASCADE, related_name="meter")
    counted_until = models.DateTimeField()
    running = models.BooleanField(default=False, help_text="Compute counts only while running.")
    storing = models.BooleanField(default=False, help_text="Storage counts from ready until deleted.")
    gpus = models.PositiveIntegerField(default=0)
    cpus = models.DecimalField(max_digits=8, decimal_places=2, default=ZERO)
    memory_gb = models.DecimalField(max_digits=10, decimal_places=2, default=ZERO)
    storage_gb = models.PositiveIntegerField(default=0)
    per_hour = models.DecimalField(max_digits=10, decimal_places=4, default=ZERO)
    per_gb_day = models.DecimalField(max_digits=10, decimal_places=4, default=ZERO)

    def __str__(self):
        return f"meter of {self.resource_id}"


class UsageDay(models.Model):
    """What one resource used on one day (UTC), with its cost at the prices of the time."""

    day = models.DateField(db_index=True)
    resource = models.ForeignKey("provisioning.Resource", on_delete=models.CASCADE, related_name="usage_days")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="usage_days")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_days")
    kind = models.CharField(max_length=20)
    gpu_hours = models.FloatField(default=0)
    cpu_hours = models.FloatField(default=0)
    memory_gb_hours = models.FloatField(default=0)
    storage_gb_days = models.FloatField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=4, default=ZERO)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "resource"], name="usage_usageday_once")]
        indexes = [models.Index(fields=["team", "day"])]

    def __str__(self):
        return f"{self.day} {self.resource_id}"
