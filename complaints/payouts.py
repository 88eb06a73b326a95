"""Compensation decisions per case and their payout, once each (the transaction boundary).

A decision gets a payout key unique per case, remedy and order (``FT-2026-000123:refund:42``),
so the same remedy cannot be decided twice for one order, and the payout passes that key to
the payment side, so a retried payout never pays twice. Payouts go through a
:class:`complaints.payments.PaymentPort`; the orders module provides the real one (part 2).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

import ledger
from columns import utcnow
from complaints import records
from complaints.compensation import (
    CompensationError,
    check_decision,
    fen_to_yuan,
    statutory_damages,
)
from complaints.models import Compensation
from complaints.payments import PaymentPort
from complaints.service import get_case

__all__ = [
    "CompensationConflict",
    "CompensationNotFound",
    "PayoutError",
    "decide_compensation",
    "list_compensations",
    "pay_compensation",
]


class CompensationConflict(CompensationError):
    """This remedy was already decided for this case and order."""


class CompensationNotFound(LookupError):
    """No such compensation decision."""


class PayoutError(ValueError):
    """A decision that cannot be paid out through the payment interface."""


def _columns(row: Compensation) -> dict[str, object]:
    return {
        "remedy": row.remedy,
        "order_id": row.order_id,
        "price_paid_fen": row.price_paid_fen,
        "loss_fen": row.loss_fen,
        "amount_fen": row.amount_fen,
        "basis": row.basis,
        "payout_key": row.payout_key,
        "status": row.status,
        "decided_at": row.decided_at,
        "paid_at": row.paid_at,
        "payment_reference": row.payment_reference,
    }


def decide_compensation(
    *,
    session: Session,
    case_id: int,
    remedy: str,
    actor: str,
    order_id: int | None = None,
    price_paid_fen: int | None = None,
    loss_fen: int | None = None,
    amount_fen: int | None = None,
    now: datetime | None = None,
) -> Compensation:
    """Record a refund, voucher or statutory (art. 148) decision for a case. Commits.

    The order, when given, must be one the case concerns; the amount is checked by
    :func:`complaints.compensation.check_decision`.
    """
    now = now or utcnow()
    case = get_case(session=session, case_id=case_id)
    amount = check_decision(
        remedy=remedy, amount_fen=amount_fen, price_paid_fen=price_paid_fen, loss_fen=loss_fen
    )
    orders = records.order_ids_of(session, [case_id])[case_id]
    if order_id is not None and order_id not in orders:
        raise CompensationError(f"order {order_id} is not one this case concerns", field="order_id")
    basis = remedy
    if remedy == "statutory":
        assert price_paid_fen is not None  # check_decision requires it
        basis = statutory_damages(price_paid_fen=price_paid_fen, loss_fen=loss_fen or 0).basis
    key = f"{case.number}:{remedy}:{order_id or 0}"
    if session.exec(select(Compensation.id).where(Compensation.payout_key == key)).first():
        raise CompensationConflict(
            f"a {remedy} was already decided for this case and order", field="remedy"
        )
    row = Compensation(
        case_id=case_id,
        remedy=remedy,
        order_id=order_id,
        price_paid_fen=price_paid_fen,
        loss_fen=loss_fen,
        amount_fen=amount,
        basis=basis,
        payout_key=key,
        status="decided",
        decided_by=actor[:40],
        decided_at=now,
    )
    session.add(row)
    session.flush()
    event = records.add_event(
        session,
        case,
        kind="compensation",
        actor=actor,
        at=now,
        visible=True,
        body=f"{remedy} ¥{fen_to_yuan(amount)}",
    )
    written = ledger.append(
        session,
        records.entry(
            "complaint.compensation_decided",
            actor=actor,
            at=now,
            subject={"case": case_id, "event": event.id, "compensation": row.id},
            payload={**_columns(row), **records.event_payload(event)},
        ),
    )
    row.ledger_index = event.ledger_index = written.index
    session.commit()
    return row


def pay_compensation(
    *,
    session: Session,
    compensation_id: int,
    port: PaymentPort,
    actor: str,
    now: datetime | None = None,
    case_id: int | None = None,
) -> Compensation:
    """Pay a decision out once through ``port`` (idempotency key = the payout key). Commits.

    A decision already paid is returned as it is, without calling the port again. Errors of
    the payment side (PaymentFailed) leave the decision unpaid, to be retried.
    """
    now = now or utcnow()
    row = session.exec(
        select(Compensation).where(Compensation.id == compensation_id).with_for_update()
    ).first()
    if row is None or (case_id is not None and row.case_id != case_id):
        raise CompensationNotFound(f"no compensation decision {compensation_id}")
    if row.status == "paid":
        return row
    if row.order_id is None:
        raise PayoutError("this decision names no order, so it cannot be paid to a payer")
    by_remedy = {"voucher": port.issue_voucher, "statutory": port.pay_damages}
    pay = by_remedy.get(row.remedy, port.refund)
    receipt = pay(row.order_id, row.amount_fen, row.payout_key)
    row.status, row.paid_at, row.payment_reference = "paid", now, receipt.reference[:120]
    case = get_case(session=session, case_id=row.case_id)
    event = records.add_event(
        session,
        case,
        kind="compensation_paid",
        actor=actor,
        at=now,
        visible=True,
        body=f"{row.remedy} ¥{fen_to_yuan(row.amount_fen)}",
    )
    written = ledger.append(
        session,
        records.entry(
            "complaint.compensation_paid",
            actor=actor,
            at=now,
            subject={"case": row.case_id, "event": event.id, "compensation": row.id},
            payload={**_columns(row), **records.event_payload(event)},
        ),
    )
    row.ledger_index = event.ledger_index = written.index
    session.commit()
    return row


def list_compensations(*, session: Session, case_id: int) -> list[Compensation]:
    """The case's compensation decisions, oldest first."""
    stmt = (
        select(Compensation).where(Compensation.case_id == case_id).order_by(col(Compensation.id))
    )
    return list(session.exec(stmt).all())
