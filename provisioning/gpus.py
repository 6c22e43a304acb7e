"""The GPUs of this machine: an inventory, and fair first-come-first-served allocation kept in Postgres."""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction

from provisioning.models import GpuAllocation, Resource, State

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str


@lru_cache(maxsize=1)
def inventory() -> tuple[Gpu, ...]:
    """GPUs from the PORTAL_GPUS setting when given, else NVML, else `nvidia-smi -L`, else none."""
    configured = settings.PORTAL_GPUS.strip().lower()
    if configured in ("none", "0"):
        return ()
    if configured:
        if configured.isdigit():
            return tuple(Gpu(i, f"GPU {i}") for i in range(int(configured)))
        return tuple(Gpu(int(i), f"GPU {i}") for i in configured.split(",") if i.strip().isdigit())
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            count = pynvml.nvmlDeviceGetCount()
            gpus = []
            for i in range(count):
                name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i))
                gpus.append(Gpu(i, name.decode() if isinstance(name, bytes) else str(name)))
            return tuple(gpus)
        finally:
            pynvml.nvmlShutdown()
    except Exception as exc:  # no driver, no library: try the command line tool
        logger.debug("NVML unavailable: %s", exc)
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ()
        gpus = []
        for line in out.splitlines():
            if line.startswith("GPU "):
                head, _, rest = line.partition(":")
                gpus.append(Gpu(int(head.split()[1]), rest.split("(")[0].strip()))
        return tuple(gpus)
    return ()


def capacity_error(count: int) -> str | None:
    """None when this machine can ever give `count` GPUs, else a sentence saying why not."""
    total = len(inventory())
    if count <= total:
        return None
    if total == 0:
        return (
            "This machine has no GPU, so GPU requests cannot run here. Ask for 0 GPUs, or ask the Keepers where "
            "GPUs are."
        )
    return f"This machine has {total} GPU{'s' if total != 1 else ''}; ask for at most {total}."


@dataclass
class Allocation:
    gpus: list[int]
    position: int = 0  # 0 when allocated; else how many requests wait ahead (1 = next)


def allocate(resource: Resource, count: int) -> Allocation:
    """Give `count` free GPUs to the resource, or tell its place in the queue. Idempotent for one resource."""
    if count <= 0:
        return Allocation([])
    with transaction.atomic():
        # One allocation at a time on this machine: simple, and fast enough for a handful of GPUs.
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {GpuAllocation._meta.db_table} IN EXCLUSIVE MODE")
        held = list(GpuAllocation.objects.filter(resource=resource).values_list("gpu", flat=True))
        if len(held) >= count:
            return Allocation(sorted(held)[:count])
        waiting = waiting_before(resource)
        used = set(GpuAllocation.objects.values_list("gpu", flat=True))
        free = [g.index for g in inventory() if g.index not in used]
        if waiting or len(free) < count - len(held):
            return Allocation([], position=len(waiting) + 1)
        chosen = free[: count - len(held)]
        GpuAllocation.objects.bulk_create([GpuAllocation(gpu=gpu, resource=resource) for gpu in chosen])
        return Allocation(sorted(held + chosen))


def waiting_before(resource: Resource) -> list:
    """Resources queued for GPUs before this one: first come (by the time each joined the queue), first served.

    A resource not yet in the queue (it asks for the first time) comes after everything that waits."""
    waiting = Resource.objects.filter(state=State.QUEUED, queued_at__isnull=False).exclude(pk=resource.pk)
    if resource.queued_at is not None and resource.state == State.QUEUED:
        waiting = waiting.filter(queued_at__lt=resource.queued_at)
    return list(waiting.values_list("pk", flat=True))


def release(resource: Resource) -> int:
    deleted, _ = GpuAllocation.objects.filter(resource=resource).delete()
    return deleted


def held_by(resource: Resource) -> list[int]:
    return sorted(GpuAllocation.objects.filter(resource=resource).values_list("gpu", flat=True))


def queue_advance() -> int:
    """Give waiting resources another try, in the order they joined the queue (each keeps its place)."""
    from provisioning.doorbell import enqueue
    from provisioning.models import Operation, OperationState

    waiting = Operation.objects.filter(state=OperationState.QUEUED, resource__state=State.QUEUED).order_by(
        "resource__queued_at", "resource__created_at", "id"
    )
    count = 0
    for operation in waiting:
        enqueue(operation)
        count += 1
    return count
