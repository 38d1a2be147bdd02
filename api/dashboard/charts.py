"""Line charts as small, self-contained SVG (no JavaScript, no inline styles)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#2f6f9f", "#c0562f", "#3f8f5a", "#8a5fb0", "#b08a2f", "#5f7d8a")
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 34, 42
MARKERS_UP_TO = 40


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[float, float]]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]``."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    return [first + i * step for i in range(int(math.ceil((high - first) / step)) + 1)]


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.2g}"
    return f"{value:.3g}"


def line_chart(series: list[Series], *, x_label: str, y_label: str, title: str) -> Markup:
    """An SVG chart of ``series`` (empty series are left out) with axes, ticks and a legend."""
    series = [s for s in series if s.points]
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    if not xs:
        return Markup("")
    x_ticks = _ticks(min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1)
    y_low, y_high = min(ys), max(ys)
    if y_high == y_low:
        y_low, y_high = y_low - 0.5, y_high + 0.5
    y_ticks = _ticks(y_low, y_high)
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / ((x1 - x0) or 1) * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for y in y_ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(y):.1f}" y2="{py(y):.1f}" '
            'stroke="#e6e9ee" stroke-width="1"/>'
            f'<text x="{LEFT - 8}" y="{py(y) + 4:.1f}" text-anchor="end" class="tick">'
            f"{_label(y)}</text>"
        )
    for x in x_ticks:
        parts.append(
            f'<text x="{px(x):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle" class="tick">'
            f"{_label(x)}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'stroke="#9aa5b1" stroke-width="1"/>'
        f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle" class="axis">'
        f"{escape(x_label)}</text>"
        f'<text x="14" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" class="axis" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2:.0f})">{escape(y_label)}</text>'
    )
    legend_x = LEFT
    for index, item in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        parts.append(f'<g class="series" data-series="{escape(item.name)}">')
        if len(item.points) > 1:  # a line through one point has no extent: its marker shows it
            points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in item.points)
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2" '
                'stroke-linejoin="round" stroke-linecap="round"/>'
            )
        if len(item.points) <= MARKERS_UP_TO:
            parts.extend(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{color}"/>'
                for x, y in item.points
            )
        parts.append("</g>")
        parts.append(
            f'<rect x="{legend_x}" y="10" width="12" height="4" rx="1" fill="{color}"/>'
            f'<text x="{legend_x + 17}" y="16" class="legend">{escape(item.name)}</text>'
        )
        legend_x += 28 + 7 * len(item.name)
    parts.append("</svg>")
    return Markup("".join(parts))
