"""Traces loaded from the database reach exactly what walking the recorded links reaches."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.trace.campus import DESK, NOW, merchant_viewer, production, receipt
from trace import queries, service
from trace.commands import InputUse
from trace.errors import ForeignRecord, InvalidRecord, NotFound, TraceTooLarge
from trace.models import Merchant
from trace.rules import rules


@pytest.fixture
def web(session, campus):
    """A random supply web: 12 lots, 30 batches (each from 1-3 earlier lots/batches), 60 order
    lines; returns the links as recorded, for an independent walk."""
    rng = random.Random(4)
    merchant = session.get(Merchant, campus.north)
    viewer = merchant_viewer(campus.north)
    links: list[tuple[tuple[str, int], tuple[str, int]]] = []
    lots = []
    for i in range(12):
        supplier = campus.greens
        lot = service.receive_lot(
            session=session,
            viewer=viewer,
            receipt=receipt(campus, f"L{i}", supplier_id=supplier),
            now=NOW,
        )
        lots.append(lot.id)
        links.append((("supplier", supplier), ("lot", lot.id)))
    batches = []
    for i in range(30):
        sources = [("lot", x) for x in lots] + [("batch", x) for x in batches]
        chosen = rng.sample(sources, k=min(len(sources), rng.randint(1, 3)))
        inputs = [InputUse(quantity=1, unit="kg", kind=k, id=x) for k, x in chosen]
        at = NOW - timedelta(hours=20) + timedelta(minutes=30 * i)
        batch = service.produce_batch(
            session=session,
            viewer=viewer,
            production=production(campus, f"B{i}", inputs, completed_at=at),
            now=NOW,
        )
        batches.append(batch.id)
        links += [((k, x), ("batch", batch.id)) for k, x in chosen]
    allocations = []
    for line in range(1, 61):
        batch = rng.choice(batches)
        allocations.append((line, batch, 1.0, NOW - timedelta(minutes=line)))
        links.append((("batch", batch), ("order_line", line)))
    service.record_allocations(session=session, allocations=allocations, actor="user:o")
    assert merchant is not None
    return {"links": links, "lots": lots, "batches": batches}


def walk(links, start, direction):
    """Breadth-first reachability over the recorded links (independent of trace.graph)."""
    step: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for src, dst in links:
        a, b = (dst, src) if direction == "backward" else (src, dst)
        step.setdefault(a, []).append(b)
    seen = {start}
    queue = deque([start])
    while queue:
        for nxt in step.get(queue.popleft(), []):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def reached(result):
    return {(n.kind, int(n.id)) for n in result.nodes}


def test_backward_traces_reach_every_upstream_record(session, web):
    for line in (1, 17, 42, 60):
        result = queries.trace(
            session=session, viewer=DESK, kind="order_line", ident=line, direction="backward"
        )
        assert reached(result) == walk(web["links"], ("order_line", line), "backward")
    for batch in web["batches"][::7]:
        result = queries.trace(
            session=session, viewer=DESK, kind="batch", ident=batch, direction="backward"
        )
        assert reached(result) == walk(web["links"], ("batch", batch), "backward")


def test_forward_traces_reach_every_downstream_record(session, web, campus):
    for lot in web["lots"][::3]:
        result = queries.trace(
            session=session, viewer=DESK, kind="lot", ident=lot, direction="forward"
        )
        assert reached(result) == walk(web["links"], ("lot", lot), "forward")
    supplier = queries.trace(
        session=session, viewer=DESK, kind="supplier", ident=campus.greens, direction="forward"
    )
    assert reached(supplier) == walk(web["links"], ("supplier", campus.greens), "forward")


def test_each_node_carries_its_ledger_index_and_depth(session, web):
    result = queries.trace(
        session=session, viewer=DESK, kind="order_line", ident=5, direction="backward"
    )
    assert all(node.ledger_index is not None for node in result.nodes)
    depth = {(n.kind, int(n.id)): n.depth for n in result.nodes}
    for edge in result.edges:  # a node is one hop further than the nearer end of some edge
        src, dst = (edge.src[0], int(edge.src[1])), (edge.dst[0], int(edge.dst[1]))
        assert depth[src] <= depth[dst] + 1


def test_forward_time_bounds_drop_links_outside_the_window(session, web):
    lot = web["lots"][0]
    since, until = NOW - timedelta(hours=20), NOW - timedelta(hours=5)
    result = queries.trace(
        session=session,
        viewer=DESK,
        kind="lot",
        ident=lot,
        direction="forward",
        since=since,
        until=until,
    )
    for edge in result.edges:
        assert edge.at is None or since <= edge.at <= until
    assert reached(result) <= walk(web["links"], ("lot", lot), "forward")


def test_bad_trace_requests_are_refused(session, web, campus):
    with pytest.raises(NotFound):
        queries.trace(session=session, viewer=DESK, kind="lot", ident=999, direction="forward")
    with pytest.raises(InvalidRecord):
        queries.trace(session=session, viewer=DESK, kind="order_line", ident=1, direction="forward")
    with pytest.raises(InvalidRecord):
        queries.trace(
            session=session,
            viewer=DESK,
            kind="lot",
            ident=1,
            direction="forward",
            since=NOW,
            until=NOW - timedelta(hours=1),
        )
    with pytest.raises(ForeignRecord):
        queries.trace(
            session=session,
            viewer=merchant_viewer(campus.south),
            kind="order_line",
            ident=1,
            direction="backward",
        )


def test_a_trace_too_large_to_answer_asks_for_time_bounds(session, web, campus, monkeypatch):
    small = replace(rules(), max_trace_nodes=10)
    monkeypatch.setattr(queries, "rules", lambda: small)
    with pytest.raises(TraceTooLarge):
        queries.trace(
            session=session, viewer=DESK, kind="supplier", ident=campus.greens, direction="forward"
        )
