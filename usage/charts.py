"""Charts drawn on the server as SVG (no script, no CDN): cost by day, stacked by kind."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.utils.html import escape, format_html

COLOURS = {"notebook": "#2f6fb3", "training_job": "#d9822b", "database": "#3a9d5d", "bucket": "#8e5bb5"}
OTHER = "#777777"


def cost_by_day_svg(rows, *, since: date, until: date, value: str = "cost", width: int = 720, height: int = 200) -> str:
    days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
    stacks: dict[date, dict[str, float]] = defaultdict(dict)
    kinds: list[str] = []
    for row in rows:
        stacks[row["day"]][row["kind"]] = float(row[value] or 0)
        if row["kind"] not in kinds:
            kinds.append(row["kind"])
    top = max([sum(s.values()) for s in stacks.values()] + [0]) or 1.0
    bar = width / max(1, len(days))
    parts = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}">',
            width,
            height + 20,
            f"{value.replace('_', ' ')} by day and kind",
        )
    ]
    for i, day in enumerate(days):
        y = height
        for kind in kinds:
            amount = stacks.get(day, {}).get(kind, 0.0)
            if not amount:
                continue
            h = amount / top * (height - 10)
            y -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} {}: {}</title></rect>',
                    f"{i * bar + 1:.1f}",
                    f"{y:.1f}",
                    f"{max(1.0, bar - 2):.1f}",
                    f"{h:.1f}",
                    COLOURS.get(kind, OTHER),
                    day.isoformat(),
                    kind,
                    f"{amount:.2f}",
                )
            )
    parts.append(format_html('<text x="0" y="{}" font-size="11">{}</text>', height + 15, since.isoformat()))
    parts.append(
        format_html(
            '<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>', width, height + 15, until.isoformat()
        )
    )
    parts.append(format_html('<text x="0" y="10" font-size="11">max {}</text>', f"{top:.2f}"))
    parts.append("</svg>")
    return "".join(str(p) for p in parts)


def legend(rows) -> list[tuple[str, str]]:
    kinds = []
    for row in rows:
        if row["kind"] not in kinds:
            kinds.append(row["kind"])
    return [(escape(k), COLOURS.get(k, OTHER)) for k in kinds]
