"""The timeline SVG: thresholds as lines, excursions shaded, gaps marked, CSP-safe markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # the SVG is our own output, not untrusted input
from datetime import UTC, datetime, timedelta

from sensors.chart import ChartLabels, timeline_svg
from sensors.rules import get_profile, judge_delivery

T0 = datetime(2025, 3, 1, 3, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SVG = "{http://www.w3.org/2000/svg}"


def chart(values, *, gap_after=None, food_class="hot"):
    points = [(T0 + i * MIN, v) for i, v in enumerate(values)]
    if gap_after is not None:
        points = [
            (t + (20 * MIN if i > gap_after else 0 * MIN), v) for i, (t, v) in enumerate(points)
        ]
    end = points[-1][0] if points else T0 + 30 * MIN
    verdict = judge_delivery(
        points, pickup_at=T0, dropoff_at=end, food_class=food_class, profile="gb31654"
    )
    svg = timeline_svg(
        points,
        start=T0,
        end=end,
        safe=get_profile("gb31654").rule(food_class).safe,
        excursions=verdict.excursions,
        gaps=verdict.gaps,
        tz=UTC,
        labels=ChartLabels(title="Box <1> & co"),
    )
    return svg, ET.fromstring(svg), verdict  # noqa: S314


def by_class(root, name):
    return [e for e in root.iter() if e.get("class") == name]


def test_threshold_is_a_line_at_the_safe_bound():
    _, root, _ = chart([65.0, 66.0, 64.0])
    (line,) = by_class(root, "threshold")
    assert line.tag == SVG + "line" and line.get("y1") == line.get("y2")
    assert any(t.text and "> 60 °C" in t.text for t in root.iter(SVG + "text"))


def test_each_excursion_is_a_shaded_rectangle_spanning_its_minutes():
    _, root, verdict = chart([65.0, 50.0, 49.0, 65.0, 66.0, 55.0, 65.0])
    rects = by_class(root, "excursion")
    assert len(rects) == len(verdict.excursions) == 2
    widths = [float(r.get("width")) for r in rects]
    assert widths[0] > widths[1]  # two minutes outside, then one


def test_gaps_are_hatched_and_break_the_line():
    _, root, verdict = chart([65.0] * 10, gap_after=4)
    assert len(by_class(root, "gap")) == len(verdict.gaps) == 1
    assert len([e for e in by_class(root, "series") if e.tag == SVG + "polyline"]) == 2


def test_markup_is_escaped_and_has_no_style_or_script():
    svg, root, _ = chart([65.0])
    assert "Box &lt;1&gt; &amp; co" in svg
    assert "style=" not in svg and "<script" not in svg
    assert root.find(SVG + "title").text == "Box <1> & co"


def test_an_empty_window_says_there_are_no_readings():
    svg, _, _ = chart([])
    assert "no readings in this window" in svg


def test_dense_readings_are_thinned_to_the_pixel_columns():
    points = [(T0 + i * timedelta(seconds=1), 65.0 + (i % 7)) for i in range(20_000)]
    svg = timeline_svg(points, start=T0, end=points[-1][0], safe=None, tz=UTC)
    (line,) = ET.fromstring(svg).iter(SVG + "polyline")  # noqa: S314
    assert len(line.get("points").split()) <= 2 * 760
