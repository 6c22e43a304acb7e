"""The radar drawn on the server: four quadrants, four rings, one linked blip per technology (pure builder)."""

from __future__ import annotations

import hashlib
import math
from xml.sax.saxutils import escape, quoteattr

from catalog.radar_models import RING_COLORS, RING_ORDER, Quadrant, Ring

SIZE = 640
CENTER = SIZE / 2
RING_RADII = [130, 200, 255, 300]  # outer radius of adopt, trial, assess, hold
# Each quadrant's angles, in degrees, counter-clockwise from the positive x axis (SVG's y points down).
QUADRANT_ANGLES = {
    Quadrant.TECHNIQUES: (90, 180),  # top left
    Quadrant.TOOLS: (0, 90),  # top right
    Quadrant.PLATFORMS: (180, 270),  # bottom left
    Quadrant.LANGUAGES: (270, 360),  # bottom right
}


def _unit(slug: str, salt: str) -> float:
    """A stable number in [0, 1) from the slug, so a blip keeps its place between renders."""
    return int(hashlib.sha256(f"{salt}:{slug}".encode()).hexdigest()[:8], 16) / 0x100000000


MIN_GAP = 21  # blips (radius 9) closer than this overlap


def blip_position(slug: str, quadrant: str, ring: str, taken=(), tries: int = 60) -> tuple[float, float]:
    """Where a technology's blip goes: inside its quadrant's angle and its ring's band, with a margin, away from the
    blips already `taken` when there is room (the same inputs always give the same place)."""
    index = RING_ORDER.index(ring)
    inner = RING_RADII[index - 1] if index else 0
    outer = RING_RADII[index]
    start, end = QUADRANT_ANGLES[quadrant]
    best, best_gap = None, -1.0
    for attempt in range(tries):
        radius = inner + 14 + _unit(slug, f"r{attempt}") * max(1, outer - inner - 28)
        angle = math.radians(start + 8 + _unit(slug, f"a{attempt}") * (end - start - 16))
        point = (round(CENTER + radius * math.cos(angle), 1), round(CENTER - radius * math.sin(angle), 1))
        gap = min((math.dist(point, other) for other in taken), default=math.inf)
        if gap >= MIN_GAP:
            return point
        if gap > best_gap:
            best, best_gap = point, gap
    return best


def radar_svg(technologies, *, url_for) -> str:
    """The whole SVG for `technologies` (objects with slug, name, quadrant, ring); `url_for(t)` gives each link."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}" role="img" class="radar-svg" '
        'aria-labelledby="radar-title"><title id="radar-title">Technology radar</title>'
    ]
    for ring, radius in reversed(list(zip(RING_ORDER, RING_RADII, strict=True))):
        parts.append(
            f'<circle class="ring" data-ring="{ring}" cx="{CENTER}" cy="{CENTER}" r="{radius}" '
            f'fill="{RING_COLORS[ring]}" fill-opacity="0.12" stroke="#8894a4" stroke-width="1"/>'
        )
    parts.append(f'<line x1="0" y1="{CENTER}" x2="{SIZE}" y2="{CENTER}" stroke="#8894a4" stroke-width="2"/>')
    parts.append(f'<line x1="{CENTER}" y1="0" x2="{CENTER}" y2="{SIZE}" stroke="#8894a4" stroke-width="2"/>')
    for ring, radius in zip(RING_ORDER, RING_RADII, strict=True):
        parts.append(
            f'<text class="ring-label" x="{CENTER + 4}" y="{CENTER - radius + 14}" font-size="11" fill="#3d4756">'
            f"{escape(Ring(ring).label.upper())}</text>"
        )
    corners = {
        Quadrant.TECHNIQUES: (8, 18, "start"),
        Quadrant.TOOLS: (SIZE - 8, 18, "end"),
        Quadrant.PLATFORMS: (8, SIZE - 8, "start"),
        Quadrant.LANGUAGES: (SIZE - 8, SIZE - 8, "end"),
    }
    for quadrant, (x, y, anchor) in corners.items():
        parts.append(
            f'<text class="quadrant-label" data-quadrant="{quadrant}" x="{x}" y="{y}" text-anchor="{anchor}" '
            f'font-size="14" font-weight="700" fill="#1c2430">{escape(Quadrant(quadrant).label)}</text>'
        )
    taken = []
    for number, tech in enumerate(technologies, start=1):
        if not tech.ring:
            continue
        x, y = blip_position(tech.slug, tech.quadrant, tech.ring, taken)
        taken.append((x, y))
        parts.append(
            f'<a class="blip" href={quoteattr(url_for(tech))} data-slug={quoteattr(tech.slug)} '
            f'data-quadrant="{tech.quadrant}" data-ring="{tech.ring}">'
            f"<title>{escape(tech.name)} ({escape(Ring(tech.ring).label)})</title>"
            f'<circle cx="{x}" cy="{y}" r="9" fill="{RING_COLORS[tech.ring]}" stroke="#fff" stroke-width="1.5"/>'
            f'<text x="{x}" y="{y + 3.5}" text-anchor="middle" font-size="9" fill="#fff" font-weight="700">'
            f"{number}</text>"
            "</a>"
        )
    parts.append("</svg>")
    return "".join(parts)


def backstage_radar(technologies, *, url_for) -> dict:
    """The radar in the format of Backstage's tech-radar plugin (TechRadarLoaderResponse)."""
    return {
        "quadrants": [{"id": q.value, "name": q.label} for q in Quadrant],
        "rings": [{"id": r.value, "name": r.label.upper(), "color": RING_COLORS[r]} for r in RING_ORDER],
        "entries": [
            {
                "id": tech.slug,
                "key": tech.slug,
                "title": tech.name,
                "quadrant": tech.quadrant,
                "description": tech.description,
                "url": url_for(tech),
                "links": [{"title": link.get("title", ""), "url": link.get("url", "")} for link in tech.links or []],
                "timeline": [
                    {
                        "moved": move.moved,
                        "ringId": move.ring,
                        "date": move.date.isoformat(),
                        "description": move.reasons,
                    }
                    for move in tech.moves.all()
                ],
            }
            for tech in technologies
            if tech.ring
        ],
    }
