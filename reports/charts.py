"""Report figures as reportlab drawings: the trace diagram and delivery temperature charts.

Pure: plain data in (reports.content), a `Drawing` out. The trace uses trace.diagram's layout
(columns by hop depth, the same picture as the web page); the chart follows sensors.chart's
conventions (dashed thresholds, excursions shaded red, gaps grey) and keeps at most the min
and max reading per horizontal point, so 10,000 readings cost a few hundred line segments.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from reportlab.graphics.shapes import Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors

from reports.content import TemperatureFigure, TraceFigure
from trace.diagram import COLOURS, DiagramNode, layout

FONT = "STSong-Light"
_STEPS = (0.5, 1, 2, 5, 10, 20, 25, 50)


# Characters STSong-Light (Adobe-GB1 via UniGB-UCS2-H) draws as a missing-glyph box.
_UNDRAWABLE = str.maketrans({"\u00b7": "|", "\u2013": "-", "\u2014": "-", "\u2026": "..."})


def drawable(text: str) -> str:
    """Text with the few characters the CID font lacks replaced by close equivalents."""
    return text.translate(_UNDRAWABLE)


def _clip(text: str, limit: int) -> str:
    text = drawable(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def trace_drawing(figure: TraceFigure, *, width: float, max_height: float) -> Drawing:
    """The backward trace, upstream (suppliers) on the left, scaled to fit width × max_height."""
    nodes = [DiagramNode(n.kind, n.id, n.label, n.depth) for n in figure.nodes]
    placed = layout(nodes, list(figure.edges), direction="backward", max_per_column=14)
    scale = min(width / placed.width, max_height / max(placed.height, 1.0), 1.0)
    drawing = Drawing(placed.width * scale, placed.height * scale)
    top = placed.height

    def y(value: float) -> float:
        return (top - value) * scale

    for src, dst in placed.links:
        left, right = (src, dst) if src.x <= dst.x else (dst, src)
        drawing.add(
            Line(
                (left.x + left.width) * scale,
                y(left.y + left.height / 2),
                right.x * scale,
                y(right.y + right.height / 2),
                strokeColor=colors.HexColor("#888888"),
                strokeWidth=0.6,
            )
        )
    for box in placed.boxes:
        fill, stroke = COLOURS.get(box.node.kind, COLOURS["more"])
        drawing.add(
            Rect(
                box.x * scale,
                y(box.y + box.height),
                box.width * scale,
                box.height * scale,
                rx=3,
                ry=3,
                fillColor=colors.HexColor(fill),
                strokeColor=colors.HexColor(stroke),
                strokeWidth=0.8,
            )
        )
        size = max(5.0, 9 * scale)
        drawing.add(
            String(
                (box.x + 6) * scale,
                y(box.y + box.height / 2) - size / 3,
                _clip(box.node.label, 28),
                fontName=FONT,
                fontSize=size,
            )
        )
    return drawing


def _nice(low: float, high: float) -> tuple[float, float, float]:
    if high - low < 1:
        low, high = low - 1, high + 1
    step = next((s for s in _STEPS if (high - low) / s <= 6), 100.0)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def _thin(points: list[tuple[float, float]], columns: int) -> list[tuple[float, float]]:
    """At most the lowest and highest point per x column (keeps peaks, drops the rest)."""
    if len(points) <= 2 * columns:
        return points
    best: dict[int, tuple[tuple[float, float], tuple[float, float]]] = {}
    for point in points:
        key = int(point[0])
        lo, hi = best.get(key, (point, point))
        best[key] = (point if point[1] < lo[1] else lo, point if point[1] > hi[1] else hi)
    out: list[tuple[float, float]] = []
    for key in sorted(best):
        lo, hi = best[key]
        out += sorted({lo, hi})
    return out


def temperature_drawing(
    figure: TemperatureFigure, *, width: float, height: float, tz: str, labels: dict[str, str]
) -> Drawing:
    """Readings over the delivery window with thresholds, excursions and gaps."""
    zone = ZoneInfo(tz)
    drawing = Drawing(width, height)
    left, bottom, plot_w, plot_h = 36.0, 22.0, width - 46.0, height - 34.0
    values = [c for _, c in figure.points]
    bounds = values + [b for b in (figure.low_c, figure.high_c) if b is not None]
    low, high, step = _nice(min(bounds or [0.0]), max(bounds or [10.0]))
    start, end = figure.start, max(figure.end, figure.start + timedelta(minutes=1))
    seconds = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        return left + plot_w * (moment - start).total_seconds() / seconds

    def y(celsius: float) -> float:
        return bottom + plot_h * (celsius - low) / (high - low)

    drawing.add(Rect(left, bottom, plot_w, plot_h, fillColor=None, strokeColor=colors.grey))
    for span, fill in [(e, "#fbd5d5") for e in figure.excursions] + [
        (g, "#e5e7eb") for g in figure.gaps
    ]:
        x0, x1 = max(left, x(span.start)), min(left + plot_w, x(span.end))
        drawing.add(
            Rect(
                x0,
                bottom,
                max(x1 - x0, 0.5),
                plot_h,
                fillColor=colors.HexColor(fill),
                strokeColor=None,
            )
        )
    tick = low
    while tick <= high + 1e-9:
        drawing.add(Line(left - 3, y(tick), left, y(tick), strokeColor=colors.grey))
        drawing.add(
            String(left - 5, y(tick) - 3, f"{tick:g}", fontName=FONT, fontSize=7, textAnchor="end")
        )
        tick += step
    for moment in (start, start + (end - start) / 2, end):
        drawing.add(
            String(
                x(moment),
                bottom - 10,
                moment.astimezone(zone).strftime("%m-%d %H:%M"),
                fontName=FONT,
                fontSize=7,
                textAnchor="middle",
            )
        )
    for bound in (figure.low_c, figure.high_c):
        if bound is not None and low <= bound <= high:
            drawing.add(
                Line(
                    left,
                    y(bound),
                    left + plot_w,
                    y(bound),
                    strokeDashArray=[4, 3],
                    strokeColor=colors.HexColor("#b91c1c"),
                    strokeWidth=0.8,
                )
            )
            drawing.add(
                String(
                    left + plot_w - 2,
                    y(bound) + 2,
                    f"{labels['safe_range']} {bound:g} °C",
                    fontName=FONT,
                    fontSize=6.5,
                    textAnchor="end",
                    fillColor=colors.HexColor("#b91c1c"),
                )
            )
    screen = _thin([(x(t), y(c)) for t, c in figure.points], int(plot_w))
    if len(screen) >= 2:
        flat = [v for point in screen for v in point]
        drawing.add(PolyLine(flat, strokeColor=colors.HexColor("#0072b2"), strokeWidth=0.9))
    legend = left
    for text, fill in ((labels["excursion"], "#fbd5d5"), (labels["gap"], "#e5e7eb")):
        drawing.add(
            Rect(
                legend,
                height - 10,
                8,
                6,
                fillColor=colors.HexColor(fill),
                strokeColor=colors.grey,
                strokeWidth=0.3,
            )
        )
        drawing.add(String(legend + 11, height - 9, text, fontName=FONT, fontSize=7))
        legend += 70
    drawing.add(String(left - 30, height - 9, "°C", fontName=FONT, fontSize=7))
    return drawing


def epicurve_drawing(onsets: list[datetime], *, width: float, height: float, tz: str) -> Drawing:
    """Onsets counted per 6-hour bin (local time) as bars: the outbreak's shape over time."""
    zone = ZoneInfo(tz)
    local = sorted(o.astimezone(zone) for o in onsets)
    first = local[0].replace(
        hour=local[0].hour - local[0].hour % 6, minute=0, second=0, microsecond=0
    )
    bins: dict[int, int] = {}
    for moment in local:
        key = int((moment - first).total_seconds() // (6 * 3600))
        bins[key] = bins.get(key, 0) + 1
    n_bins, peak = max(bins) + 1, max(bins.values())
    drawing = Drawing(width, height)
    left, bottom, plot_w, plot_h = 30.0, 18.0, width - 40.0, height - 26.0
    bar = plot_w / max(n_bins, 1)
    drawing.add(Line(left, bottom, left + plot_w, bottom, strokeColor=colors.grey))
    for key, count in bins.items():
        h = plot_h * count / peak
        drawing.add(
            Rect(
                left + key * bar + 1,
                bottom,
                max(bar - 2, 1),
                h,
                fillColor=colors.HexColor("#0072b2"),
                strokeColor=None,
            )
        )
        drawing.add(
            String(
                left + key * bar + bar / 2,
                bottom + h + 2,
                str(count),
                fontName=FONT,
                fontSize=7,
                textAnchor="middle",
            )
        )
    for key in sorted({0, n_bins - 1}):
        label = (first + timedelta(hours=6 * key)).strftime("%m-%d %H:%M")
        drawing.add(
            String(
                left + key * bar + bar / 2,
                bottom - 10,
                label,
                fontName=FONT,
                fontSize=7,
                textAnchor="middle",
            )
        )
    return drawing
