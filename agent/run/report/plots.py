"""Small inline SVG charts for the report's summary: bars of counts and histograms of numbers.

Plain SVG text, no script and no library: the page opens from disk anywhere.
"""

from __future__ import annotations

import math
from html import escape

BAR = "#4a78b8"
STATUS_COLOURS = {"ok": "#2e8b57", "degraded": "#d2901c", "failed": "#c0392b"}
WIDTH = 360
ROW = 20


def bar_chart(title: str, counts: dict[str, int], colours: dict[str, str] | None = None, most: int = 12) -> str:
    """Horizontal bars, largest first (at most ``most``; the rest summed as 'other')."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) > most:
        items = items[:most - 1] + [("other", sum(n for _, n in items[most - 1:]))]
    label_w, top = 120, 24
    height = top + ROW * max(len(items), 1) + 6
    scale = (WIDTH - label_w - 40) / max([n for _, n in items] or [1])
    parts = [_head(title, height)]
    if not items:
        parts.append(f'<text x="8" y="{top + 14}" class="empty">no data</text>')
    for i, (label, n) in enumerate(items):
        y = top + i * ROW
        colour = (colours or {}).get(label, BAR)
        w = max(n * scale, 1)
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(_cut(label))}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{ROW - 6}" fill="{colour}">'
                     f'<title>{escape(label)}: {n}</title></rect>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(title: str, values: list[float], unit: str, bins: int = 10) -> str:
    """Counts of ``values`` in equal bins between their least and greatest."""
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    height, top, bottom = 160, 34, 32
    parts = [_head(title, height)]
    if not values:
        parts.append(f'<text x="8" y="{top + 14}" class="empty">no data</text></svg>')
        return "".join(parts)
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    n_bins = bins if high > low else 1
    counts = [0] * n_bins
    for v in values:
        counts[min(int((v - low) / span * n_bins), n_bins - 1)] += 1
    plot_h = height - top - bottom
    bar_w = (WIDTH - 20) / n_bins
    tallest = max(counts)
    for i, n in enumerate(counts):
        h = n / tallest * plot_h
        x = 10 + i * bar_w
        lo = low + span * i / n_bins
        hi = low + span * (i + 1) / n_bins
        parts.append(f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                     f'fill="{BAR}"><title>{_num(lo)} to {_num(hi)} {escape(unit)}: {n}</title></rect>')
        if n:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - h - 3:.1f}" text-anchor="middle" '
                         f'class="small">{n}</text>')
    axis_y = top + plot_h + 14
    parts.append(f'<text x="10" y="{axis_y}" class="small">{_num(low)}</text>'
                 f'<text x="{WIDTH - 10}" y="{axis_y}" text-anchor="end" class="small">{_num(high)} {escape(unit)}</text>'
                 f'<text x="{WIDTH / 2:.0f}" y="{axis_y + 14}" text-anchor="middle" class="small">'
                 f'median {_num(_median(values))} {escape(unit)}, {len(values)} clip(s)</text></svg>')
    return "".join(parts)


def _head(title: str, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">'
            f'<text x="8" y="16" class="title">{escape(title)}</text>')


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _num(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:.1f}"


def _cut(label: str, most: int = 18) -> str:
    return label if len(label) <= most else label[:most - 1] + "…"
