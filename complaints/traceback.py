"""The automatic trace-back of a case: for each order it concerns, the backward trace of every
line (batches, sub-batches, lots, suppliers: trace.queries) and the delivery's cold-chain
verdict (sensors.coldchain), computed whenever the case is shown (never stored, so it follows
corrections of the trace records).

Orders the case names that the orders module does not know are listed as unknown (intake
accepts order references as the complainant gives them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from orders import tracing as order_tracing
from orders.models import Delivery, MenuItem, Order, OrderLine
from sensors import coldchain
from sensors.models import Watch
from trace import queries as trace_queries
from trace.access import Viewer
from trace.errors import TraceError

__all__ = ["case_traceback", "order_traceback"]

UPSTREAM_KINDS = ("batch", "lot", "supplier")


def _node(node: trace_queries.TraceNode) -> dict[str, Any]:
    return {
        "kind": node.kind,
        "id": int(node.id),
        "label": node.label,
        "depth": node.depth,
        "merchant_id": node.merchant_id,
        "at": node.at.isoformat() if node.at else None,
        "status": node.status,
    }


def _cold_chain(
    session: Session, delivery: Delivery | None, profile: str | None, now: datetime | None
) -> dict[str, Any]:
    if delivery is None:
        return {"verdict": None, "reason": "no_delivery"}
    watch = session.get(Watch, delivery.id)
    base = {
        "delivery_id": delivery.id,
        "courier_id": delivery.courier_id,
        "box_id": delivery.box_id,
        "seal_intact": delivery.seal_intact,
        "picked_up_at": delivery.picked_up_at.isoformat() if delivery.picked_up_at else None,
        "dropped_off_at": delivery.dropped_off_at.isoformat() if delivery.dropped_off_at else None,
    }
    if watch is None:
        return {**base, "verdict": None, "reason": "not_watched"}
    verdict = coldchain.judge_window(
        session=session,
        box_id=watch.box_id,
        pickup_at=watch.pickup_at,
        dropoff_at=watch.dropoff_at,
        food_class=watch.food_class,
        profile=profile,
        now=now,
    )
    return {
        **base,
        "verdict": verdict.verdict,
        "reason": None,
        "reasons": [r.code for r in verdict.reasons],
        "profile": verdict.profile,
        "food_class": verdict.food_class,
        "n_readings": verdict.n_readings,
        "min_c": verdict.min_c,
        "max_c": verdict.max_c,
        "minutes_outside": verdict.minutes_outside,
    }


def order_traceback(
    session: Session,
    order_id: int,
    *,
    viewer: Viewer,
    profile: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One order's lines with their upstream trace, and its delivery's cold-chain verdict."""
    order = session.get(Order, order_id)
    if order is None:
        return {"order_id": order_id, "known": False}
    lines = session.exec(
        select(OrderLine).where(OrderLine.order_id == order_id).order_by(col(OrderLine.id))
    ).all()
    items = {
        i.id: i
        for i in session.exec(
            select(MenuItem).where(col(MenuItem.id).in_([ln.menu_item_id for ln in lines]))
        ).all()
    }
    out_lines = []
    for line in lines:
        assert line.id is not None
        try:
            traced = trace_queries.trace(
                session=session,
                viewer=viewer,
                kind="order_line",
                ident=line.id,
                direction="backward",
            )
            nodes = [_node(n) for n in traced.nodes if n.kind in UPSTREAM_KINDS]
            problem = None
        except TraceError as exc:  # an order line nothing was allocated to, say
            nodes, problem = [], str(exc)
        item = items.get(line.menu_item_id)
        out_lines.append(
            {
                "line_id": line.id,
                "menu_item_id": line.menu_item_id,
                "name": line.name,
                "quantity": line.quantity,
                "menu_item": item.name if item else None,
                "upstream": nodes,
                "problem": problem,
            }
        )
    delivery = session.exec(select(Delivery).where(Delivery.order_id == order_id)).first()
    return {
        "order_id": order_id,
        "known": True,
        "merchant_id": order.merchant_id,
        "placed_at": order.created_at.isoformat(),
        "status": order.status,
        "lines": out_lines,
        "cold_chain": _cold_chain(session, delivery, profile, now),
    }


def case_traceback(
    session: Session,
    order_ids: Sequence[int],
    *,
    viewer: Viewer,
    profile: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The trace-back panel of a case: per order, and the distinct batches, lots and
    suppliers over all of them."""
    order_tracing.register()  # idempotent: the trace graph reaches order lines
    orders = [
        order_traceback(session, o, viewer=viewer, profile=profile, now=now)
        for o in sorted(set(order_ids))
    ]
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for order in orders:
        for line in order.get("lines", ()):
            for node in line["upstream"]:
                seen.setdefault((node["kind"], node["id"]), node)
    summary = {
        kind: sorted(
            (
                {"id": n["id"], "label": n["label"], "status": n["status"]}
                for (k, _), n in seen.items()
                if k == kind
            ),
            key=lambda n: n["id"],
        )
        for kind in UPSTREAM_KINDS
    }
    return {"orders": orders, **summary}
