"""Readers of Slurm's output, on text captured from Slurm 22.05 (no cluster needed)."""

from provisioning.drivers.slurm import parse

SQUEUE = (
    "8\x1f8\x1fN/A\x1fportal-b\x1fPENDING\x1fResources\x1f\x1f0:00\x1f1:00:00\x1f1:00:00\x1f4294901753\x1fdebug"
    "\x1fpt-exp\x1f(null)\x1f2026-11-23T14:47:04\n"
    "9_[0-1]\x1f9\x1f0-1\x1fportal-c\x1fPENDING\x1fPriority\x1f\x1f0:00\x1f1:00:00\x1f1:00:00\x1f4294901752\x1fdebug"
    "\x1fpt-exp\x1f(null)\x1f2026-11-23T14:47:04\n"
    "7\x1f7\x1fN/A\x1fsbatch\x1fRUNNING\x1fNone\x1fvm\x1f0:02\x1f1:00:00\x1f59:58\x1f4294901754\x1fdebug\x1fpt-exp"
    "\x1fportal:aa\x1f2026-11-23T14:47:04\n"
    "5\x1f5\x1fN/A\x1fsbatch\x1fTIMEOUT\x1fTimeLimit\x1fvm\x1f1:08\x1f1:00\x1fINVALID\x1f4294901756\x1fshort\x1fpt-exp"
    "\x1f(null)\x1f2026-11-23T14:41:46\n"
    "garbage line\n"
)
SINFO = "debug*\x1f1:00:00\x1f2\x1f4000\x1fgpu:2\x1fup\nshort\x1f2:00\x1f2\x1f4000\x1fgpu:2\x1fup\n"
SCONTROL = (
    "JobId=1 JobName=portal-abc UserId=pt-exp(999) GroupId=pt-exp(995) JobState=FAILED Reason=NonZeroExitCode "
    "Dependency=(null) ExitCode=3:0 RunTime=00:00:04 TimeLimit=00:01:00 NodeList=vm Comment=portal:tok1  "
    "StdOut=/tmp/slt/jobs/x/slurm-1.out TresPerNode=gres:gpu:1 \n"
)


def test_queue_rows():
    rows = parse.queue_rows(SQUEUE)
    assert [(r.job_id, r.array_job_id, r.state, r.reason, r.nodes, r.comment) for r in rows] == [
        ("8", "8", "PENDING", "Resources", "", "(null)"),
        ("9_[0-1]", "9", "PENDING", "Priority", "", "(null)"),
        ("7", "7", "RUNNING", "None", "vm", "portal:aa"),
        ("5", "5", "TIMEOUT", "TimeLimit", "vm", "(null)"),
    ]
    assert [r.active for r in rows] == [True, True, True, False]
    assert [parse.queue_position(r, rows) for r in rows[:2]] == [1, 2]


def test_partitions_with_limits_in_words():
    found = parse.partitions(SINFO)
    assert list(found) == ["debug", "short"]
    debug = found["debug"]
    assert (debug.default, debug.max_seconds, debug.cpus, debug.memory_mb, debug.gpus) == (True, 3600, 2, 4000, 2)
    assert debug.describe() == "debug (default): up to 1 h; nodes with up to 2 CPUs, 3.9 GB, 2 GPUs"
    assert found["short"].describe() == "short: up to 2 min; nodes with up to 2 CPUs, 3.9 GB, 2 GPUs"


def test_durations_and_gres():
    assert [parse.seconds(t) for t in ("5", "0:02", "1:00:00", "2-01:00:00", "UNLIMITED", "INVALID")] == [
        300,
        2,
        3600,
        176400,
        None,
        None,
    ]
    assert [parse.gres_gpus(g) for g in ("gpu:2", "gpu:a100:4(S:0-1)", "gpu:2,shard:8", "(null)")] == [2, 4, 2, 0]
    assert [parse.duration_words(s) for s in (45, 600, 3900, 200000, None)] == [
        "45 s",
        "10 min",
        "1 h 5 min",
        "2 days 7 h",
        "no limit",
    ]


def test_scontrol_records_settle_a_failed_job():
    records = parse.scontrol_records(SCONTROL)
    assert records[0]["JobState"] == "FAILED" and records[0]["Comment"] == "portal:tok1"
    assert records[0]["UserId"] == "pt-exp(999)"
    settled = parse.settle(records, "scontrol")
    assert (settled.state, settled.exit_code, settled.runtime_seconds, settled.nodes) == ("FAILED", 3, 4, "vm")


def test_array_tasks_settle_to_the_worst():
    records = [
        {"JobId": "10", "ArrayTaskId": "0", "JobState": "COMPLETED", "ExitCode": "0:0", "RunTime": "00:00:05"},
        {"JobId": "11", "ArrayTaskId": "1", "JobState": "FAILED", "ExitCode": "2:0", "RunTime": "00:00:07"},
    ]
    settled = parse.settle(records, "scontrol")
    assert (settled.state, settled.exit_code, settled.runtime_seconds, settled.failed_tasks) == ("FAILED", 2, 7, ["1"])
    assert parse.settle([{**records[0], "JobState": "RUNNING"}], "scontrol") is None


def test_sacct_rows_skip_steps():
    text = "12\x1fCANCELLED by 0\x1f0:15\x1f61\x1fvm\n12.batch\x1fCANCELLED\x1f0:15\x1f61\x1fvm\n"
    records = parse.sacct_records(text)
    assert records == [{"JobId": "12", "JobState": "CANCELLED", "ExitCode": "0:15", "Elapsed": "61", "NodeList": "vm"}]
    assert parse.settle(records, "sacct").runtime_seconds == 61


def test_reasons_in_words():
    assert parse.reason_words("Resources") == "the nodes it needs are busy"
    assert parse.reason_words("(Priority)") == "jobs with a higher priority go first"
    assert parse.reason_words("Dependency") == "it waits for another job it depends on"
    assert parse.reason_words("Licenses") == "Slurm says: Licenses"
    assert [parse.ordinal(n) for n in (1, 2, 3, 4, 11, 22)] == ["1st", "2nd", "3rd", "4th", "11th", "22nd"]
