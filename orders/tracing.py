"""The ordering part of the trace graph: order line → order → customer, for trace's loaders.

`register()` adds these edge and node-info loaders to `trace.neighbourhood`'s registry (the
orders views call it when the app is built), so a forward trace from a lot or batch reaches the
orders and the customers who received it, and a backward trace can start from an order or a
customer. Customers are shown by user id only: the trace graph carries no personal data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, func, select

from orders.models import Order, OrderLine
from trace.graph import Edge
from trace.neighbourhood import (
    NodeInfo,
    Window,
    register_edges,
    register_node_info,
)

CHUNK = 5_000  # ids per IN (...) list


def _chunked(ids: Sequence[str]) -> Iterable[list[int]]:
    values = [int(i) for i in ids]
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _within(window: Window) -> list[object]:
    conditions: list[object] = []
    if window.since is not None:
        conditions.append(Order.created_at >= window.since)  # type: ignore[operator]
    if window.until is not None:
        conditions.append(Order.created_at <= window.until)  # type: ignore[operator]
    return conditions


_LINE_EDGE = (OrderLine.id, OrderLine.order_id, OrderLine.quantity, Order.created_at)


def _line_edges(rows: Iterable[tuple[int, int, int, object]]) -> Iterable[Edge]:
    for line_id, order_id, quantity, at in rows:
        yield Edge(("order_line", str(line_id)), ("order", str(order_id)), "line_of", quantity, at)  # type: ignore[arg-type]


def lines_to_orders(conn: Connection, ids: Sequence[str], window: Window) -> Iterable[Edge]:
    """Order line → its order (forward)."""
    for part in _chunked(ids):
        stmt = (
            select(*_LINE_EDGE)
            .join(Order, Order.id == OrderLine.order_id)  # type: ignore[arg-type]
            .where(OrderLine.id.in_(part), *_within(window))  # type: ignore[union-attr]
        )
        yield from _line_edges(conn.execute(stmt))  # type: ignore[arg-type]


def orders_to_lines(conn: Connection, ids: Sequence[str], _window: Window) -> Iterable[Edge]:
    """Order ← its lines (backward)."""
    for part in _chunked(ids):
        stmt = (
            select(*_LINE_EDGE)
            .join(Order, Order.id == OrderLine.order_id)  # type: ignore[arg-type]
            .where(OrderLine.order_id.in_(part))  # type: ignore[attr-defined]
        )
        yield from _line_edges(conn.execute(stmt))  # type: ignore[arg-type]


def orders_to_customers(conn: Connection, ids: Sequence[str], window: Window) -> Iterable[Edge]:
    """Order → the student who placed it (forward)."""
    for part in _chunked(ids):
        stmt = select(Order.id, Order.user_id, Order.created_at).where(
            Order.id.in_(part),  # type: ignore[union-attr]
            *_within(window),
        )
        for order_id, user_id, at in conn.execute(stmt):
            yield Edge(("order", str(order_id)), ("customer", str(user_id)), "placed_by", None, at)


def customers_to_orders(conn: Connection, ids: Sequence[str], window: Window) -> Iterable[Edge]:
    """Customer ← the orders they placed (backward: what did this student eat?)."""
    for part in _chunked(ids):
        stmt = select(Order.id, Order.user_id, Order.created_at).where(
            Order.user_id.in_(part),  # type: ignore[attr-defined]
            *_within(window),
        )
        for order_id, user_id, at in conn.execute(stmt):
            yield Edge(("order", str(order_id)), ("customer", str(user_id)), "placed_by", None, at)


def line_info(conn: Connection, ids: Sequence[str]) -> dict[str, NodeInfo]:
    """An order line: '2 × dish', its entry, merchant, order time and order status."""
    out = {}
    for part in _chunked(ids):
        stmt = (
            select(
                OrderLine.id, OrderLine.quantity, OrderLine.name, OrderLine.ledger_index,
                Order.merchant_id, Order.created_at, Order.status,
            )
            .join(Order, Order.id == OrderLine.order_id)  # type: ignore[arg-type]
            .where(OrderLine.id.in_(part))  # type: ignore[union-attr]
        )  # fmt: skip
        for line_id, qty, name, index, merchant, at, status in conn.execute(stmt):
            out[str(line_id)] = NodeInfo(f"{qty} × {name}", index, merchant, at, status)
    return out


def order_info(conn: Connection, ids: Sequence[str]) -> dict[str, NodeInfo]:
    """An order: 'order #id', its placing entry, merchant, time and status."""
    out = {}
    for part in _chunked(ids):
        stmt = select(
            Order.id, Order.placed_index, Order.merchant_id, Order.created_at, Order.status
        ).where(Order.id.in_(part))  # type: ignore[union-attr]
        for order_id, index, merchant, at, status in conn.execute(stmt):
            out[str(order_id)] = NodeInfo(f"order #{order_id}", index, merchant, at, status)
    return out


def customer_info(conn: Connection, ids: Sequence[str]) -> dict[str, NodeInfo]:
    """A customer, pseudonymous: 'customer #user id' and their first order's time."""
    out = {}
    for part in _chunked(ids):
        stmt = (
            select(Order.user_id, func.min(Order.created_at))
            .where(Order.user_id.in_(part))  # type: ignore[attr-defined]
            .group_by(Order.user_id)
        )
        for user_id, first in conn.execute(stmt):
            out[str(user_id)] = NodeInfo(f"customer #{user_id}", None, None, first)
    return out


def register() -> None:
    """Add the ordering edges and node labels to trace's registry (idempotent)."""
    register_edges("order_line", downstream=lines_to_orders)
    register_edges("order", upstream=orders_to_lines, downstream=orders_to_customers)
    register_edges("customer", upstream=customers_to_orders)
    register_node_info("order_line", line_info)
    register_node_info("order", order_info)
    register_node_info("customer", customer_info)
