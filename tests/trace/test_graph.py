"""Behaviour of the pure trace graph: traversal, diamonds, cycles, time bounds, speed."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trace.graph import (
    CycleError,
    Edge,
    GraphError,
    NodeId,
    TraceGraph,
    backward,
    forward,
    validate_acyclic,
    would_create_cycle,
)

T0 = datetime(2025, 3, 1, 11, 0, tzinfo=UTC)

SUPPLIER: NodeId = ("supplier", "S1")
CHILI: NodeId = ("lot", "CHILI-1")
OIL: NodeId = ("lot", "OIL-1")
NOODLES: NodeId = ("lot", "NOODLE-1")
SAUCE: NodeId = ("batch", "SAUCE-1")
DISH: NodeId = ("batch", "DISH-1")
LINE_A: NodeId = ("order_line", "L-A")
LINE_B: NodeId = ("order_line", "L-B")
ORDER_A: NodeId = ("order", "O-A")
ORDER_B: NodeId = ("order", "O-B")
ALICE: NodeId = ("customer", "alice")
BOB: NodeId = ("customer", "bob")


def canteen_edges() -> list[Edge]:
    """Chili and oil make a sauce; sauce and noodles make a dish; two customers eat it."""
    return [
        Edge(SUPPLIER, CHILI, "supplied"),
        Edge(SUPPLIER, OIL, "supplied"),
        Edge(("supplier", "S2"), NOODLES, "supplied"),
        Edge(CHILI, SAUCE, "input", 2.0, T0),
        Edge(OIL, SAUCE, "input", 1.0, T0),
        Edge(SAUCE, DISH, "input", 0.5, T0 + timedelta(minutes=30)),
        Edge(NOODLES, DISH, "input", 5.0, T0 + timedelta(minutes=30)),
        Edge(DISH, LINE_A, "served", 1.0, T0 + timedelta(hours=1)),
        Edge(DISH, LINE_B, "served", 1.0, T0 + timedelta(hours=3)),
        Edge(LINE_A, ORDER_A, "line_of"),
        Edge(LINE_B, ORDER_B, "line_of"),
        Edge(ORDER_A, ALICE, "placed_by"),
        Edge(ORDER_B, BOB, "placed_by"),
    ]


def test_backward_trace_of_order_line_reaches_sub_batches_lots_and_suppliers() -> None:
    graph = TraceGraph.from_edges(canteen_edges())
    trace = backward(graph, LINE_A)
    assert set(trace.nodes) == {
        LINE_A,
        DISH,
        SAUCE,
        NOODLES,
        CHILI,
        OIL,
        SUPPLIER,
        ("supplier", "S2"),
    }
    assert trace.depth[DISH] == 1
    assert trace.depth[SAUCE] == 2
    assert trace.depth[CHILI] == 3
    assert trace.depth[SUPPLIER] == 4
    assert LINE_B not in trace


def test_forward_trace_reaches_orders_of_sauce_batches() -> None:
    graph = TraceGraph.from_edges(canteen_edges())
    trace = forward(graph, CHILI)
    assert set(trace.ids("order_line")) == {"L-A", "L-B"}
    assert set(trace.ids("customer")) == {"alice", "bob"}
    assert trace.ids("batch") == ["SAUCE-1", "DISH-1"]
    assert OIL not in trace and SUPPLIER not in trace
    # chili → sauce → dish → line → order → customer
    assert trace.depth[ALICE] == 5


def test_diamond_counts_each_node_once_at_shortest_depth() -> None:
    edges = [*canteen_edges(), Edge(CHILI, DISH, "input", 0.1, T0 + timedelta(minutes=30))]
    graph = TraceGraph.from_edges(edges)
    trace = forward(graph, CHILI)
    assert len(trace.nodes) == len(set(trace.nodes))
    assert trace.nodes.count(DISH) == 1
    assert trace.depth[DISH] == 1
    # both paths into the dish are kept as edges
    into_dish = [(e.src, e.dst) for e in trace.edges if e.dst == DISH]
    assert sorted(into_dish) == sorted([(SAUCE, DISH), (CHILI, DISH)])
    up = backward(graph, LINE_A)
    assert up.nodes.count(CHILI) == 1


def test_forward_time_bounds_skip_order_lines_served_outside_the_window() -> None:
    graph = TraceGraph.from_edges(canteen_edges())
    early = forward(graph, CHILI, until=T0 + timedelta(hours=2))
    assert early.ids("order_line") == ["L-A"]
    assert early.ids("customer") == ["alice"]
    late = forward(graph, CHILI, since=T0 + timedelta(hours=2))
    # the sauce and dish edges happened before `since`, so nothing downstream is reached
    assert late.ids("order_line") == []
    from_dish = forward(graph, DISH, since=T0 + timedelta(hours=2))
    assert from_dish.ids("order_line") == ["L-B"]
    # line → order → customer carry no time and are always followed
    assert from_dish.ids("customer") == ["bob"]


def test_forward_rejects_naive_time_bounds() -> None:
    graph = TraceGraph.from_edges(canteen_edges())
    with pytest.raises(GraphError):
        forward(graph, CHILI, since=datetime(2025, 1, 1))


def test_cycle_of_batches_is_rejected_naming_its_nodes() -> None:
    a, b, c = ("batch", "A"), ("batch", "B"), ("batch", "C")
    edges = [Edge(a, b, "input"), Edge(b, c, "input"), Edge(c, a, "input")]
    with pytest.raises(CycleError) as caught:
        TraceGraph.from_edges(edges)
    cycle = caught.value.cycle
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {a, b, c}
    assert "batch:A" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_batch_feeding_itself_is_a_cycle() -> None:
    with pytest.raises(CycleError):
        TraceGraph.from_edges([Edge(SAUCE, SAUCE, "input")])


def test_would_create_cycle_detects_output_upstream_of_an_input() -> None:
    graph = TraceGraph.from_edges(canteen_edges())
    # the dish already contains the sauce: making sauce from the dish closes a loop
    assert would_create_cycle(graph, [DISH, OIL], SAUCE)
    assert would_create_cycle(graph, [SAUCE], SAUCE)
    assert not would_create_cycle(graph, [SAUCE, NOODLES], ("batch", "DISH-2"))
    assert not would_create_cycle(graph, [CHILI], DISH)
    # and the check agrees with building the extended graph
    with pytest.raises(CycleError):
        TraceGraph.from_edges([*canteen_edges(), Edge(DISH, SAUCE, "input")])


@pytest.mark.parametrize(
    ("edge", "fragment"),
    [
        (Edge(SUPPLIER, DISH, "supplied"), "no edge may link"),
        (Edge(CHILI, SAUCE, "served"), "expected 'input'"),
        (Edge(CHILI, SAUCE, "input", 0.0), "not > 0"),
        (Edge(CHILI, SAUCE, "input", float("nan")), "not > 0"),
        (Edge(CHILI, SAUCE, "input", None, datetime(2025, 1, 1)), "timezone"),
        (Edge(("lorry", "X"), SAUCE, "input"), "no edge may link"),
    ],
)
def test_edges_the_model_does_not_allow_are_rejected(edge: Edge, fragment: str) -> None:
    with pytest.raises(GraphError, match=fragment):
        TraceGraph.from_edges([edge])


def test_unknown_start_yields_only_itself_and_isolated_nodes_are_members() -> None:
    lonely: NodeId = ("lot", "UNUSED")
    graph = TraceGraph.from_edges(canteen_edges(), nodes=[lonely])
    assert lonely in graph
    assert ("lot", "NOPE") not in graph
    assert backward(graph, lonely).nodes == (lonely,)
    assert forward(graph, ("lot", "NOPE")).nodes == (("lot", "NOPE"),)
    assert (
        len(graph) == len({e.src for e in canteen_edges()} | {e.dst for e in canteen_edges()}) + 1
    )
    assert graph.edge_count == len(canteen_edges())


def test_subgraph_as_dict_is_json_ready() -> None:
    graph = TraceGraph.from_edges(canteen_edges())
    trace = forward(graph, SAUCE)
    data = json.loads(json.dumps(trace.as_dict()))
    assert data["start"] == {"kind": "batch", "id": "SAUCE-1"}
    assert data["direction"] == "forward"
    assert {(n["kind"], n["id"]) for n in data["nodes"]} == set(trace.nodes)
    served = [e for e in data["edges"] if e["kind"] == "served"]
    assert {e["at"] for e in served} == {
        (T0 + timedelta(hours=1)).isoformat(),
        (T0 + timedelta(hours=3)).isoformat(),
    }


def test_long_chain_of_sub_batches_needs_no_recursion() -> None:
    n = 5_000
    chain = [("batch", f"B{i}") for i in range(n)]
    edges = [Edge(chain[i], chain[i + 1], "input") for i in range(n - 1)]
    graph = TraceGraph.from_edges([Edge(CHILI, chain[0], "input"), *edges])
    assert backward(graph, chain[-1]).depth[CHILI] == n
    assert would_create_cycle(graph, [chain[-1]], chain[0])
    validate_acyclic(graph)


def _best_of(runs: int, action: object) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        timings.append(time.perf_counter() - started)
    return min(timings)


def test_trace_speed_on_a_busy_lot() -> None:
    """One lot feeds 400 batches serving 10,000 order lines among 100,000 other edges."""
    busy: NodeId = ("lot", "BUSY")
    edges: list[Edge] = [Edge(SUPPLIER, busy, "supplied")]
    for b in range(400):
        batch: NodeId = ("batch", f"HOT{b}")
        edges.append(Edge(busy, batch, "input", 1.0))
        edges.append(Edge(("lot", f"SIDE{b % 50}"), batch, "input", 1.0))
        for k in range(25):
            line: NodeId = ("order_line", f"HOT{b}-{k}")
            edges.append(Edge(batch, line, "served", 1.0, T0))
            edges.append(Edge(line, ("order", f"HOT{b}-{k}"), "line_of"))
    for i in range(50_000):  # unrelated traffic the trace must not pay for
        edges.append(Edge(("batch", f"COLD{i % 2000}"), ("order_line", f"C{i}"), "served"))
        edges.append(Edge(("order_line", f"C{i}"), ("order", f"C{i}"), "line_of"))
    graph = TraceGraph.from_edges(edges)
    assert len(forward(graph, busy).ids("order_line")) == 10_000
    assert _best_of(3, lambda: forward(graph, busy)) < 0.3
    assert _best_of(3, lambda: backward(graph, ("order_line", "HOT7-3"))) < 0.01


@st.composite
def random_dags(draw: st.DrawFn) -> list[Edge]:
    """Batches only link to later-numbered batches, so the graph is acyclic by construction."""
    n_lots = draw(st.integers(1, 5))
    n_batches = draw(st.integers(1, 8))
    edges: list[Edge] = []
    for b in range(n_batches):
        for lot in draw(st.sets(st.integers(0, n_lots - 1), max_size=3)):
            edges.append(Edge(("lot", f"L{lot}"), ("batch", f"B{b}"), "input"))
        for earlier in draw(st.sets(st.integers(0, b - 1), max_size=3) if b else st.just(set())):
            edges.append(Edge(("batch", f"B{earlier}"), ("batch", f"B{b}"), "input"))
        for k in range(draw(st.integers(0, 2))):
            edges.append(Edge(("batch", f"B{b}"), ("order_line", f"OL{b}-{k}"), "served"))
    return edges


def _reachable(edges: list[Edge], start: NodeId) -> set[NodeId]:
    """Fixed-point closure over the edge list: slow but obviously right."""
    reached = {start}
    changed = True
    while changed:
        changed = False
        for edge in edges:
            if edge.src in reached and edge.dst not in reached:
                reached.add(edge.dst)
                changed = True
    return reached


@settings(max_examples=60, deadline=None)
@given(random_dags())
def test_forward_and_backward_match_plain_reachability(edges: list[Edge]) -> None:
    graph = TraceGraph.from_edges(edges)
    nodes = {e.src for e in edges} | {e.dst for e in edges}
    for node in nodes:
        assert set(forward(graph, node).nodes) == _reachable(edges, node)
        upstream = {other for other in nodes if node in _reachable(edges, other)}
        assert set(backward(graph, node).nodes) == upstream


def test_import_trace_resolves_to_the_project_package_not_the_stdlib() -> None:
    import trace

    repo_root = Path(__file__).resolve().parents[2]
    assert Path(trace.__file__).resolve() == repo_root / "trace" / "__init__.py"
