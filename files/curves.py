"""Training curves from a job's folder, in the simple formats the training guide documents:

- JSON lines, a file named `metrics*.jsonl`: one object per line, `{"step": 1, "loss": 0.5, "accuracy": 0.8}`;
- CSV with a header, a file named `metrics*.csv`, with a `step` column (or `epoch`);
- TensorBoard event files (`events.out.tfevents.*`), read with tensorboard's own reader (no server).

Every numeric column other than the step becomes a metric. Files are read from the end of the job's folder tree
at most a few levels deep, and big files are sampled, so a page never reads gigabytes.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from pathlib import Path

logger = logging.getLogger(__name__)

MAX_DEPTH = 3
MAX_BYTES = 20 * 1024 * 1024
MAX_POINTS = 600
STEP_KEYS = ("step", "epoch", "iteration", "global_step")

Series = dict[str, list[tuple[float, float]]]  # metric -> [(step, value)]


def _files(folder: Path):
    base_depth = len(folder.parts)
    for current, dirs, names in os.walk(folder):
        depth = len(Path(current).parts) - base_depth
        dirs[:] = [] if depth >= MAX_DEPTH else sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            yield Path(current) / name


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _add(series: Series, row: dict, index: int) -> None:
    step = next((_number(row[key]) for key in STEP_KEYS if key in row), None)
    step = float(index) if step is None else step
    for key, value in row.items():
        if key in STEP_KEYS:
            continue
        number = _number(value)
        if number is not None:
            series.setdefault(str(key)[:60], []).append((step, number))


def _read_text(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES)
    return data.decode("utf-8", errors="replace")


def _jsonl(path: Path, series: Series) -> None:
    _jsonl_text(_read_text(path), series)


def _jsonl_text(text: str, series: Series) -> None:
    for index, line in enumerate(text.splitlines()):
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line being written right now, or not JSON
        if isinstance(row, dict):
            _add(series, row, index)


def _csv(path: Path, series: Series) -> None:
    _csv_text(_read_text(path), series)


def _csv_text(text: str, series: Series) -> None:
    for index, row in enumerate(csv.DictReader(io.StringIO(text))):
        _add(series, {k: v for k, v in row.items() if k is not None}, index)


def _tensorboard(folder: Path, series: Series) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": MAX_POINTS * 4})
    accumulator.Reload()
    for tag in accumulator.Tags().get("scalars", []):
        points = [(float(event.step), float(event.value)) for event in accumulator.Scalars(tag)]
        series.setdefault(tag[:60], []).extend(p for p in points if math.isfinite(p[1]))


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    points = sorted(points)
    if len(points) <= MAX_POINTS:
        return points
    every = len(points) / MAX_POINTS
    return [points[int(i * every)] for i in range(MAX_POINTS)] + [points[-1]]


def curves_read(folder: Path | None) -> Series:
    """Every metric found in the folder, each as points sorted by step (at most MAX_POINTS)."""
    series: Series = {}
    if folder is None or not folder.is_dir():
        return series
    event_folders = set()
    for path in _files(folder):
        name = path.name.lower()
        try:
            if name.startswith("metrics") and name.endswith(".jsonl"):
                _jsonl(path, series)
            elif name.startswith("metrics") and name.endswith(".csv"):
                _csv(path, series)
            elif name.startswith("events.out.tfevents."):
                event_folders.add(path.parent)
        except OSError:
            continue
    for event_folder in sorted(event_folders):
        try:
            _tensorboard(event_folder, series)
        except Exception:  # a damaged or half-written event file must not break the page
            logger.warning("cannot read the TensorBoard events in %s", event_folder, exc_info=True)
    return {name: _thin(points) for name, points in sorted(series.items()) if points}


def _store_bytes(store, path: str, limit: int = MAX_BYTES) -> bytes:
    handle = store.open(path)
    try:
        data = handle.read(limit)
    finally:
        handle.close()
    return data


def curves_from_store(store) -> Series:
    """The same curves from any file-browser store: a folder here (read directly), an S3 prefix (a Kubernetes job's
    results), or a job's folder on a Slurm cluster (read through the driver, as the team's account). One listing of
    the tree, then only the metrics files are read; TensorBoard event files are copied to a temporary folder for
    tensorboard's reader."""
    from portal.errors import PortalError

    if store is None:
        return {}
    base = getattr(store, "base", None)
    if isinstance(base, Path):
        return curves_read(base)
    series: Series = {}
    try:
        entries = store.walk("", MAX_DEPTH)
    except PortalError:
        return series
    events = []
    for entry in entries:
        name = entry.name.lower()
        try:
            if name.startswith("metrics") and name.endswith(".jsonl"):
                _jsonl_text(_store_bytes(store, entry.path).decode("utf-8", errors="replace"), series)
            elif name.startswith("metrics") and name.endswith(".csv"):
                _csv_text(_store_bytes(store, entry.path).decode("utf-8", errors="replace"), series)
            elif name.startswith("events.out.tfevents.") and (entry.size or 0) <= MAX_BYTES:
                events.append(entry)
        except (PortalError, OSError):
            continue
    if events:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="portal-curves-") as temporary:
            folders = set()
            for entry in events:
                target = Path(temporary, *entry.path.split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    target.write_bytes(_store_bytes(store, entry.path))
                except (PortalError, OSError):
                    continue
                folders.add(target.parent)
            for folder in sorted(folders):
                try:
                    _tensorboard(folder, series)
                except Exception:  # a damaged or half-written event file must not break the page
                    logger.warning("cannot read the TensorBoard events of %s", folder, exc_info=True)
    return {name: _thin(points) for name, points in sorted(series.items()) if points}
