"""The ordering part of the trace graph: order line → order → customer, for trace's loaders.

`register()` adds these edge and node-info loaders to `trace.neighbourhood`'s registry (the
orders views call it when the app is built), so a forward trace from a lot or batch reaches the
orders and the customers who received it, and a backward trace can start from an order or a
customer. Customers are shown by user id only: the trace graph carries no personal data.

The queries are driver-level SQL with the id list written in (`trace.neighbourhood.query_ids`):
a forward trace from a busy lot asks for tens of thousands of lines, orders and customers, and
an expanding bind parameter per id cost more than the queries themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from trace.graph import Edge
from trace.neighbourhood import (
    NodeInfo,
    Window,
    as_utc,
    query_ids,
    register_edges,
    register_node_info,
)

_LINES = (
    "SELECT l.id, l.order_id, l.quantity, o.created_at FROM order_lines l "
    "JOIN orders o ON o.id = l.order_id WHERE l.{column} IN ({{ids}})"
)
_ORDERS = "SELECT id, user_id, created_at FROM orders WHERE {column} IN ({{ids}})"


def _inside(at: Any, window: Window) -> bool:
    return (window.since is None or at >= window.since) and (
        window.until is None or at <= window.until
    )


def _line_edges(rows: Iterable[Any], window: Window | None) -> Iterable[Edge]:
    for line_id, order_id, quantity, created in rows:
        at = as_utc(created)
        if window is None or _inside(at, window):
            yield Edge(
                ("order_line", str(line_id)), ("order", str(order_id)), "line_of", quantity, at
            )


def _placed_by(rows: Iterable[Any], window: Window) -> Iterable[Edge]:
    for order_id, user_id, created in rows:
        at = as_utc(created)
        if _inside(at, window):
            yield Edge(("order", str(order_id)), ("customer", str(user_id)), "placed_by", None, at)


def lines_to_orders(conn: Connection, ids: Sequence[str], window: Window) -> Iterable[Edge]:
    """Order line → its order (forward)."""
    return _line_edges(query_ids(conn, _LINES.format(column="id"), ids), window)


def orders_to_lines(conn: Connection, ids: Sequence[str], _window: Window) -> Iterable[Edge]:
    """Order ← its lines (backward)."""
    return _line_edges(query_ids(conn, _LINES.format(column="order_id"), ids), None)


def orders_to_customers(conn: Connection, ids: Sequence[str], window: Window) -> Iterable[Edge]:
    """Order → the student who placed it (forward)."""
    return _placed_by(query_ids(conn, _ORDERS.format(column="id"), ids), window)


def customers_to_orders(conn: Connection, ids: Sequence[str], window: Window) -> Iterable[Edge]:
    """Customer ← the orders they placed (backward: what did this student eat?)."""
    return _placed_by(query_ids(conn, _ORDERS.format(column="user_id"), ids), window)


_LINE_INFO = (
    "SELECT l.id, l.quantity, l.name, l.ledger_index, o.merchant_id, o.created_at, o.status "
    "FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE l.id IN ({ids})"
)
_ORDER_INFO = (
    "SELECT id, placed_index, merchant_id, created_at, status FROM orders WHERE id IN ({ids})"
)
_CUSTOMER_INFO = (
    "SELECT user_id, MIN(created_at) FROM orders WHERE user_id IN ({ids}) GROUP BY user_id"
)


def line_info(conn: Connection, ids: Sequence[str]) -> dict[str, NodeInfo]:
    """An order line: '2 × dish', its entry, merchant, order time and order status."""
    return {
        str(line_id): NodeInfo(f"{qty} × {name}", index, merchant, as_utc(at), status)
        for line_id, qty, name, index, merchant, at, status in query_ids(conn, _LINE_INFO, ids)
    }


def order_info(conn: Connection, ids: Sequence[str]) -> dict[str, NodeInfo]:
    """An order: 'order #id', its placing entry, merchant, time and status."""
    return {
        str(order_id): NodeInfo(f"order #{order_id}", index, merchant, as_utc(at), status)
        for order_id, index, merchant, at, status in query_ids(conn, _ORDER_INFO, ids)
    }


def customer_info(conn: Connection, ids: Sequence[str]) -> dict[str, NodeInfo]:
    """A customer, pseudonymous: 'customer #user id' and their first order's time."""
    return {
        str(user_id): NodeInfo(f"customer #{user_id}", None, None, as_utc(first))
        for user_id, first in query_ids(conn, _CUSTOMER_INFO, ids)
    }


def register() -> None:
    """Add the ordering edges and node labels to trace's registry (idempotent)."""
    register_edges("order_line", downstream=lines_to_orders)
    register_edges("order", upstream=orders_to_lines, downstream=orders_to_customers)
    register_edges("customer", upstream=customers_to_orders)
    register_node_info("order_line", line_info)
    register_node_info("order", order_info)
    register_node_info("customer", customer_info)
