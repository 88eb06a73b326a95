"""Trace queries: backward from an order line, batch or lot; forward from a lot, batch or supplier.

The neighbourhood is loaded from SQL (trace.neighbourhood), walked with the pure trace.graph
functions, then labelled. Merchants may start only from their own records; they do not see
customers, and other merchants' records reached by a trace appear without their labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlmodel import Session

from trace import graph
from trace.access import Viewer
from trace.errors import ForeignRecord, InvalidRecord, NotFound, TraceTooLarge
from trace.models import BatchAllocation, DishBatch, LotTransfer
from trace.neighbourhood import NodeInfo, TooManyNodes, Window, load, node_info
from trace.rules import rules
from trace.throughput import collector_paused

START_KINDS = {
    "backward": ("order_line", "batch", "lot"),
    "forward": ("lot", "batch", "supplier"),
}
HIDDEN_FROM_MERCHANTS = frozenset({"customer"})  # personal data (PIPL): the desk's only


class TraceNode(NamedTuple):
    """A node of a trace answer (a NamedTuple: cheap to build by the ten thousand)."""

    kind: str
    id: str
    label: str
    depth: int
    ledger_index: int | None = None
    merchant_id: int | None = None
    at: datetime | None = None
    status: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "id": self.id,
            "label": self.label,
            "depth": self.depth,
            "ledger_index": self.ledger_index,
            "merchant_id": self.merchant_id,
            "at": self.at.isoformat() if self.at else None,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class TraceResult:
    """Nodes (in visiting order, with hop depth) and edges of one trace."""

    start: graph.NodeId
    direction: graph.Direction
    nodes: tuple[TraceNode, ...]
    edges: tuple[graph.Edge, ...]
    window: Window

    def count(self, kind: str) -> int:
        """How many nodes of a kind the trace reached (start included)."""
        return sum(1 for n in self.nodes if n.kind == kind)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the same as graph.Edge.as_dict per edge; times repeat, so each is
        written once)."""
        with collector_paused():
            return self._as_dict()

    def _as_dict(self) -> dict[str, Any]:
        times: dict[datetime, str] = {}

        def iso(moment: datetime | None) -> str | None:
            if moment is None:
                return None
            if moment not in times:
                times[moment] = moment.isoformat()
            return times[moment]

        return {
            "start": {"kind": self.start[0], "id": self.start[1]},
            "direction": self.direction,
            "since": iso(self.window.since),
            "until": iso(self.window.until),
            "nodes": [n.as_dict() for n in self.nodes],
            "edges": [
                {
                    "src": {"kind": e.src[0], "id": e.src[1]},
                    "dst": {"kind": e.dst[0], "id": e.dst[1]},
                    "kind": e.kind,
                    "quantity": e.quantity,
                    "at": iso(e.at),
                }
                for e in self.edges
            ],
        }


def trace(
    *,
    session: Session,
    viewer: Viewer,
    kind: str,
    ident: int,
    direction: graph.Direction,
    since: datetime | None = None,
    until: datetime | None = None,
) -> TraceResult:
    """Trace from one node; forward traces may be bounded in time (inclusive)."""
    if kind not in START_KINDS.get(direction, ()):
        allowed = ", ".join(START_KINDS.get(direction, ()))
        raise InvalidRecord(f"a {direction} trace starts from one of: {allowed}", field="kind")
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise InvalidRecord("time bounds need a time zone", field="since")
    if since is not None and until is not None and since > until:
        raise InvalidRecord("since is after until", field="since")
    start: graph.NodeId = (kind, str(ident))
    with collector_paused():
        return _trace(session, viewer, start, direction, since, until)


def _trace(
    session: Session,
    viewer: Viewer,
    start: graph.NodeId,
    direction: graph.Direction,
    since: datetime | None,
    until: datetime | None,
) -> TraceResult:
    kind, ident = start
    connection = session.connection()
    info = node_info(connection, [start])[start]
    if not info.known:
        raise NotFound(f"no {kind.replace('_', ' ')} {ident}")
    _check_start(session, viewer, start, info)
    window = Window(since, until) if direction == "forward" else Window()
    try:
        loaded = load(
            connection, start, direction, window=window, max_nodes=rules().max_trace_nodes
        )
    except TooManyNodes as exc:
        raise TraceTooLarge(f"{exc}; narrow it with since/until", field="since") from exc
    if direction == "backward":
        sub = graph.backward(loaded, start)
    else:
        sub = graph.forward(loaded, start, since=since, until=until)
    return _labelled(connection, viewer, sub, window)


def _check_start(session: Session, viewer: Viewer, start: graph.NodeId, info: NodeInfo) -> None:
    own = viewer.visible_merchant()
    if own is None:
        return
    kind, ident = start
    if kind == "supplier":
        raise ForeignRecord("merchants trace from their own lots, batches and order lines")
    if kind in ("lot", "batch") and info.merchant_id == own:
        return
    if kind == "lot":
        transfers = select(LotTransfer.id).where(
            LotTransfer.lot_id == int(ident), LotTransfer.to_merchant_id == own
        )
        if session.execute(transfers).first() is not None:
            return
    if kind == "order_line":
        served = (
            select(BatchAllocation.id)
            .join(DishBatch, DishBatch.id == BatchAllocation.batch_id)  # type: ignore[arg-type]
            .where(BatchAllocation.order_line_id == int(ident), DishBatch.merchant_id == own)
        )
        if session.execute(served).first() is not None:
            return
    raise ForeignRecord(f"this {kind.replace('_', ' ')} is not your merchant's")


def _labelled(connection: Any, viewer: Viewer, sub: graph.Subgraph, window: Window) -> TraceResult:
    own = viewer.visible_merchant()
    if own is None:
        nodes, edges = list(sub.nodes), sub.edges
    else:
        nodes = [n for n in sub.nodes if n[0] not in HIDDEN_FROM_MERCHANTS]
        kept = set(nodes)
        edges = tuple(e for e in sub.edges if e.src in kept and e.dst in kept)
    infos = node_info(connection, nodes)
    depth = sub.depth
    out = []
    for node in nodes:
        info = infos[node]
        label = info.label
        if own is not None and info.merchant_id is not None and info.merchant_id != own:
            label = f"another merchant's {node[0]}"
        out.append(
            TraceNode(
                node[0],
                node[1],
                label,
                depth[node],
                info.ledger_index,
                info.merchant_id,
                info.at,
                info.status,
            )
        )
    return TraceResult(sub.start, sub.direction, tuple(out), tuple(edges), window)
