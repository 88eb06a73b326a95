"""Reading orders, scoped to the caller (orders.access): lists with filters and pages, one order
with its lines, delivery and refunds, a merchant's incoming orders, a courier's board."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from orders import states
from orders.access import Actor
from orders.errors import InvalidOrder, NotFound
from orders.models import Delivery, Order, OrderLine, Refund
from trace.models import Merchant

MAX_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """List filters: status, merchant, creation time range; pages count from 1."""

    status: str | None = None
    merchant_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    per_page: int = 20


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order with what its pages show."""

    order: Order
    lines: list[OrderLine]
    delivery: Delivery | None
    merchant_name: str
    refunds: list[Refund]


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of orders and the total matching the filters."""

    items: list[OrderView]
    total: int
    page: int
    per_page: int


def _scoped(actor: Actor) -> object:
    """The WHERE clause limiting orders to those the caller may see."""
    if actor.is_staff:
        return True
    if actor.role == "student":
        return col(Order.user_id) == actor.user_id
    if actor.role == "merchant" and actor.merchant_id is not None:
        return col(Order.merchant_id) == actor.merchant_id
    if actor.role == "courier":
        mine = select(Delivery.order_id).where(Delivery.courier_id == actor.user_id)
        return col(Order.id).in_(mine)
    return False


def views_of(session: Session, orders: Sequence[Order]) -> list[OrderView]:
    """Lines, deliveries, merchant names and refunds of these orders, in few queries."""
    ids = [o.id for o in orders if o.id is not None]
    if not ids:
        return []
    lines: dict[int, list[OrderLine]] = {}
    for line in session.exec(
        select(OrderLine).where(col(OrderLine.order_id).in_(ids)).order_by(col(OrderLine.id))
    ).all():
        lines.setdefault(line.order_id, []).append(line)
    deliveries = {
        d.order_id: d
        for d in session.exec(select(Delivery).where(col(Delivery.order_id).in_(ids))).all()
    }
    refunds: dict[int, list[Refund]] = {}
    for r in session.exec(select(Refund).where(col(Refund.order_id).in_(ids))).all():
        refunds.setdefault(r.order_id, []).append(r)
    names = dict(
        session.exec(
            select(Merchant.id, Merchant.name).where(
                col(Merchant.id).in_({o.merchant_id for o in orders})
            )
        ).all()
    )
    return [
        OrderView(
            o,
            lines.get(o.id or 0, []),
            deliveries.get(o.id or 0),
            names.get(o.merchant_id, ""),
            refunds.get(o.id or 0, []),
        )
        for o in orders
    ]


def get_order(*, session: Session, actor: Actor, order_id: int) -> OrderView:
    """One order the caller may see, or NotFound (also for orders of others)."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    delivery = session.exec(select(Delivery).where(Delivery.order_id == order_id)).first()
    courier = delivery.courier_id if delivery is not None else None
    if not actor.sees_order(
        user_id=order.user_id, merchant_id=order.merchant_id, courier_id=courier
    ):
        raise NotFound(f"no order {order_id}")
    return views_of(session, [order])[0]


def list_orders(*, session: Session, actor: Actor, filters: OrderFilter) -> OrderPage:
    """The caller's orders, newest first, filtered and paged."""
    if filters.status is not None and filters.status not in states.ORDER_STATUSES:
        raise InvalidOrder(
            f"status must be one of {', '.join(states.ORDER_STATUSES)}", field="status"
        )
    if not 1 <= filters.per_page <= MAX_PER_PAGE or filters.page < 1:
        raise InvalidOrder(f"per_page is 1-{MAX_PER_PAGE} and page from 1", field="per_page")
    conditions = [_scoped(actor)]
    if filters.status is not None:
        conditions.append(col(Order.status) == filters.status)
    if filters.merchant_id is not None:
        conditions.append(col(Order.merchant_id) == filters.merchant_id)
    if filters.since is not None:
        conditions.append(col(Order.created_at) >= filters.since)
    if filters.until is not None:
        conditions.append(col(Order.created_at) < filters.until)
    total = session.exec(select(func.count()).select_from(Order).where(*conditions)).one()  # type: ignore[arg-type]
    rows = session.exec(
        select(Order)
        .where(*conditions)  # type: ignore[arg-type]
        .order_by(col(Order.created_at).desc(), col(Order.id).desc())
        .offset((filters.page - 1) * filters.per_page)
        .limit(filters.per_page)
    ).all()
    return OrderPage(views_of(session, rows), int(total), filters.page, filters.per_page)


def incoming(*, session: Session, merchant_id: int, limit: int = 100) -> list[OrderView]:
    """A kitchen's open orders (placed, accepted, ready), oldest first: the order to cook in."""
    rows = session.exec(
        select(Order)
        .where(
            Order.merchant_id == merchant_id,
            col(Order.status).in_([states.PLACED, states.ACCEPTED, states.READY]),
        )
        .order_by(col(Order.created_at), col(Order.id))
        .limit(limit)
    ).all()
    return views_of(session, rows)


@dataclass(frozen=True, slots=True)
class CourierBoard:
    """A courier's deliveries on the go and the orders waiting for a courier."""

    mine: list[OrderView]
    waiting: list[OrderView]


def courier_board(*, session: Session, actor: Actor, limit: int = 50) -> CourierBoard:
    """What a courier's phone shows: own deliveries not yet dropped off, then orders to claim."""
    mine = session.exec(
        select(Order)
        .join(Delivery, col(Delivery.order_id) == Order.id)
        .where(Delivery.courier_id == actor.user_id, Delivery.status != states.DELIVERED)
        .order_by(col(Delivery.assigned_at))
        .limit(limit)
    ).all()
    taken = select(Delivery.order_id)
    waiting = session.exec(
        select(Order)
        .where(
            col(Order.status).in_([states.ACCEPTED, states.READY]),
            col(Order.payment_status) != states.FAILED,
            col(Order.id).not_in(taken),
        )
        .order_by(col(Order.created_at))
        .limit(limit)
    ).all()
    return CourierBoard(views_of(session, mine), views_of(session, waiting))


def recent_deliveries(*, session: Session, actor: Actor, limit: int = 20) -> list[OrderView]:
    """A courier's latest finished deliveries."""
    rows = session.exec(
        select(Order)
        .join(Delivery, col(Delivery.order_id) == Order.id)
        .where(Delivery.courier_id == actor.user_id, Delivery.status == states.DELIVERED)
        .order_by(col(Delivery.dropped_off_at).desc())
        .limit(limit)
    ).all()
    return views_of(session, rows)
