"""Many orders through the kitchen and the road at once: the bulk path of fulfilment and delivery.

`carry_many` takes orders that are placed (paid or payment deferred) and have no courier yet,
through accept -> ready -> courier assigned -> pickup (box, seal) -> drop-off (seal checked),
one transaction per chunk. It writes exactly what `fulfilment.accept`, `fulfilment.mark_ready`,
`delivery.assign` (the courier claiming the order), `delivery.pickup` and `delivery.dropoff`
write, one order after the other: the same final rows (orders, order_deliveries,
sensor_watches) and the same entries in the same order per order (order.accepted,
order.ready, delivery.assigned, delivery.picked_up, sensor.watch_started, delivery.dropped_off,
sensor.watch_ended) with the same payloads, subjects and actors, appended with one
`ledger.append_many` per chunk and rows written with executemany. Every check of the
one-at-a-time services is made for the whole chunk before anything is written, so a refused
chunk leaves nothing (earlier chunks stay committed). The generator of a campus semester
(demo/semester.py) uses it; the pages and the API keep the one-at-a-time services.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session, col

import ledger
from accounts.models import User
from ledger.canonical import rfc3339
from orders import checkout, states
from orders.access import Actor
from orders.delivery import BOX_PATTERN, SEAL_PATTERN
from orders.errors import DeliveryError, InvalidTransition, NotFound
from orders.models import (
    DELIVERY_ASSIGNED,
    DELIVERY_DROPPED_OFF,
    DELIVERY_PICKED_UP,
    ORDER_ACCEPTED,
    ORDER_READY,
    Delivery,
    Order,
    OrderLine,
)
from sensors import coldchain

CHUNK = 1000  # orders per transaction (7 entries each)


@dataclass(frozen=True, slots=True)
class Carry:
    """One order's trip: the courier (who claims it), the box and seal, and when each step
    happened (tz-aware). `dropoff_seal` None: the courier reads the same seal at drop-off."""

    order_id: int
    courier_id: int
    box_id: str
    seal_number: str
    accepted_at: datetime
    ready_at: datetime
    assigned_at: datetime
    picked_up_at: datetime
    dropped_off_at: datetime
    dropoff_seal: str | None = None


def carry_many(
    *, session: Session, kitchen: Actor, carries: Sequence[Carry], chunk: int = CHUNK
) -> list[int]:
    """Accept, ready, assign, pick up and drop off every order (see the module docstring);
    `kitchen` is the orders' merchant (or an administrator), each courier claims its own
    orders. Commits once per `chunk` orders; returns the delivery ids in `carries` order.
    Raises what the one-at-a-time services raise (NotFound, InvalidTransition, DeliveryError)."""
    out: list[int] = []
    for i in range(0, len(carries), chunk):
        out += _carry_chunk(session, kitchen, carries[i : i + chunk])
        session.commit()
    return out


@dataclass(slots=True)
class _Trip:
    carry: Carry
    merchant_id: int
    food_class: str
    box_id: str
    seal_number: str
    dropoff_seal: str


def _carry_chunk(session: Session, kitchen: Actor, carries: Sequence[Carry]) -> list[int]:
    if not carries:
        return []
    ids = [c.order_id for c in carries]
    if len(set(ids)) != len(ids):
        raise InvalidTransition("an order appears twice", field="order_id")
    _check_couriers(session, {c.courier_id for c in carries})
    orders = _locked_orders(session, ids)
    taken = session.execute(
        select(col(Delivery.order_id)).where(col(Delivery.order_id).in_(ids)).limit(1)
    ).first()
    if taken is not None:
        raise InvalidTransition(f"order {taken[0]} has a courier already", field="order_id")
    classes: dict[int, list[str]] = {}
    rows = session.execute(
        select(col(OrderLine.order_id), col(OrderLine.food_class)).where(
            col(OrderLine.order_id).in_(ids)
        )
    )
    for order_id, food_class in rows:
        classes.setdefault(order_id, []).append(food_class)
    trips = []
    for c in carries:
        merchant_id, status, payment = orders[c.order_id]
        if kitchen.role != "admin" and (
            kitchen.role != "merchant" or kitchen.merchant_id != merchant_id
        ):
            raise NotFound(f"no order {c.order_id}")
        for action in ("accept", "ready"):
            status = states.next_status(action, status, payment)
        if status not in states.ASSIGNABLE or payment == states.FAILED:
            raise InvalidTransition(f"an order that is {status} cannot get a courier")
        for action in ("pickup", "dropoff"):
            status = states.next_status(action, status, payment)
        box, seal = (c.box_id or "").strip(), (c.seal_number or "").strip().upper()
        read = seal if c.dropoff_seal is None else (c.dropoff_seal or "").strip().upper()
        if not BOX_PATTERN.fullmatch(box):
            message = "a box id is 1-64 letters, digits, '.', '_', ':' or '-'"
            raise DeliveryError(message, field="box_id")
        for number in (seal, read):
            if not SEAL_PATTERN.fullmatch(number):
                message = "a seal number is 4-40 letters, digits or '-'"
                raise DeliveryError(message, field="seal_number")
        if c.dropped_off_at < c.picked_up_at:
            raise DeliveryError("drop-off cannot be before pickup", field="dropped_off_at")
        food_class = checkout.delivery_food_class(classes.get(c.order_id, []))
        trips.append(_Trip(c, merchant_id, food_class, box, seal, read))
    delivery_ids = _insert_deliveries(session, trips)
    spans = [
        coldchain.Span(
            delivery_id=d, box_id=t.box_id, food_class=t.food_class, merchant_id=t.merchant_id,
            pickup_at=t.carry.picked_up_at, dropoff_at=t.carry.dropped_off_at,
            actor=Actor(t.carry.courier_id, "courier").ledger_actor,
        )
        for t, d in zip(trips, delivery_ids, strict=True)
    ]  # fmt: skip
    try:
        watches = coldchain.span_events(session=session, spans=spans)
    except (coldchain.WatchError, ValueError) as exc:
        session.rollback()
        raise DeliveryError(f"the cold chain cannot watch this box: {exc}", field="box_id") from exc
    events: list[ledger.Event] = []
    for t, d, (started, ended) in zip(trips, delivery_ids, watches, strict=True):
        events += _events(t, d, kitchen.ledger_actor)
        events.insert(len(events) - 1, started)  # after picked_up, before dropped_off
        assert ended is not None
        events.append(ended)
    entries = ledger.append_many(session, events)
    last = [entries[7 * n + 5].index for n in range(len(trips))]  # delivery.dropped_off
    ended_at = [entries[7 * n + 6].index for n in range(len(trips))]  # sensor.watch_ended
    _finish(session, trips, delivery_ids, last)
    coldchain.record_spans(session=session, spans=spans, indexes=ended_at)
    return delivery_ids


def _check_couriers(session: Session, courier_ids: set[int]) -> None:
    stmt = select(col(User.id), col(User.role), col(User.is_active)).where(
        col(User.id).in_(courier_ids)
    )
    found = {uid: role == "courier" and active for uid, role, active in session.execute(stmt)}
    for courier_id in sorted(courier_ids):
        if not found.get(courier_id):
            message = f"user {courier_id} is not an active courier"
            raise DeliveryError(message, field="courier_id")


def _locked_orders(session: Session, ids: list[int]) -> dict[int, tuple[int, str, str]]:
    """(merchant, status, payment status) of each order, locked on PostgreSQL; NotFound."""
    stmt = (
        select(col(Order.id), col(Order.merchant_id), col(Order.status), col(Order.payment_status))
        .where(col(Order.id).in_(ids))
        .order_by(col(Order.id))
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    found = {row[0]: (row[1], row[2], row[3]) for row in session.execute(stmt)}
    for order_id in ids:
        if order_id not in found:
            raise NotFound(f"no order {order_id}")
    return found


def _insert_deliveries(session: Session, trips: list[_Trip]) -> list[int]:
    """The delivery rows as drop-off leaves them (ledger index set by `_finish`); their ids."""
    table = Delivery.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "order_id": t.carry.order_id, "courier_id": t.carry.courier_id,
            "status": states.DELIVERED, "food_class": t.food_class, "box_id": t.box_id,
            "seal_number": t.seal_number, "dropoff_seal": t.dropoff_seal,
            "seal_intact": t.dropoff_seal == t.seal_number, "assigned_at": t.carry.assigned_at,
            "picked_up_at": t.carry.picked_up_at, "dropped_off_at": t.carry.dropped_off_at,
        }
        for t in trips
    ]  # fmt: skip
    stmt = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    return [int(row[0]) for row in session.connection().execute(stmt, rows)]


def _events(t: _Trip, delivery_id: int, kitchen: str) -> list[ledger.Event]:
    """The entries of accept, mark_ready, assign, pickup and dropoff for one order."""
    c = t.carry
    order_subject = {"order": c.order_id, "merchant": t.merchant_id}
    rider = Actor(c.courier_id, "courier").ledger_actor
    # Times as the entries record them (RFC 3339 text, what encoding a datetime gives): the
    # payloads are then plain JSON and encoded in bulk (ledger.encode_many), the same bytes.
    assigned_at, picked_up_at = rfc3339(c.assigned_at), rfc3339(c.picked_up_at)
    payload: dict[str, Any] = {
        "order_id": c.order_id, "courier_id": c.courier_id, "delivery_status": states.ASSIGNED,
        "food_class": t.food_class, "box_id": None, "seal_number": None, "dropoff_seal": None,
        "seal_intact": None, "assigned_at": assigned_at, "picked_up_at": None,
        "dropped_off_at": None,
    }  # fmt: skip
    assigned = dict(payload)
    payload |= {
        "delivery_status": states.PICKED_UP, "box_id": t.box_id, "seal_number": t.seal_number,
        "picked_up_at": picked_up_at,
    }  # fmt: skip
    picked = payload | {"order_status": states.OUT_FOR_DELIVERY}
    payload |= {
        "delivery_status": states.DELIVERED, "dropoff_seal": t.dropoff_seal,
        "seal_intact": t.dropoff_seal == t.seal_number, "dropped_off_at": rfc3339(c.dropped_off_at),
    }  # fmt: skip
    dropped = payload | {"order_status": states.DELIVERED}
    return [
        ledger.Event(
            ORDER_ACCEPTED,
            {"order_status": states.ACCEPTED, "accepted_at": rfc3339(c.accepted_at)},
            actor=kitchen, subject=order_subject,
        ),
        ledger.Event(
            ORDER_READY, {"order_status": states.READY, "ready_at": rfc3339(c.ready_at)},
            actor=kitchen, subject=order_subject,
        ),
        ledger.Event(
            DELIVERY_ASSIGNED, assigned, actor=rider,
            subject={"delivery": delivery_id, "order": c.order_id, "courier": c.courier_id},
        ),
        ledger.Event(
            DELIVERY_PICKED_UP, picked, actor=rider,
            subject={"delivery": delivery_id, "order": c.order_id, "box": t.box_id},
            ts=c.picked_up_at,
        ),
        ledger.Event(
            DELIVERY_DROPPED_OFF, dropped, actor=rider,
            subject={"delivery": delivery_id, "order": c.order_id}, ts=c.dropped_off_at,
        ),
    ]  # fmt: skip


def _finish(
    session: Session, trips: list[_Trip], delivery_ids: list[int], indexes: list[int]
) -> None:
    """Orders delivered (accepted and ready times) and both rows' ledger index: executemany."""
    orders = Order.__table__  # type: ignore[attr-defined]
    session.connection().execute(
        update(orders)
        .where(orders.c.id == bindparam("o_id"))
        .values(
            status=states.DELIVERED,
            accepted_at=bindparam("o_accepted"),
            ready_at=bindparam("o_ready"),
            ledger_index=bindparam("o_index"),
        ),
        [
            {
                "o_id": t.carry.order_id,
                "o_accepted": t.carry.accepted_at,
                "o_ready": t.carry.ready_at,
                "o_index": index,
            }
            for t, index in zip(trips, indexes, strict=True)
        ],
    )
    deliveries = Delivery.__table__  # type: ignore[attr-defined]
    session.connection().execute(
        update(deliveries)
        .where(deliveries.c.id == bindparam("d_id"))
        .values(ledger_index=bindparam("d_index")),
        [{"d_id": d, "d_index": index} for d, index in zip(delivery_ids, indexes, strict=True)],
    )


__all__ = ["CHUNK", "Carry", "carry_many"]
