"""The kitchen's side of an order: accept, reject (with a reason), mark ready.

Each change is a ledger entry naming the merchant user who made it. Rejecting gives the
order's portions back to their batches (the trace allocation stays in the log: it happened,
and the order's status says the food never left); a paid rejected order is refunded in full
(orders.billing.refund_rejected); a charge still deferred is voided, so nobody charges it; what
a voucher paid goes back on the voucher in the same transaction (orders.vouchers).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

import ledger
from columns import utcnow
from orders import states, vouchers
from orders.access import Actor
from orders.errors import Forbidden, InvalidOrder, InvalidTransition, NotFound
from orders.models import ORDER_ACCEPTED, ORDER_READY, ORDER_REJECTED, MenuBatch, Order
from orders.placement import portions_of


def locked_order(session: Session, order_id: int) -> Order:
    """The order, freshly read and (PostgreSQL) locked for this transaction; or NotFound."""
    stmt = select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    order = session.execute(stmt).scalars().first()
    if order is None:
        raise NotFound(f"no order {order_id}")
    return order


def _kitchen(actor: Actor, order: Order) -> None:
    """Only the order's merchant (or an administrator) runs its kitchen side."""
    if actor.role == "admin":
        return
    if actor.role != "merchant" or actor.merchant_id != order.merchant_id:
        raise NotFound(f"no order {order.id}")


def _record(
    session: Session,
    order: Order,
    kind: str,
    payload: dict[str, Any],
    actor: Actor,
    *,
    commit: bool = True,
) -> Order:
    event = ledger.Event(
        kind,
        payload,
        actor=actor.ledger_actor,
        subject={"order": order.id, "merchant": order.merchant_id},
    )
    order.ledger_index = ledger.append(session, event).index
    session.add(order)
    if commit:
        session.commit()
    return order


def accept(*, session: Session, actor: Actor, order_id: int, now: datetime | None = None) -> Order:
    """The kitchen takes the order (paid or payment deferred: the offline mode still cooks)."""
    order = locked_order(session, order_id)
    _kitchen(actor, order)
    order.status = states.next_status("accept", order.status, order.payment_status)
    order.accepted_at = now or utcnow()
    payload = {"order_status": order.status, "accepted_at": order.accepted_at}
    return _record(session, order, ORDER_ACCEPTED, payload, actor)


def mark_ready(
    *, session: Session, actor: Actor, order_id: int, now: datetime | None = None
) -> Order:
    """The food is cooked, sealed and waiting for the courier."""
    order = locked_order(session, order_id)
    _kitchen(actor, order)
    order.status = states.next_status("ready", order.status, order.payment_status)
    order.ready_at = now or utcnow()
    payload = {"order_status": order.status, "ready_at": order.ready_at}
    return _record(session, order, ORDER_READY, payload, actor)


def reject(
    *, session: Session, actor: Actor, order_id: int, reason: str, now: datetime | None = None
) -> Order:
    """The kitchen cannot make the order; its portions go back to their batches."""
    reason = (reason or "").strip()
    if not 1 <= len(reason) <= 300:
        raise InvalidOrder("say why the order is rejected (at most 300 characters)", field="reason")
    peek = session.get(Order, order_id)
    if peek is None:
        raise NotFound(f"no order {order_id}")
    _kitchen(actor, peek)
    if peek.payment_status == states.PENDING:
        raise InvalidTransition("the payment is being processed; try again in a moment")
    back = portions_of(session, [order_id])
    _lock_batches(session, sorted(back))  # menu batches before the order: the hot path's order
    order = locked_order(session, order_id)
    order.status = states.next_status("reject", order.status, order.payment_status)
    order.reject_reason = reason
    payload: dict[str, Any] = {"order_status": order.status, "reject_reason": reason}
    if order.payment_status == states.DEFERRED:
        order.payment_status = states.VOID
        order.next_payment_at = None
        payload["payment_status"] = states.VOID
    if back:
        table = MenuBatch.__table__  # type: ignore[attr-defined]
        session.execute(
            update(table)
            .where(table.c.id == bindparam("mb_id"))
            .values(allocated=table.c.allocated - bindparam("n")),
            [{"mb_id": k, "n": v} for k, v in sorted(back.items())],
        )
    owed = None
    if order.voucher_id is not None and vouchers.needs_restore(
        order.status, order.voucher_id, order.voucher_restored_at
    ):
        assert order.id is not None
        owed = vouchers.ToRestore(order.id, order.voucher_id, order.discount_fen)
        vouchers.load(session, ids=[order.voucher_id])  # locked before the ledger head
    _record(session, order, ORDER_REJECTED, payload, actor, commit=False)
    if owed is not None:  # what the voucher paid goes back on it, in this transaction
        at = now or utcnow()
        indexes = vouchers.give_back(session, [owed], actor=actor.ledger_actor, now=at)
        order.voucher_restored_at, order.ledger_index = at, indexes[owed.order_id]
        session.add(order)
    session.commit()
    return order


def _lock_batches(session: Session, ids: list[int]) -> None:
    if ids and session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(MenuBatch.id)
            .where(MenuBatch.id.in_(ids))
            .order_by(MenuBatch.id)
            .with_for_update()  # type: ignore[union-attr,arg-type]
        )


def check_merchant(actor: Actor, merchant_id: int) -> None:
    """Raise Forbidden unless the caller works for this merchant (or administers)."""
    if actor.role == "admin" or (actor.role == "merchant" and actor.merchant_id == merchant_id):
        return
    raise Forbidden("this is another merchant's kitchen")
