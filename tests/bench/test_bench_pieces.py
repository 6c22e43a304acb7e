"""`make bench-quick`'s pieces import, and README's table renders from a run's JSON (fast; no portal started)."""

from __future__ import annotations

import importlib
import subprocess

from tests.bench import common, readme_table
from tests.bench.__main__ import BENCHMARKS

SAMPLE = {
    "started_at": "2026-11-23 18:30:00",
    "quick": True,
    "machine": {
        "cpu_model": "Test CPU",
        "cores": 2,
        "memory_gb": 24.0,
        "kernel": "6.1.0",
        "python": "3.11.2",
        "postgres": "18.1",
        "load_average_at_start": [5.1, 4.0, 3.2],
    },
    "benchmarks": {
        "notebooks": {
            "figures": [
                common.figure(
                    "portal request to notebook answering", 1.84, "s", peer="bare `jupyter lab`", peer_value=1.79
                )
            ]
        },
        "pages": {"figures": [common.figure("`/catalog/` p95, 1 client", 42.0, "ms", target=50)]},
        "slurm": {"skipped": "needs root", "figures": []},
    },
}


def test_every_benchmark_module_imports_and_has_a_run():
    for name in BENCHMARKS:
        module = importlib.import_module(f"tests.bench.{name}")
        assert callable(module.run) and module.TITLE


def test_make_bench_quick_runs_the_quick_benchmarks():
    dry = subprocess.run(["make", "-n", "bench-quick"], capture_output=True, text=True, check=True).stdout
    assert "-m tests.bench --quick" in dry


def test_readme_table_renders_a_run(tmp_path):
    table = readme_table.render(SAMPLE)
    assert "Test CPU, 2 cores, 24.0 GB, Linux 6.1.0, Python 3.11.2, PostgreSQL 18.1" in table
    assert "| notebooks | portal request to notebook answering | 1.84 s | bare `jupyter lab`: 1.79 s | 1.03 |" in table
    assert "| pages | `/catalog/` p95, 1 client | 42.0 ms | target: 50.0 ms | 0.84 |" in table
    assert "| slurm | not measured: needs root |" in table

    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{readme_table.START}\nold\n{readme_table.END}\nafter\n")
    readme_table.write(readme, table)
    text = readme.read_text()
    assert "old" not in text and table in text and text.startswith("# x\n\nbefore\n") and text.endswith("after\n")
