"""Readers of Slurm's machine-readable output (squeue, sinfo, scontrol -o, sacct), and Slurm's states in words.

Pure functions: text in, data out, so each is tested on real output captured from Slurm 22.05.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# ASCII unit separator: it cannot occur in job names we give, node lists, reasons, states or times.
SEP = "\x1f"

QUEUE_FIELDS = (
    ("job_id", "%i"),
    ("array_job_id", "%F"),
    ("array_task_id", "%K"),
    ("name", "%j"),
    ("state", "%T"),
    ("reason", "%r"),
    ("nodes", "%N"),
    ("elapsed", "%M"),
    ("time_limit", "%l"),
    ("time_left", "%L"),
    ("priority", "%Q"),
    ("partition", "%P"),
    ("user", "%u"),
    ("comment", "%k"),
    ("submitted", "%V"),
)
QUEUE_FORMAT = SEP.join(code for _, code in QUEUE_FIELDS)

PARTITION_FIELDS = (("partition", "%P"), ("time_limit", "%l"), ("cpus", "%c"), ("memory", "%m"), ("gres", "%G"))
PARTITION_FORMAT = SEP.join(code for _, code in PARTITION_FIELDS) + SEP + "%a"

ACTIVE_STATES = {
    "PENDING",
    "CONFIGURING",
    "RUNNING",
    "COMPLETING",
    "SUSPENDED",
    "REQUEUED",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
    "RESIZING",
    "SIGNALING",
    "STAGE_OUT",
    "STOPPED",
    "RESV_DEL_HOLD",
    "SPECIAL_EXIT",
}


@dataclass(frozen=True)
class QueueRow:
    job_id: str
    array_job_id: str
    array_task_id: str
    name: str
    state: str
    reason: str
    nodes: str
    elapsed: str
    time_limit: str
    time_left: str
    priority: str
    partition: str
    user: str
    comment: str
    submitted: str

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


def queue_rows(text: str) -> list[QueueRow]:
    """`squeue --noheader --format=QUEUE_FORMAT` output as rows; lines that do not fit are skipped."""
    rows = []
    for line in text.splitlines():
        parts = line.split(SEP)
        if len(parts) == len(QUEUE_FIELDS):
            rows.append(QueueRow(*(p.strip() for p in parts)))
    return rows


def seconds(text: str) -> int | None:
    """Slurm durations ("5", "1:02", "1:02:03", "2-01:02:03", "UNLIMITED") in seconds; None when unlimited.

    A bare number is minutes in limits (sinfo %l, --time) but Slurm prints elapsed times with a colon, always."""
    text = (text or "").strip()
    if not text or text.upper() in ("UNLIMITED", "INFINITE", "NOT_SET", "N/A", "INVALID"):
        return None
    days = 0
    if "-" in text:
        head, text = text.split("-", 1)
        days = int(head)
    parts = [int(p) for p in text.split(":")]
    if len(parts) == 1:
        total = parts[0] * 60
    elif len(parts) == 2:
        total = parts[0] * 60 + parts[1]
    else:
        total = parts[0] * 3600 + parts[1] * 60 + parts[2]
    return days * 86400 + total


def duration_words(total: int | None) -> str:
    """A duration for people: "45 s", "12 min", "2 h 5 min", "3 days 4 h"."""
    if total is None:
        return "no limit"
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} days" + (f" {hours} h" if hours else "")


def _number(text: str) -> int:
    match = re.match(r"\d+", text or "")
    return int(match.group()) if match else 0


def gres_gpus(text: str) -> int:
    """GPUs in a gres string: "gpu:2", "gpu:a100:4(S:0-1)", "gpu:2,shard:8" -> 2, 4, 2; "(null)" -> 0."""
    total = 0
    for item in (text or "").split(","):
        parts = item.split("(")[0].split(":")
        if parts[0] == "gpu":
            total += _number(parts[-1]) if len(parts) > 1 else 1
    return total


@dataclass
class Partition:
    name: str
    default: bool = False
    up: bool = True
    max_seconds: int | None = None  # None: no limit
    cpus: int = 0  # most CPUs of one node
    memory_mb: int = 0  # most memory of one node
    gpus: int = 0  # most GPUs of one node
    nodes: int = 0

    def describe(self) -> str:
        """The partition's limits in words, for the form."""
        gpus = f"{self.gpus} GPU{'s' if self.gpus != 1 else ''}" if self.gpus else "no GPUs"
        limit = "no time limit" if self.max_seconds is None else f"up to {duration_words(self.max_seconds)}"
        state = "" if self.up else " (down)"
        return (
            f"{self.name}{' (default)' if self.default else ''}{state}: {limit}; nodes with up to {self.cpus} CPUs, "
            f"{memory_words(self.memory_mb)}, {gpus}"
        )


def memory_words(megabytes: int) -> str:
    return f"{megabytes / 1024:.1f} GB" if megabytes >= 1024 else f"{megabytes} MB"


def partitions(text: str) -> dict[str, Partition]:
    """`sinfo --noheader --Node --format=PARTITION_FORMAT` (one line per node and partition) as partitions."""
    found: dict[str, Partition] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(SEP)]
        if len(parts) != len(PARTITION_FIELDS) + 1:
            continue
        name, limit, cpus, memory, gres, avail = parts
        default = name.endswith("*")
        name = name.rstrip("*")
        partition = found.setdefault(name, Partition(name, default=default, max_seconds=seconds(limit)))
        partition.up = avail.lower() == "up"
        partition.cpus = max(partition.cpus, _number(cpus))
        partition.memory_mb = max(partition.memory_mb, _number(memory))
        partition.gpus = max(partition.gpus, gres_gpus(gres))
        partition.nodes += 1
    return found


_KEY = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9/:_]*)=")


def scontrol_records(text: str) -> list[dict[str, str]]:
    """`scontrol --oneliner show job ID` (one line per job, array tasks included) as dicts of Key: value."""
    records = []
    for line in text.splitlines():
        matches = list(_KEY.finditer(line))
        if not matches:
            continue
        record = {}
        for this, after in zip(matches, [*matches[1:], None], strict=True):
            end = after.start() if after else len(line)
            record[this.group(1)] = line[this.end() : end].strip()
        records.append(record)
    return records


def sacct_records(text: str) -> list[dict[str, str]]:
    """`sacct --noheader --parsable2 --delimiter=SEP --format=JobID,State,ExitCode,ElapsedRaw,NodeList` rows."""
    keys = ("JobId", "JobState", "ExitCode", "Elapsed", "NodeList")
    records = []
    for line in text.splitlines():
        parts = line.split(SEP)
        if len(parts) == len(keys) and "." not in parts[0]:  # steps (123.batch) belong to their job
            record = dict(zip(keys, parts, strict=True))
            record["JobState"] = record["JobState"].split()[0]  # "CANCELLED by 0"
            records.append(record)
    return records


def exit_code(text: str) -> tuple[int, int]:
    """Slurm's "code:signal" (ExitCode=3:0) as (3, 0)."""
    code, _, signal = (text or "0:0").partition(":")
    return _number(code), _number(signal)


@dataclass
class Settled:
    """How a job that left the queue ended, from scontrol, sacct or its exit-code files."""

    state: str  # COMPLETED, FAILED, TIMEOUT, CANCELLED, OUT_OF_MEMORY, NODE_FAIL, ...
    exit_code: int | None
    signal: int = 0
    runtime_seconds: int | None = None
    nodes: str = ""
    source: str = "scontrol"
    tasks: int = 1
    failed_tasks: list[str] = field(default_factory=list)


FINAL_ORDER = ("OUT_OF_MEMORY", "TIMEOUT", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED", "FAILED", "CANCELLED")


def settle(records: list[dict[str, str]], source: str) -> Settled | None:
    """One verdict for a job (or all tasks of an array) from scontrol/sacct records; None while any task is active."""
    if not records or any(r.get("JobState", "") in ACTIVE_STATES for r in records):
        return None
    states = [r.get("JobState", "") for r in records]
    worst = next((s for s in FINAL_ORDER if s in states), "COMPLETED" if all(s == "COMPLETED" for s in states) else "")
    if not worst:
        worst = states[0]
    codes = [exit_code(r.get("ExitCode", "0:0")) for r in records]
    code, signal = max(codes, key=lambda c: (c[0] != 0, c[0], c[1]))
    runtimes = [seconds_hms(r.get("RunTime") or r.get("Elapsed") or "") for r in records]
    known = [r for r in runtimes if r is not None]
    failed = [r.get("ArrayTaskId") or r.get("JobId", "") for r in records if r.get("JobState") != "COMPLETED"]
    return Settled(
        state=worst,
        exit_code=code,
        signal=signal,
        runtime_seconds=max(known) if known else None,
        nodes=",".join(sorted({r.get("NodeList", "") for r in records} - {"", "(null)", "None assigned"})),
        source=source,
        tasks=len(records),
        failed_tasks=failed if len(records) > 1 else [],
    )


def seconds_hms(text: str) -> int | None:
    """Elapsed times as scontrol and sacct print them ("00:00:04", "1-02:03:04") or raw seconds ("4")."""
    text = (text or "").strip()
    if text.isdigit():
        return int(text)
    if ":" not in text:
        return None
    return seconds(text)


REASONS = {
    "Priority": "jobs with a higher priority go first",
    "Resources": "the nodes it needs are busy",
    "Dependency": "it waits for another job it depends on",
    "DependencyNeverSatisfied": "the job it depends on failed, so it can never start; cancel it",
    "BeginTime": "its start time has not come yet",
    "JobHeldUser": "it is held; release it or cancel it",
    "JobHeldAdmin": "an administrator holds it",
    "ReqNodeNotAvail": "the nodes it needs are unavailable (maintenance or down)",
    "PartitionDown": "its partition is down",
    "PartitionInactive": "its partition is inactive",
    "PartitionTimeLimit": "its time limit is over the partition's limit; cancel it and ask for less time",
    "PartitionNodeLimit": "it asks for more nodes than the partition allows",
    "QOSMaxGRESPerUser": "your account already uses its share of GPUs",
    "AssocGrpGRES": "your account already uses its share of GPUs",
    "QOSMaxCpuPerUserLimit": "your account already uses its share of CPUs",
    "AssocGrpCpuLimit": "your account already uses its share of CPUs",
    "Reservation": "it waits for its reservation to start",
    "None": "it is about to be scheduled",
}


def reason_words(reason: str) -> str:
    reason = (reason or "").strip("()")
    return REASONS.get(reason, f"Slurm says: {reason}" if reason else "it is about to be scheduled")


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def queue_position(row: QueueRow, rows: list[QueueRow]) -> int:
    """1 for the next pending job of its partition: pending jobs there ordered as Slurm does (priority, then age)."""
    pending = [r for r in rows if r.state == "PENDING" and r.partition == row.partition]
    ranked = sorted(pending, key=lambda r: (-_number(r.priority), r.submitted, _number(r.array_job_id)))
    for index, other in enumerate(ranked, 1):
        if other.array_job_id == row.array_job_id:
            return index
    return 1
