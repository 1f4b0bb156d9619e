"""Small server-side SVG charts (bars, columns, funnel) for the dashboard and the period reports.

Built with markupsafe (every label escaped, the result a Markup), so a project, unit or user name
can never become markup in a page. Plain SVG with inline styles and Chinese-capable font names: the same markup works in a page and, as
a data: URI image, in a WeasyPrint PDF. Every chart comes with the table behind it on the page.
"""
from __future__ import annotations

from markupsafe import Markup, escape

from workflows.rendering.diagram import FONT

COLOURS = ["#1f6fb2", "#2e7d32", "#d35400", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#b7950b"]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _svg(width: float, height: float, title: str, body: str) -> Markup:
    # Every string put into the markup (labels, titles, units, colours) goes through markupsafe's
    # escape, which also escapes quotes; numbers are formatted in. The whole is Markup for the templates.
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width:.0f}" '
                  f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" font-family="{escape(FONT)}">'
                  f"<title>{escape(title)}</title>{body}</svg>")


def _label_width(labels: list[str], size: float) -> float:
    return max([sum(size if ord(c) > 0x2E7F else size * 0.6 for c in s) for s in labels] + [40])


def bar_chart(rows: list[tuple[str, float]], title: str, unit: str = "", width: float = 520,
              colour: str = COLOURS[0]) -> Markup:
    """Horizontal bars, one per (label, value), the value written at the end of each bar."""
    size, bar, gap = 12, 18, 8
    label_w = min(_label_width([r[0] for r in rows], size) + 10, width * 0.42)
    top = 8
    height = top + max(1, len(rows)) * (bar + gap) + 8
    peak = max([v for _, v in rows] + [0]) or 1
    room = width - label_w - 90
    parts = []
    if not rows:
        parts.append(f'<text x="{width / 2:.0f}" y="{height / 2 + 4:.0f}" font-size="{size}" text-anchor="middle" '
                     f'fill="#6b7280">本期无数据</text>')
    for i, (label, value) in enumerate(rows):
        y = top + i * (bar + gap)
        w = room * value / peak if value > 0 else 0
        parts.append(
            f'<g class="bar" data-label="{escape(label)}" data-value="{escape(value)}">'
            f'<text x="{label_w - 6:.0f}" y="{y + bar - 5}" font-size="{size}" text-anchor="end" fill="#1f2933">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w:.0f}" y="{y}" width="{w:.1f}" height="{bar}" rx="2" fill="{escape(colour)}"/>'
            f'<text x="{label_w + w + 5:.1f}" y="{y + bar - 5}" font-size="{size}" fill="#1f2933">'
            f"{_fmt(value)}{escape(unit)}</text></g>")
    return _svg(width, height, title, "".join(parts))


def column_chart(rows: list[tuple[str, float]], title: str, unit: str = "", width: float = 520,
                 height: float = 220, colour: str = COLOURS[0]) -> Markup:
    """Vertical columns (months along the bottom)."""
    size, left, bottom, top = 11, 10, 34, 22
    n = max(1, len(rows))
    slot = (width - 2 * left) / n
    peak = max([v for _, v in rows] + [0]) or 1
    room = height - top - bottom
    parts = [f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" y2="{height - bottom}" stroke="#9aa1ab"/>']
    for i, (label, value) in enumerate(rows):
        x = left + i * slot
        h = room * value / peak if value > 0 else 0
        short = label.split("年")[-1] if "年" in label else label
        parts.append(
            f'<g class="column" data-label="{escape(label)}" data-value="{escape(value)}">'
            f'<rect x="{x + slot * 0.18:.1f}" y="{height - bottom - h:.1f}" width="{slot * 0.64:.1f}" '
            f'height="{h:.1f}" fill="{escape(colour)}"/>'
            f'<text x="{x + slot / 2:.1f}" y="{height - bottom + 15}" font-size="{size}" text-anchor="middle" '
            f'fill="#1f2933">{escape(short)}</text>'
            + (f'<text x="{x + slot / 2:.1f}" y="{height - bottom - h - 4:.1f}" font-size="{size}" '
               f'text-anchor="middle" fill="#1f2933">{_fmt(value)}</text>' if value else "")
            + "</g>")
    parts.append(f'<text x="{left}" y="12" font-size="{size}" fill="#6b7280">{escape(unit)}</text>')
    return _svg(width, height, title, "".join(parts))


def funnel_chart(rows: list[tuple[str, int]], title: str, width: float = 520) -> Markup:
    """A funnel: centred bars narrowing with the count, the count and share of the first step written in."""
    size, bar, gap = 12, 24, 4
    height = len(rows) * (bar + gap) + 8
    first = rows[0][1] if rows else 0
    peak = max([v for _, v in rows] + [0]) or 1
    label_w = 120
    room = width - label_w - 10
    parts = []
    for i, (label, value) in enumerate(rows):
        y = 4 + i * (bar + gap)
        w = max(2.0, room * value / peak) if value else 0
        x = label_w + (room - w) / 2
        share = f"（{100 * value / first:.0f}%）" if first else ""
        colour = COLOURS[min(i, len(COLOURS) - 1)] if i < 6 else "#2e7d32"
        parts.append(
            f'<g class="funnel-step" data-label="{escape(label)}" data-value="{escape(value)}">'
            f'<text x="{label_w - 8}" y="{y + bar - 7}" font-size="{size}" text-anchor="end" fill="#1f2933">'
            f"{escape(label)}</text>"
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{escape(colour)}" opacity="0.85"/>'
            f'<text x="{label_w + room / 2:.1f}" y="{y + bar - 7}" font-size="{size}" text-anchor="middle" '
            f'fill="{"#fff" if w > 80 else "#1f2933"}" font-weight="bold">{value}{share}</text></g>')
    return _svg(width, height, title, "".join(parts))


def heat_colour(value: float, peak: float) -> str:
    """Pale yellow (short wait) → deep red (the longest wait in the picture)."""
    ratio = 0.0 if peak <= 0 else max(0.0, min(1.0, value / peak))
    low, high = (255, 247, 204), (215, 48, 31)
    r, g, b = (round(a + (c - a) * ratio) for a, c in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"
