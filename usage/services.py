"""Usage recorded from the lifecycle itself: a meter per resource, opened and moved on by its state changes.

Compute (GPU-, CPU- and memory-hours) counts while a notebook or job runs; storage (GB-days) from the moment a
bucket, database or notebook volume is ready until it is deleted. The hourly `usage.settle` task counts what is
still running, so a day's numbers are current without waiting for the resource to stop.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from portal.audit import audit_record
from portal.errors import PortalError
from usage.models import ZERO, Budget, BudgetWarning, Meter, Price, UsageDay

logger = logging.getLogger(__name__)

COMPUTE_KINDS = {"notebook", "training_job"}
RUNNING_STATES = {"ready", "running"}
STORING_STATES = {"ready", "running", "stopping", "stopped", "starting", "failed"}
WARNING_LEVELS = (80, 100)
_QUANTITY = {"Ki": 2**-20, "Mi": 2**-10, "Gi": 1, "Ti": 2**10, "K": 1e-6, "M": 1e-3, "G": 1, "T": 1e3}


def _gb(quantity) -> Decimal:
    """A Kubernetes memory quantity ('64Gi', '512Mi') in GB."""
    text = str(quantity or "0")
    for suffix, factor in _QUANTITY.items():
        if text.endswith(suffix):
            return Decimal(str(float(text[: -len(suffix)]) * factor))
    return Decimal(str(float(text) / 2**30))


def _cores(quantity) -> Decimal:
    text = str(quantity or "0")
    return Decimal(text[:-1]) / 1000 if text.endswith("m") else Decimal(text)


def size_of(parameters: dict) -> str:
    """The size a price is set for: the Kubernetes profile, or the number of local GPUs ('1-gpu')."""
    if parameters.get("profile"):
        return str(parameters["profile"])
    if int(parameters.get("gpus") or 0):
        return f"{int(parameters['gpus'])}-gpu"
    return ""


def footprint(*, template, parameters: dict) -> dict:
    """What one resource of this template holds: GPUs, CPU cores, memory (GB) while it runs; storage (GB)."""
    profile = ((template.config or {}).get("profiles") or {}).get(parameters.get("profile") or "")
    if profile is None and parameters.get("profile"):
        from provisioning.drivers.kubernetes import profiles_of

        profile = profiles_of(template.config).get(parameters["profile"])
    compute = template.resource_kind in COMPUTE_KINDS
    if profile:
        gpus, cpus, memory = int(profile.get("gpus") or 0), _cores(profile.get("cpu")), _gb(profile.get("memory"))
    else:  # this machine's notebooks and jobs: one core unless they ask for more, memory as asked
        gpus = int(parameters.get("gpus") or 0)
        cpus = Decimal(str(parameters.get("cpus") or 1)) if compute else ZERO
        memory = Decimal(str(parameters.get("memory_gb") or 0))
    return {
        "gpus": gpus if compute else 0,
        "cpus": cpus if compute else ZERO,
        "memory_gb": memory if compute else ZERO,
        "storage_gb": int(parameters.get("storage_gb") or 0),
    }


def price_for(*, template, parameters: dict) -> tuple[Decimal, Decimal]:
    """(per hour, per GB-day) of this template and size; the template's any-size price otherwise; else zero."""
    size = size_of(parameters)
    prices = {p.size: p for p in Price.objects.filter(template=template, size__in={size, ""})}
    price = prices.get(size) or prices.get("")
    return (price.per_hour, price.per_gb_day) if price else (ZERO, ZERO)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def team_month_cost(*, team, today: date | None = None) -> Decimal:
    today = today or timezone.now().date()
    total = UsageDay.objects.filter(team=team, day__gte=_month_start(today), day__lte=today).aggregate(c=Sum("cost"))
    return total["c"] or ZERO


def estimate(*, template, parameters: dict, team) -> dict:
    """What the form shows before submitting: the price of this size, and the team's month against its budget."""
    per_hour, per_gb_day = price_for(template=template, parameters=parameters)
    size = footprint(template=template, parameters=parameters)
    hourly = per_hour if template.resource_kind in COMPUTE_KINDS else ZERO
    daily_storage = per_gb_day * size["storage_gb"]
    budget = Budget.objects.filter(team=team).first() if team else None
    return {
        "per_hour": hourly.quantize(Decimal("0.01")),
        "per_day_storage": daily_storage.quantize(Decimal("0.01")),
        "per_hour_total": (hourly + daily_storage / 24).quantize(Decimal("0.01")),
        "used": team_month_cost(team=team).quantize(Decimal("0.01")) if team else ZERO,
        "budget": budget.monthly if budget else None,
        "priced": bool(per_hour or per_gb_day),
    }


def budget_check_request(*, team) -> None:
    """Refuse a new request when the team's month is over budget and its budget says to refuse (a clear 400)."""
    budget = Budget.objects.filter(team=team, refuse_over=True).first()
    if budget is None:
        return
    spent = team_month_cost(team=team)
    if spent >= budget.monthly:
        raise PortalError(
            f"Your team has spent {spent:.2f} of its {budget.monthly:.2f} budget this month, so new requests are "
            "paused until next month. Delete what you no longer need, or ask a Keeper to raise the budget.",
            code="over_budget",
        )


def _segments(start: datetime, end: datetime):
    """[start, end) cut at UTC midnights: (day, hours) pairs."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    while start < end:
        midnight = datetime.combine(start.date() + timedelta(days=1), time(0), tzinfo=UTC)
        stop = min(end, midnight)
        yield start.date(), (stop - start).total_seconds() / 3600
        start = stop


def _accrue(meter: Meter, resource, until: datetime) -> None:
    """Add what the meter counted between `counted_until` and `until` to the resource's days."""
    if until <= meter.counted_until or not (meter.running or meter.storing):
        meter.counted_until = max(meter.counted_until, until)
        return
    for day, hours in _segments(meter.counted_until, until):
        run = hours if meter.running else 0.0
        gb_days = meter.storage_gb * hours / 24 if meter.storing else 0.0
        cost = meter.per_hour * Decimal(str(run)) + meter.per_gb_day * Decimal(str(gb_days))
        row, _ = UsageDay.objects.get_or_create(
            day=day,
            resource_id=resource.pk,
            defaults={"team_id": resource.team_id, "owner_id": resource.owner_id, "kind": resource.kind},
        )
        UsageDay.objects.filter(pk=row.pk).update(
            gpu_hours=F("gpu_hours") + meter.gpus * run,
            cpu_hours=F("cpu_hours") + float(meter.cpus) * run,
            memory_gb_hours=F("memory_gb_hours") + float(meter.memory_gb) * run,
            storage_gb_days=F("storage_gb_days") + gb_days,
            cost=F("cost") + cost.quantize(Decimal("0.0001")),
        )
    meter.counted_until = until


def usage_record(*, resource, new_state: str, at: datetime) -> None:
    """Move the resource's meter on to `at` and set what it counts from now, given the state it entered."""
    with transaction.atomic():
        meter = Meter.objects.select_for_update().filter(resource_id=resource.pk).first()
        if meter is None:
            if new_state not in RUNNING_STATES | STORING_STATES:
                return
            template = resource.template
            size = footprint(template=template, parameters=resource.parameters)
            per_hour, per_gb_day = price_for(template=template, parameters=resource.parameters)
            meter = Meter(resource_id=resource.pk, counted_until=at, per_hour=per_hour, per_gb_day=per_gb_day, **size)
        else:
            _accrue(meter, resource, at)
        meter.running = resource.kind in COMPUTE_KINDS and new_state in RUNNING_STATES
        meter.storing = meter.storage_gb > 0 and new_state in STORING_STATES
        meter.save()
    _budget_warn(team=resource.team, today=at.date())


def on_state_changed(sender, resource, old_state, new_state, **kwargs) -> None:
    usage_record(resource=resource, new_state=new_state, at=timezone.now())


def usage_settle(*, at: datetime | None = None) -> int:
    """Count what every running meter used up to `at` (the hourly task); returns how many meters moved."""
    at = at or timezone.now()
    moved = 0
    meters = Meter.objects.filter(Q(running=True) | Q(storing=True)).order_by("pk")
    for meter_id in meters.values_list("pk", flat=True):
        with transaction.atomic():
            meter = Meter.objects.select_for_update().select_related("resource").get(pk=meter_id)
            _accrue(meter, meter.resource, at)
            meter.save(update_fields=["counted_until"])
            moved += 1
    from portal.models import Team

    for team in Team.objects.filter(budget__isnull=False):
        _budget_warn(team=team, today=at.date())
    return moved


def _budget_warn(*, team, today: date) -> None:
    """Once per month and level: note that the team passed 80 % or 100 % of its budget (audit log and log line)."""
    budget = Budget.objects.filter(team=team).first()
    if budget is None or not budget.monthly:
        return
    spent = team_month_cost(team=team, today=today)
    for level in WARNING_LEVELS:
        if spent * 100 >= budget.monthly * level:
            _, created = BudgetWarning.objects.get_or_create(team=team, month=_month_start(today), level=level)
            if created:
                logger.warning("team %s has spent %s%% of its monthly budget", team.slug, level)
                audit_record(
                    actor=None,
                    action=f"usage.budget_{level}",
                    target=team,
                    team=team,
                    data={"spent": str(spent), "budget": str(budget.monthly)},
                )


def budget_status(*, team, today: date | None = None) -> dict | None:
    budget = Budget.objects.filter(team=team).first()
    if budget is None:
        return None
    spent = team_month_cost(team=team, today=today)
    percent = int(spent * 100 / budget.monthly) if budget.monthly else 100
    return {
        "budget": budget,
        "spent": spent,
        "percent": percent,
        "level": 100 if percent >= 100 else 80 if percent >= 80 else 0,
    }
