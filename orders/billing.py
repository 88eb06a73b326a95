"""Charging orders, reconciling deferred charges, and refunds, through a PaymentGateway.

Money moves only by reference (orders.payments): an order's charge reference is derived from
its id, a refund's from the order and the caller's idempotency key, and the gateway processes
each reference once. So any retry - a second click, a worker that died, reconciliation racing
a request - charges at most once.

The gateway is never called inside a database transaction: the order (or refund request) is
committed first, then the gateway is asked, then the outcome is recorded in a new transaction.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

import ledger
from columns import utcnow
from orders import states, vouchers
from orders.checkout import KEY_PATTERN
from orders.errors import NotFound, RefundError
from orders.models import (
    PAYOUT_REQUESTED,
    PAYOUT_SETTLED,
    REFUND_REQUESTED,
    REFUND_SETTLED,
    Order,
    Refund,
)
from orders.payments import (
    GatewayError,
    GatewayUnavailable,
    PaymentDeclined,
    PaymentGateway,
    payment_reference,
    payout_reference,
    refund_reference,
    retry_delay,
)
from orders.placement import PaymentOutcome, write_batch
from orders.rules import OrdersConfig

log = logging.getLogger("foodtrace.orders.billing")
RECONCILE_ACTOR = "system:reconcile"
RECONCILE_WORKERS = 8  # charges in flight at once during reconciliation
REFUND, PAYOUT = "refund", "payout"  # Refund.kind
MAX_PAYOUT_FEN = 10**9  # ten million yuan: a larger payout is a typing error


def charge(
    gateway: PaymentGateway,
    *,
    order_id: int,
    amount_fen: int,
    timeout: float,
    actor: str = "system:payments",
) -> PaymentOutcome:
    """Ask the gateway to charge an order; gateway trouble becomes an outcome, never an error.
    Nothing to charge (a voucher paid the whole order) is paid at once, without the gateway."""
    if amount_fen == 0:
        return PaymentOutcome(order_id, "paid", actor=actor, at=utcnow())
    try:
        receipt = gateway.charge(
            reference=payment_reference(order_id), amount_fen=amount_fen, timeout=timeout
        )
    except PaymentDeclined as exc:
        return PaymentOutcome(order_id, "failed", error=str(exc), actor=actor, at=utcnow())
    except GatewayUnavailable as exc:
        return PaymentOutcome(order_id, "deferred", error=str(exc), actor=actor, at=utcnow())
    except GatewayError as exc:  # a conflict is our bug: keep retrying, never charge twice
        log.error("payment gateway error for order %s: %s", order_id, exc)
        return PaymentOutcome(order_id, "deferred", error=str(exc), actor=actor, at=utcnow())
    except Exception as exc:  # a real provider's network error: the outcome is unknown
        log.warning("payment gateway call failed for order %s: %r", order_id, exc)
        error = "the payment service failed"
        return PaymentOutcome(order_id, "deferred", error=error, actor=actor, at=utcnow())
    return PaymentOutcome(order_id, "paid", gateway_id=receipt.gateway_id, actor=actor, at=utcnow())


def pay_order(
    *,
    session: Session,
    gateway: PaymentGateway,
    order_id: int,
    config: OrdersConfig,
    now: datetime | None = None,
) -> str:
    """Charge a freshly placed order and record the outcome; returns the payment status."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"no order {order_id}")
    amount = order.total_fen
    session.commit()  # no transaction open while the gateway is asked
    outcome = charge(
        gateway, order_id=order_id, amount_fen=amount, timeout=config.payment_timeout_seconds
    )
    if now is not None:  # back-dated (demo data): the answer counts as given then
        outcome = replace(outcome, at=now)
    write_batch(session=session, outcomes=[outcome], config=config, now=now)
    session.expire_all()
    status = session.execute(
        select(Order.payment_status).where(col(Order.id) == order_id)
    ).scalar_one()
    session.rollback()  # end the read: SQLite's BEGIN IMMEDIATE would hold the database
    return str(status)


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What one reconciliation pass did."""

    claimed: int
    paid: int
    failed: int
    deferred: int
    refunds_settled: int


def reconcile_payments(
    *,
    session: Session,
    gateway: PaymentGateway,
    config: OrdersConfig,
    now: datetime | None = None,
    limit: int = 500,
    workers: int = RECONCILE_WORKERS,
) -> ReconcileReport:
    """Retry the charges that are due: deferred ones whose backoff has elapsed, and pending ones
    older than the grace period (their request died). The first charge goes alone (a probe),
    then `workers` at a time (the gateway is a remote service: after an outage thousands are
    due at once); the pass stops after the first wave with a sign the gateway is still down,
    and the rest keep their schedule. Then settles pending refunds the same way. The gateway
    must be thread-safe."""
    now = now or utcnow()
    claimed = _claim(session, config, now, limit)
    outcomes: list[PaymentOutcome] = []
    untried: list[tuple[int, datetime | None]] = []

    def one(row: tuple[int, int, datetime | None]) -> PaymentOutcome:
        return charge(
            gateway,
            order_id=row[0],
            amount_fen=row[1],
            timeout=config.payment_timeout_seconds,
            actor=RECONCILE_ACTOR,
        )

    workers = max(1, min(workers, len(claimed)))
    # the first charge alone probes the gateway (a gateway still down gets one call a pass)
    starts = [0, *range(1, len(claimed), workers)] if claimed else []
    with ThreadPoolExecutor(workers, thread_name_prefix="orders-reconcile") as pool:
        for n, start in enumerate(starts):
            end = starts[n + 1] if n + 1 < len(starts) else len(claimed)
            wave = list(pool.map(one, claimed[start:end]))
            outcomes.extend(wave)
            if any(o.outcome == "deferred" for o in wave):
                untried = [(oid, prev) for oid, _, prev in claimed[end:]]
                break
    if outcomes:
        write_batch(session=session, outcomes=outcomes, config=config, now=now)
    if untried:  # not attempted: back to the schedule they had before the claim
        for order_id, previous in untried:
            session.execute(
                update(Order).where(col(Order.id) == order_id).values(next_payment_at=previous)
            )
        session.commit()
    refunds = settle_pending_refunds(session=session, gateway=gateway, config=config, now=now)
    refund_rejected(session=session, gateway=gateway, config=config, now=now)
    vouchers.restore_vouchers(session, now=now)  # discounts of orders not eaten go back
    count = {k: sum(1 for o in outcomes if o.outcome == k) for k in ("paid", "failed", "deferred")}
    return ReconcileReport(len(claimed), count["paid"], count["failed"], count["deferred"], refunds)


def _claim(
    session: Session, config: OrdersConfig, now: datetime, limit: int
) -> list[tuple[int, int, datetime | None]]:
    """Take due orders for this pass: their next attempt moves past a lease, so a concurrent
    pass (another worker) skips them; (id, amount, previous next attempt)."""
    grace = now - timedelta(seconds=config.pending_payment_grace_seconds)
    due = or_(
        (col(Order.payment_status) == states.DEFERRED) & (col(Order.next_payment_at) <= now),
        (col(Order.payment_status) == states.PENDING)
        & (col(Order.created_at) <= grace)
        & (or_(col(Order.next_payment_at).is_(None), col(Order.next_payment_at) <= now)),
    )
    stmt = (
        select(Order.id, Order.total_fen, Order.next_payment_at)
        .where(due)
        .order_by(col(Order.next_payment_at), col(Order.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = [(int(i), int(a), n) for i, a, n in session.execute(stmt)]
    if rows:
        lease = now + timedelta(seconds=max(60.0, 4 * config.payment_timeout_seconds))
        session.execute(
            update(Order)
            .where(col(Order.id).in_([r[0] for r in rows]))
            .values(next_payment_at=lease)
        )
    session.commit()
    return rows


# --------------------------------------------------------------------------- refunds


@dataclass(frozen=True, slots=True)
class RefundResult:
    """A refund (or payout) as the caller sees it: `status` pending (the gateway is down: it
    will be paid by reconciliation, same reference), succeeded, or failed."""

    refund_id: int
    order_id: int
    reference: str
    amount_fen: int
    status: str
    kind: str = REFUND


def refund(
    *,
    session: Session,
    gateway: PaymentGateway,
    order_id: int,
    amount_fen: int,
    idempotency_key: str,
    actor: str,
    config: OrdersConfig,
    reason: str = "",
    now: datetime | None = None,
) -> RefundResult:
    """Pay `amount_fen` back on a paid order, once per (order, idempotency_key).

    The complaint desk's compensation (complaints part 2) calls this. The same key with the
    same amount returns the same refund (retrying it if still pending); with another amount
    it is a RefundError. The amount may not exceed what was paid minus earlier refunds. The
    request is recorded (`orders.refund_requested`) before the gateway is asked; the answer
    is recorded as `orders.refund_settled`. When the gateway is down the refund stays
    `pending` and `reconcile_payments` completes it later with the same reference.
    """
    return _money_back(
        REFUND, session, gateway, order_id, amount_fen, idempotency_key, actor, config, reason, now
    )


def payout(
    *,
    session: Session,
    gateway: PaymentGateway,
    order_id: int,
    amount_fen: int,
    idempotency_key: str,
    actor: str,
    config: OrdersConfig,
    reason: str = "",
    now: datetime | None = None,
) -> RefundResult:
    """Pay `amount_fen` to the payer of a paid order, once per (order, idempotency_key).

    For statutory damages (complaints): the amount is the payout's own, not bounded by the
    price (1 fen to MAX_PAYOUT_FEN), and leaves the order's `refunded_fen` alone. Otherwise
    it behaves as `refund`: recorded (`orders.payout_requested`) before the gateway's
    `payout` is asked, settled (`orders.payout_settled`), pending while the gateway is down
    and completed by `reconcile_payments` with the same reference. A key used for a refund
    of the order cannot be reused for a payout (RefundError).
    """
    return _money_back(
        PAYOUT, session, gateway, order_id, amount_fen, idempotency_key, actor, config, reason, now
    )


def _money_back(
    kind: str,
    session: Session,
    gateway: PaymentGateway,
    order_id: int,
    amount_fen: int,
    idempotency_key: str,
    actor: str,
    config: OrdersConfig,
    reason: str,
    now: datetime | None,
) -> RefundResult:
    if not KEY_PATTERN.fullmatch(idempotency_key or ""):
        raise RefundError(
            "the idempotency key must be 1-200 visible ASCII characters", field="idempotency_key"
        )
    row = _existing_refund(session, order_id, idempotency_key)
    if row is None:
        try:
            row = _request(kind, session, order_id, amount_fen, idempotency_key, actor, reason, now)
        except IntegrityError:  # a concurrent call with the same key won
            session.rollback()
            row = _existing_refund(session, order_id, idempotency_key)
            assert row is not None
    if row.kind != kind:
        raise RefundError(
            f"this key was used for a {row.kind} of the order", field="idempotency_key"
        )
    if row.amount_fen != amount_fen:
        raise RefundError(
            f"this key was used for a {kind} of {row.amount_fen} fen", field="idempotency_key"
        )
    if row.status == "pending":
        row = _settle(session, gateway, row, actor, config, now)
    assert row.id is not None
    result = RefundResult(row.id, row.order_id, row.reference, row.amount_fen, row.status, row.kind)
    session.commit()  # end the read (SQLite's BEGIN IMMEDIATE would hold the database)
    return result


def _existing_refund(session: Session, order_id: int, key: str) -> Refund | None:
    stmt = select(Refund).where(Refund.order_id == order_id, Refund.idempotency_key == key)
    return session.execute(stmt).scalars().first()


def _request(
    kind: str,
    session: Session,
    order_id: int,
    amount: int,
    key: str,
    actor: str,
    reason: str,
    now: datetime | None,
) -> Refund:
    order = _locked_order(session, order_id)
    if order.payment_status != states.PAID:
        what = "be refunded" if kind == REFUND else "have its payer paid out"
        raise RefundError(f"only a paid order can {what}", field="order_id")
    if kind == REFUND:
        committed = session.execute(
            select(func.coalesce(func.sum(Refund.amount_fen), 0)).where(
                Refund.order_id == order_id,
                Refund.kind == REFUND,
                col(Refund.status).in_(["pending", "succeeded"]),
            )
        ).scalar_one()
        most = order.total_fen - int(committed)
    else:
        most = MAX_PAYOUT_FEN
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= most:
        raise RefundError(f"the amount must be between 1 and {most} fen", field="amount_fen")
    reason = (reason or "").strip()[:300]
    digest = hashlib.sha256(key.encode()).hexdigest()
    reference = (refund_reference if kind == REFUND else payout_reference)(order_id, digest)
    row = Refund(
        order_id=order_id,
        amount_fen=amount,
        kind=kind,
        idempotency_key=key,
        reference=reference,
        reason=reason,
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    payload = {
        "order_id": order_id, "amount_fen": amount, "kind": kind, "idempotency_key": key,
        "reference": row.reference, "status": "pending", "reason": reason,
        "gateway_refund_id": None, "error": None,
    }  # fmt: skip
    event = ledger.Event(
        REFUND_REQUESTED if kind == REFUND else PAYOUT_REQUESTED,
        payload,
        actor=actor,
        subject={"refund": row.id, "order": order_id},
    )
    row.ledger_index = ledger.append(session, event).index
    session.commit()
    return row


def _locked_order(session: Session, order_id: int) -> Order:
    stmt = select(Order).where(Order.id == order_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    order = session.execute(stmt.execution_options(populate_existing=True)).scalars().first()
    if order is None:
        raise NotFound(f"no order {order_id}")
    return order


def _settle(
    session: Session,
    gateway: PaymentGateway,
    row: Refund,
    actor: str,
    config: OrdersConfig,
    now: datetime | None,
) -> Refund:
    """Ask the gateway for a pending refund (or payout) and record its answer."""
    order = session.get(Order, row.order_id)
    assert order is not None and row.id is not None
    charge_ref, refund_id, kind = order.payment_reference, row.id, row.kind
    session.commit()  # no transaction open while the gateway is asked
    status, gateway_id, error = "succeeded", None, None
    ask = gateway.refund if kind == REFUND else gateway.payout
    try:
        receipt = ask(
            reference=row.reference,
            charge_reference=charge_ref,
            amount_fen=row.amount_fen,
            timeout=config.payment_timeout_seconds,
        )
        gateway_id = receipt.gateway_id
    except PaymentDeclined as exc:
        status, error = "failed", str(exc)[:300]
    except (GatewayError, OSError) as exc:
        return _reschedule(session, refund_id, config, now, str(exc))
    at = now or utcnow()
    order = _locked_order(session, row.order_id)
    fresh = session.execute(
        select(Refund).where(Refund.id == refund_id).execution_options(populate_existing=True)
    ).scalar_one()
    if fresh.status != "pending":  # a concurrent settle recorded it first
        session.commit()
        return fresh
    fresh.status, fresh.gateway_refund_id, fresh.error, fresh.settled_at = (
        status,
        gateway_id,
        error,
        at,
    )
    payload: dict[str, object] = {"status": status, "gateway_refund_id": gateway_id, "error": error}
    if kind == REFUND:
        if status == "succeeded":
            order.refunded_fen += fresh.amount_fen
        payload["refunded_fen"] = order.refunded_fen
    event = ledger.Event(
        REFUND_SETTLED if kind == REFUND else PAYOUT_SETTLED,
        payload,
        actor=actor,
        subject={"refund": refund_id, "order": order.id},
    )
    fresh.ledger_index = order.ledger_index = ledger.append(session, event).index
    session.add_all([fresh, order])
    session.commit()
    return fresh


def _reschedule(
    session: Session, refund_id: int, config: OrdersConfig, now: datetime | None, error: str
) -> Refund:
    row = session.get(Refund, refund_id)
    assert row is not None
    row.attempts += 1
    delay = retry_delay(
        row.attempts,
        base=config.payment_retry_base_seconds,
        cap=config.payment_retry_max_seconds,
    )
    row.next_attempt_at = (now or utcnow()) + timedelta(seconds=delay)
    row.error = error[:300]
    session.add(row)
    session.commit()
    return row


def settle_pending_refunds(
    *,
    session: Session,
    gateway: PaymentGateway,
    config: OrdersConfig,
    now: datetime | None = None,
    limit: int = 100,
) -> int:
    """Retry pending refunds and payouts that are due; returns how many were settled."""
    now = now or utcnow()
    stmt = (
        select(Refund)
        .where(
            Refund.status == "pending",
            or_(col(Refund.next_attempt_at).is_(None), col(Refund.next_attempt_at) <= now),
            col(Refund.created_at) <= now - timedelta(seconds=config.payment_timeout_seconds),
        )
        .order_by(col(Refund.id))
        .limit(limit)
    )
    rows = list(session.execute(stmt).scalars())
    settled = 0
    for row in rows:
        done = _settle(session, gateway, row, RECONCILE_ACTOR, config, now)
        if done.status != "pending":
            settled += 1
        else:
            break  # still down: wait for the next pass
    return settled


def refund_rejected(
    *,
    session: Session,
    gateway: PaymentGateway,
    config: OrdersConfig,
    order_ids: Sequence[int] | None = None,
    now: datetime | None = None,
) -> list[RefundResult]:
    """Refund in full the paid orders the kitchen rejected (a charge may have gone through
    after the rejection, when the gateway came back)."""
    stmt = select(Order.id, Order.total_fen, Order.refunded_fen).where(
        Order.status == states.REJECTED,
        Order.payment_status == states.PAID,
        col(Order.refunded_fen) < col(Order.total_fen),
    )
    if order_ids is not None:
        stmt = stmt.where(col(Order.id).in_(list(order_ids)))
    rows = list(session.execute(stmt.limit(200)))
    session.commit()
    done = []
    for order_id, total, refunded in rows:
        try:
            done.append(
                refund(
                    session=session,
                    gateway=gateway,
                    order_id=order_id,
                    amount_fen=total - refunded,
                    idempotency_key=f"rejected-{order_id}",
                    actor=RECONCILE_ACTOR if order_ids is None else "system:orders",
                    config=config,
                    reason="the kitchen rejected the order",
                    now=now,
                )
            )
        except RefundError as exc:
            log.warning("cannot refund rejected order %s: %s", order_id, exc)
    return done
