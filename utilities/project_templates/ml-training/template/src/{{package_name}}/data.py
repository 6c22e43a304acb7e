"""The dataset: a CSV of x,y rows under data/ when there is one, else a small synthetic line with noise."""

import csv
import random
from pathlib import Path


def synthetic(n: int = 256, seed: int = 0) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(x, 3.0 * x + 1.0 + rng.gauss(0, 0.1)) for x in (rng.uniform(-1, 1) for _ in range(n))]


def load(path: str | None = None) -> list[tuple[float, float]]:
    if path and Path(path).exists():
        with open(path, newline="") as handle:
            return [(float(row["x"]), float(row["y"])) for row in csv.DictReader(handle)]
    return synthetic()


def batches(rows, size: int = 32):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
