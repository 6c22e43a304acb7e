"""Summary statistics of a column."""

import statistics


def summary(values) -> dict:
    numbers = [v for v in values if isinstance(v, int | float)]
    if not numbers:
        return {"count": 0}
    return {
        "count": len(numbers),
        "mean": statistics.fmean(numbers),
        "median": statistics.median(numbers),
        "min": min(numbers),
        "max": max(numbers),
    }
