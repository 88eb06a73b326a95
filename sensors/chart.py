"""A delivery's temperature timeline as a self-contained SVG string (pages and PDF reports).

Pure: readings, the window, the safe range and the judge's excursions and gaps in; SVG text out.
Thresholds are dashed lines, excursions shaded red, data gaps hatched grey with the line broken
across them. Only presentation attributes are used (no style attributes or scripts), so the SVG
passes a strict Content-Security-Policy when inlined and renders in any SVG rasteriser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from xml.sax.saxutils import escape

from sensors.profiles import SafeRange
from sensors.rules import Excursion, Gap

_TICK_STEPS = [timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 240, 360, 720, 1440)]
_DEGREE_STEPS = (0.5, 1, 2, 5, 10, 20, 25, 50)


@dataclass(frozen=True, slots=True)
class ChartLabels:
    """The words on the chart, already translated by the caller."""

    title: str = "Temperature"
    unit: str = "°C"
    excursion: str = "excursion"
    gap: str = "no data"
    no_readings: str = "no readings in this window"


@dataclass(frozen=True, slots=True)
class _Frame:
    """Maps (time, °C) to SVG coordinates inside the plot area."""

    start: datetime
    seconds: float
    low: float
    high: float
    left: float
    top: float
    width: float
    height: float

    def x(self, moment: datetime) -> float:
        return self.left + self.width * (moment - self.start).total_seconds() / self.seconds

    def y(self, celsius: float) -> float:
        return self.top + self.height * (self.high - celsius) / (self.high - self.low)


def _nice_range(values: Sequence[float]) -> tuple[float, float, float]:
    """Axis bounds and a tick step that enclose the values with a little headroom."""
    low, high = min(values), max(values)
    if high - low < 1:
        low, high = low - 1, high + 1
    step = next((s for s in _DEGREE_STEPS if (high - low) / s <= 8), 100.0)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def _thin(points: Sequence[tuple[datetime, float]], frame: _Frame) -> list[tuple[float, float]]:
    """Screen points, keeping the min and max per pixel column when readings are dense."""
    screen = [(frame.x(t), frame.y(c)) for t, c in points]
    if len(screen) <= 2 * frame.width:
        return screen
    columns: dict[int, list[tuple[float, float]]] = {}
    for x, y in screen:
        columns.setdefault(int(x), []).append((x, y))
    out = []
    for column in columns.values():
        lo, hi = min(column, key=lambda p: p[1]), max(column, key=lambda p: p[1])
        out += sorted({lo, hi})
    return out


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def timeline_svg(
    points: Sequence[tuple[datetime, float]],
    *,
    start: datetime,
    end: datetime,
    safe: SafeRange | None,
    excursions: Sequence[Excursion] = (),
    gaps: Sequence[Gap] = (),
    tz: tzinfo,
    labels: ChartLabels | None = None,
    width: int = 760,
    height: int = 300,
) -> str:
    """The SVG of readings (time, °C) over [start, end]; times are shown in `tz`."""
    labels = labels or ChartLabels()
    if end <= start:
        end = start + timedelta(minutes=1)
    bounds = [c for _, c in points]
    bounds += [b for b in (safe.low, safe.high) if b is not None] if safe else []
    low, high, step = _nice_range(bounds or [0.0, 10.0])
    frame = _Frame(start, (end - start).total_seconds(), low, high, 56, 28, width - 72, height - 64)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(labels.title)}" class="timeline">',
        f"<title>{escape(labels.title)}</title>",
        '<defs><pattern id="gap-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f3f4f6"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#9ca3af" stroke-width="2"/></pattern></defs>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    out += _axes(frame, step, tz, labels)
    out += _spans(frame, excursions, gaps, labels)
    out += _thresholds(frame, safe, labels)
    out += _series(frame, points, gaps, labels)
    out.append("</svg>")
    return "\n".join(out)


def _axes(frame: _Frame, step: float, tz: tzinfo, labels: ChartLabels) -> list[str]:
    out = []
    value = frame.low
    while value <= frame.high + 1e-9:
        y = _fmt(frame.y(value))
        right = _fmt(frame.left + frame.width)
        out.append(
            f'<line class="grid" x1="{_fmt(frame.left)}" y1="{y}" x2="{right}" y2="{y}" '
            'stroke="#e5e7eb" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{_fmt(frame.left - 6)}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle" font-size="11" fill="#5b6475">{value:g}</text>'
        )
        value += step
    tick = next((s for s in _TICK_STEPS if frame.seconds / s.total_seconds() <= 8), _TICK_STEPS[-1])
    local = frame.start.astimezone(tz)
    first = local.replace(second=0, microsecond=0)
    minutes = int(tick.total_seconds() // 60)
    first -= timedelta(minutes=(first.hour * 60 + first.minute) % minutes)
    moment = first
    bottom = _fmt(frame.top + frame.height)
    while moment <= frame.start + timedelta(seconds=frame.seconds):
        if moment >= frame.start:
            x = _fmt(frame.x(moment))
            text = (
                moment.strftime("%H:%M") if tick < timedelta(days=1) else moment.strftime("%m-%d")
            )
            out.append(
                f'<line x1="{x}" y1="{bottom}" x2="{x}" y2="{_fmt(frame.top + frame.height + 4)}" '
                'stroke="#5b6475"/>'
                f'<text x="{x}" y="{_fmt(frame.top + frame.height + 18)}" text-anchor="middle" '
                f'font-size="11" fill="#5b6475">{text}</text>'
            )
        moment += tick
    out.append(
        f'<text x="12" y="{_fmt(frame.top - 10)}" font-size="12" fill="#1d2330">'
        f"{escape(labels.unit)}</text>"
    )
    return out


def _spans(
    frame: _Frame, excursions: Sequence[Excursion], gaps: Sequence[Gap], labels: ChartLabels
) -> list[str]:
    out = []
    for kind, spans, fill in (
        ("gap", gaps, 'fill="url(#gap-hatch)"'),
        ("excursion", excursions, 'fill="#b42318" fill-opacity="0.16"'),
    ):
        for span in spans:
            x0, x1 = frame.x(span.start), frame.x(span.end)
            name = escape(labels.gap if kind == "gap" else labels.excursion)
            out.append(
                f'<rect class="{kind}" x="{_fmt(x0)}" y="{_fmt(frame.top)}" '
                f'width="{_fmt(max(x1 - x0, 1.0))}" height="{_fmt(frame.height)}" {fill}>'
                f"<title>{name}</title></rect>"
            )
    return out


def _thresholds(frame: _Frame, safe: SafeRange | None, labels: ChartLabels) -> list[str]:
    out: list[str] = []
    if safe is None:
        return out
    for bound, inclusive, upper in (
        (safe.low, safe.low_inclusive, False),
        (safe.high, safe.high_inclusive, True),
    ):
        if bound is None:
            continue
        y = _fmt(frame.y(bound))
        sign = ("≤" if inclusive else "<") if upper else ("≥" if inclusive else ">")
        out.append(
            f'<line class="threshold" x1="{_fmt(frame.left)}" y1="{y}" '
            f'x2="{_fmt(frame.left + frame.width)}" y2="{y}" stroke="#0b6e4f" '
            'stroke-width="1.5" stroke-dasharray="6 4"/>'
            f'<text x="{_fmt(frame.left + frame.width - 4)}" y="{_fmt(frame.y(bound) - 5)}" '
            f'text-anchor="end" font-size="11" fill="#0b6e4f">{sign} {bound:g} '
            f"{escape(labels.unit)}</text>"
        )
    return out


def _series(
    frame: _Frame,
    points: Sequence[tuple[datetime, float]],
    gaps: Sequence[Gap],
    labels: ChartLabels,
) -> list[str]:
    if not points:
        mid_x, mid_y = _fmt(frame.left + frame.width / 2), _fmt(frame.top + frame.height / 2)
        return [
            f'<text x="{mid_x}" y="{mid_y}" text-anchor="middle" font-size="14" fill="#5b6475">'
            f"{escape(labels.no_readings)}</text>"
        ]
    # The line is broken at every gap: a missing stretch must not look like a measured one.
    cuts = sorted(g.start for g in gaps)
    runs: list[list[tuple[datetime, float]]] = [[]]
    for moment, celsius in points:
        while cuts and moment > cuts[0]:
            cuts.pop(0)
            if runs[-1]:
                runs.append([])
        runs[-1].append((moment, celsius))
    out = []
    for run in runs:
        screen = _thin(run, frame)
        if len(screen) == 1:
            x, y = screen[0]
            out.append(
                f'<circle class="series" cx="{_fmt(x)}" cy="{_fmt(y)}" r="2" fill="#1d4ed8"/>'
            )
        elif screen:
            path = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in screen)
            out.append(
                f'<polyline class="series" points="{path}" fill="none" stroke="#1d4ed8" '
                'stroke-width="1.5" stroke-linejoin="round"/>'
            )
    return out
