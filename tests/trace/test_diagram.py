"""The layered trace drawing: columns by depth, upstream left, crowded columns summarised."""

from __future__ import annotations

from xml.etree import ElementTree

from trace.diagram import DiagramNode, layout, to_svg


def chain(direction):
    depth = {"supplier": 3, "lot": 2, "batch": 1, "order_line": 0}
    if direction == "forward":
        depth = {"supplier": 0, "lot": 1, "batch": 2, "order_line": 3}
    nodes = [DiagramNode(k, "1", f"{k} <1> & co", d, start=d == 0) for k, d in depth.items()]
    edges = [
        (("supplier", "1"), ("lot", "1")),
        (("lot", "1"), ("batch", "1")),
        (("batch", "1"), ("order_line", "1")),
    ]
    return nodes, edges


def test_the_supply_chain_reads_left_to_right_in_both_directions():
    for direction in ("backward", "forward"):
        drawn = layout(*chain(direction), direction=direction)
        x = {b.node.kind: b.x for b in drawn.boxes}
        assert x["supplier"] < x["lot"] < x["batch"] < x["order_line"]
        assert len(drawn.links) == 3


def test_a_crowded_column_ends_with_a_summary_node():
    nodes = [DiagramNode("batch", "1", "batch", 0)] + [
        DiagramNode("order_line", str(i), f"line {i}", 1) for i in range(100)
    ]
    edges = [(("batch", "1"), ("order_line", str(i))) for i in range(100)]
    drawn = layout(nodes, edges, direction="forward", max_per_column=10)
    column = [b for b in drawn.boxes if b.x > 100]
    assert len(column) == 10 and column[-1].node.label == "+ 91 more order lines"
    assert len(drawn.links) == 9


def test_the_svg_is_well_formed_escaped_and_has_no_scripts_or_styles():
    drawn = layout(*chain("backward"), direction="backward")
    svg = to_svg(drawn, title="Trace <x>")
    root = ElementTree.fromstring(svg)  # noqa: S314  (our own output, in a test)
    assert root.tag.endswith("svg")
    assert "<1>" not in svg and "&lt;1&gt; &amp; co" in svg
    assert "<script" not in svg and "style=" not in svg


def test_an_empty_trace_draws_an_empty_canvas():
    drawn = layout([], [], direction="forward")
    assert drawn.boxes == () and drawn.width > 0
