"""README's performance table from one benchmark run's JSON (var/bench/<timestamp>.json).

`python -m tests.bench.readme_table [RUN.json] [--write]`: prints the table (the newest run when no file is given);
with --write it replaces what lies between the two `bench-table` markers in README.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.bench.common import BASE_DIR, DATA, figure_rows

START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def render(run: dict) -> str:
    """Markdown: where and when it was measured, then one row per figure with its peer (or target) and the ratio."""
    m = run["machine"]
    load = ", ".join(str(x) for x in m.get("load_average_at_start", []))
    lines = [
        f"Measured {run['started_at']}{' (quick run: small sizes)' if run.get('quick') else ''} on {m['cpu_model']}, "
        f"{m['cores']} cores, {m['memory_gb']} GB, Linux {m['kernel']}, Python {m['python']}, "
        f"PostgreSQL {m.get('postgres', '?')}; load average at the start {load}"
        f"{' (a busy machine: other test suites were running)' if run.get('busy') else ''}.",
        "",
        "| benchmark | measure | portal | peer (same run) or target | ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, result in run["benchmarks"].items():
        if result.get("error") or result.get("skipped"):
            lines.append(f"| {name} | not measured: {result.get('error') or result.get('skipped')} | | | |")
            continue
        for measure, value, peer, ratio in figure_rows(result["figures"]):
            lines.append(f"| {name} | {measure} | {value} | {peer} | {ratio} |")
    lines.append("")
    lines.append("A ratio below 1 is faster (or smaller) than the peer, or within the target.")
    return "\n".join(lines)


def write(readme: Path, table: str) -> None:
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme} has no {START} ... {END} markers")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    readme.write_text(f"{before}{START}\n{table}\n{END}{after}")


def main(argv: list[str]) -> int:
    files = [a for a in argv[1:] if not a.startswith("--")]
    path = Path(files[0]) if files else max(DATA.glob("*.json"), key=lambda p: p.stat().st_mtime)
    run = json.loads(path.read_text())
    if "--busy" in argv:
        run["busy"] = True
    table = render(run)
    if "--write" in argv:
        write(BASE_DIR / "README.md", table)
        print(f"README.md's table now shows {path.name}")
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
