"""Line charts as SVG drawn on the server: no CDN, no JavaScript, readable on a phone. Text is escaped."""

from __future__ import annotations

from django.utils.html import escape

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 34
COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4d7c0f", "#be185d"]


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.2e}"
    return f"{value:.3g}"


def line_chart(title: str, runs: list[tuple[str, list[tuple[float, float]]]]) -> str:
    """One metric over steps; `runs` is [(label, points)], one line each."""
    points = [p for _, series in runs for p in series]
    if not points:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(value):
        return LEFT + (value - x0) / (x1 - x0) * plot_w

    def y(value):
        return TOP + (1 - (value - y0) / (y1 - y0)) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)} over steps" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#e5e7eb"/>',
    ]
    for fraction in (0, 0.5, 1):
        value = y0 + fraction * (y1 - y0)
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#f1f5f9"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" fill="#64748b">'
            f"{_fmt(value)}</text>"
        )
    for value, anchor in ((x0, "start"), (x1, "end")):
        parts.append(
            f'<text x="{x(value):.1f}" y="{HEIGHT - 14}" text-anchor="{anchor}" font-size="11" fill="#64748b">'
            f"{_fmt(value)}</text>"
        )
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 2}" text-anchor="middle" font-size="11" fill="#64748b">'
        "step</text>"
    )
    for index, (label, series) in enumerate(runs):
        colour = COLOURS[index % len(COLOURS)]
        if len(series) == 1:
            px, py = series[0]
            parts.append(f'<circle cx="{x(px):.1f}" cy="{y(py):.1f}" r="3" fill="{colour}"/>')
        elif series:
            path = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in series)
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}" '
                f'data-run="{escape(label)}"><title>{escape(label)}: last {_fmt(series[-1][1])}</title></polyline>'
            )
    parts.append("</svg>")
    return "".join(parts)
