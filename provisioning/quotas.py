"""What a team uses against its quotas."""

from __future__ import annotations

from dataclasses import dataclass

from provisioning.drivers import DriverError, get_driver
from provisioning.models import Resource
from provisioning.states import ACTIVE_STATES, GPU_HOLDING_STATES  # noqa: F401  (GPU_HOLDING_STATES re-exported)

QUOTA_FIELDS = {
    "notebooks": ("max_notebooks", "notebooks"),
    "gpus": ("max_gpus", "GPUs"),
    "storage_gb": ("max_storage_gb", "GB of storage"),
    "databases": ("max_databases", "databases"),
}


def resource_usage(
    driver_name: str, kind: str, parameters: dict, state: str, config: dict | None = None
) -> dict[str, int]:
    try:
        usage = dict(get_driver(driver_name, kind).usage(parameters, config))
    except DriverError:
        usage = {}
    if state not in GPU_HOLDING_STATES:
        usage.pop("gpus", None)
    return usage


def team_usage(team, *, exclude=None) -> dict[str, int]:
    """Sum of what the team's live resources count, in one query."""
    totals = dict.fromkeys(QUOTA_FIELDS, 0)
    rows = Resource.objects.filter(team=team, state__in=ACTIVE_STATES)
    if exclude is not None:
        rows = rows.exclude(pk=exclude.pk)
    values = rows.values_list("driver", "kind", "parameters", "state", "template__config")
    for driver_name, kind, parameters, state, config in values:
        for key, value in resource_usage(driver_name, kind, parameters, state, config).items():
            totals[key] = totals.get(key, 0) + value
    return totals


@dataclass
class QuotaLine:
    key: str
    label: str
    used: int
    limit: int

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.used / self.limit)) if self.limit else 100


def quota_summary(team) -> list[QuotaLine]:
    usage = team_usage(team)
    return [
        QuotaLine(key, label, usage.get(key, 0), getattr(team, field)) for key, (field, label) in QUOTA_FIELDS.items()
    ]


def quota_excess(team, adding: dict[str, int], *, exclude=None) -> str | None:
    """None when `adding` fits in the team's quotas, else a sentence with the numbers."""
    usage = team_usage(team, exclude=exclude)
    for key, amount in adding.items():
        if not amount or key not in QUOTA_FIELDS:
            continue
        field, label = QUOTA_FIELDS[key]
        limit = getattr(team, field)
        if usage.get(key, 0) + amount > limit:
            return (
                f"This would go over your team's quota: {team.name} may use {limit} {label} and uses "
                f"{usage.get(key, 0)} now; this request needs {amount} more. Delete something you no longer need, "
                "or ask the Keepers for a larger quota."
            )
    return None
