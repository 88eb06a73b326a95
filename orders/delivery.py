"""Deliveries: a courier is assigned (by the desk) or claims an order, picks it up in a box
sealed with a tamper-evident food-safety seal (食安封签), and drops it off.

At pickup the box id (whose temperature sensor rides with the order) and the seal number are
recorded and the cold chain starts watching the box (`sensors.coldchain.watch_delivery`); at
drop-off the courier reads the seal again: a different number is recorded as a broken seal
and the delivery is flagged; the watch ends (`sensors.coldchain.end_watch`). Every step is a
ledger entry naming the courier; the sensors' watch entry commits in the same transaction.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

import ledger
from accounts.models import User
from columns import utcnow
from orders import checkout, states
from orders.access import Actor
from orders.errors import DeliveryError, Forbidden, InvalidTransition, NotFound
from orders.fulfilment import locked_order
from orders.models import (
    DELIVERY_ASSIGNED,
    DELIVERY_DROPPED_OFF,
    DELIVERY_PICKED_UP,
    Delivery,
    Order,
    OrderLine,
)
from sensors import coldchain
from sensors.service import ID_PATTERN as BOX_PATTERN

SEAL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{3,39}")


def _delivery_payload(d: Delivery) -> dict[str, Any]:
    return {
        "order_id": d.order_id, "courier_id": d.courier_id, "delivery_status": d.status,
        "food_class": d.food_class, "box_id": d.box_id, "seal_number": d.seal_number,
        "dropoff_seal": d.dropoff_seal, "seal_intact": d.seal_intact,
        "assigned_at": d.assigned_at, "picked_up_at": d.picked_up_at,
        "dropped_off_at": d.dropped_off_at,
    }  # fmt: skip


def _courier(session: Session, courier_id: int) -> User:
    user = session.get(User, courier_id)
    if user is None or user.role != "courier" or not user.is_active:
        raise DeliveryError(f"user {courier_id} is not an active courier", field="courier_id")
    return user


def _delivery_of(session: Session, order_id: int) -> Delivery | None:
    stmt = select(Delivery).where(Delivery.order_id == order_id)
    return session.execute(stmt.execution_options(populate_existing=True)).scalars().first()


def assign(
    *,
    session: Session,
    actor: Actor,
    order_id: int,
    courier_id: int,
    now: datetime | None = None,
) -> Delivery:
    """The desk (or an administrator) gives an order to a courier, or a courier claims one
    (`courier_id` its own). Re-assigning is allowed until pickup."""
    if actor.role == "courier" and courier_id != actor.user_id:
        raise Forbidden("a courier may only claim orders for itself")
    if actor.role not in ("courier", "admin", "desk"):
        raise Forbidden(f"the {actor.role} role cannot assign couriers")
    _courier(session, courier_id)
    order = locked_order(session, order_id)
    if order.status not in states.ASSIGNABLE or order.payment_status == states.FAILED:
        raise InvalidTransition(f"an order that is {order.status} cannot get a courier")
    delivery = _delivery_of(session, order_id)
    at = now or utcnow()
    if delivery is None:
        classes = session.execute(
            select(OrderLine.food_class).where(OrderLine.order_id == order_id)
        ).scalars()
        delivery = Delivery(
            order_id=order_id,
            courier_id=courier_id,
            food_class=checkout.delivery_food_class(list(classes)),
            assigned_at=at,
        )
    elif delivery.status != states.ASSIGNED:
        raise InvalidTransition("the order has been picked up already")
    elif actor.role == "courier" and delivery.courier_id != courier_id:
        raise InvalidTransition("another courier has this order", field="order_id")
    elif delivery.courier_id == courier_id:
        return delivery
    else:
        delivery.courier_id, delivery.assigned_at = courier_id, at
    session.add(delivery)
    session.flush()
    event = ledger.Event(
        DELIVERY_ASSIGNED,
        _delivery_payload(delivery),
        actor=actor.ledger_actor,
        subject={"delivery": delivery.id, "order": order_id, "courier": courier_id},
    )
    delivery.ledger_index = ledger.append(session, event).index
    session.commit()
    return delivery


def _own_delivery(session: Session, actor: Actor, delivery_id: int) -> Delivery:
    stmt = select(Delivery).where(Delivery.id == delivery_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    delivery = session.execute(stmt.execution_options(populate_existing=True)).scalars().first()
    if delivery is None or not (actor.is_staff or delivery.courier_id == actor.user_id):
        raise NotFound(f"no delivery {delivery_id}")
    if actor.role == "courier" and delivery.courier_id != actor.user_id:
        raise Forbidden("this is another courier's delivery")
    return delivery


def pickup(
    *,
    session: Session,
    actor: Actor,
    delivery_id: int,
    box_id: str,
    seal_number: str,
    now: datetime | None = None,
) -> Delivery:
    """The courier takes a ready order in `box_id`, sealed with `seal_number`."""
    box_id, seal_number = (box_id or "").strip(), (seal_number or "").strip().upper()
    if not BOX_PATTERN.fullmatch(box_id):
        message = "a box id is 1-64 letters, digits, '.', '_', ':' or '-'"
        raise DeliveryError(message, field="box_id")
    if not SEAL_PATTERN.fullmatch(seal_number):
        raise DeliveryError("a seal number is 4-40 letters, digits or '-'", field="seal_number")
    delivery = _own_delivery(session, actor, delivery_id)
    order = locked_order(session, delivery.order_id)
    if delivery.status != states.ASSIGNED:
        raise InvalidTransition("this delivery was picked up already")
    order.status = states.next_status("pickup", order.status, order.payment_status)
    at = now or utcnow()
    delivery.status, delivery.box_id, delivery.seal_number = states.PICKED_UP, box_id, seal_number
    delivery.picked_up_at = at
    payload = _delivery_payload(delivery) | {"order_status": order.status}
    event = ledger.Event(
        DELIVERY_PICKED_UP,
        payload,
        actor=actor.ledger_actor,
        subject={"delivery": delivery.id, "order": order.id, "box": box_id},
        ts=at,
    )
    delivery.ledger_index = order.ledger_index = ledger.append(session, event).index
    session.add_all([delivery, order])
    try:  # the watch entry joins this transaction (watch_delivery commits the session)
        coldchain.watch_delivery(
            session=session,
            delivery_id=delivery_id,
            box_id=box_id,
            pickup_at=at,
            food_class=delivery.food_class,
            merchant_id=order.merchant_id,
            actor=actor.ledger_actor,
        )
    except (coldchain.WatchError, ValueError) as exc:
        session.rollback()
        raise DeliveryError(f"the cold chain cannot watch this box: {exc}", field="box_id") from exc
    session.commit()
    return delivery


def dropoff(
    *,
    session: Session,
    actor: Actor,
    delivery_id: int,
    seal_number: str,
    now: datetime | None = None,
) -> Delivery:
    """The courier hands the order over after reading the seal again; a different number is
    recorded as a broken seal (the delivery is flagged for the desk)."""
    seal_number = (seal_number or "").strip().upper()
    if not SEAL_PATTERN.fullmatch(seal_number):
        raise DeliveryError("a seal number is 4-40 letters, digits or '-'", field="seal_number")
    delivery = _own_delivery(session, actor, delivery_id)
    order = locked_order(session, delivery.order_id)
    if delivery.status != states.PICKED_UP:
        raise InvalidTransition("this delivery is not on its way")
    order.status = states.next_status("dropoff", order.status, order.payment_status)
    at = now or utcnow()
    if delivery.picked_up_at is not None and at < delivery.picked_up_at:
        raise DeliveryError("drop-off cannot be before pickup", field="dropped_off_at")
    delivery.status, delivery.dropoff_seal = states.DELIVERED, seal_number
    delivery.seal_intact = seal_number == delivery.seal_number
    delivery.dropped_off_at = at
    payload = _delivery_payload(delivery) | {"order_status": order.status}
    event = ledger.Event(
        DELIVERY_DROPPED_OFF,
        payload,
        actor=actor.ledger_actor,
        subject={"delivery": delivery.id, "order": order.id},
        ts=at,
    )
    delivery.ledger_index = order.ledger_index = ledger.append(session, event).index
    session.add_all([delivery, order])
    try:  # joins this transaction (end_watch commits the session)
        coldchain.end_watch(
            session=session, delivery_id=delivery_id, dropoff_at=at, actor=actor.ledger_actor
        )
    except coldchain.WatchNotFound:
        pass  # picked up before the cold chain watched boxes: nothing to end
    except coldchain.WatchError as exc:
        session.rollback()
        raise DeliveryError(f"the cold chain refused the drop-off: {exc}") from exc
    session.commit()
    return delivery


def delivery_of_order(*, session: Session, order_id: int) -> Delivery | None:
    """The delivery of an order, if a courier has it."""
    return _delivery_of(session, order_id)


def order_of(session: Session, delivery: Delivery) -> Order:
    """The order a delivery carries."""
    order = session.get(Order, delivery.order_id)
    assert order is not None
    return order
