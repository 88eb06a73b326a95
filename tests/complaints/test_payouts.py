"""Compensation decisions per case, paid out once through the payment seam (a recording fake)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from complaints import payouts, service
from complaints.compensation import CompensationError
from complaints.payments import PaymentFailed, PaymentPort, RecordingPayments

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def case(session):
    return service.open_case(
        session=session,
        data={
            "channel": "phone",
            "category": "foreign_object",
            "description": "Glass in the salad",
            "order_ids": [77, 78],
            "complainant": {"name": "Zhou Jiu", "phone": "13600136000"},
        },
        actor="user:1",
        now=NOW,
    ).case


def test_the_fake_is_a_payment_port():
    assert isinstance(RecordingPayments(), PaymentPort)


def test_a_statutory_decision_records_the_art_148_amount_and_a_payout_key(session, case):
    row = payouts.decide_compensation(
        session=session, case_id=case.id, remedy="statutory", order_id=77,
        price_paid_fen=5000, loss_fen=0, actor="user:2", now=NOW,
    )  # fmt: skip
    assert (row.amount_fen, row.basis, row.status) == (100_000, "minimum", "decided")
    assert row.payout_key == f"{case.number}:statutory:77"


def test_each_payout_happens_once(session, case):
    row = payouts.decide_compensation(
        session=session, case_id=case.id, remedy="refund", order_id=77, price_paid_fen=2500,
        amount_fen=2500, actor="user:2",
    )  # fmt: skip
    port = RecordingPayments()
    paid = payouts.pay_compensation(session=session, compensation_id=row.id, port=port, actor="u")
    again = payouts.pay_compensation(session=session, compensation_id=row.id, port=port, actor="u")
    assert paid.status == again.status == "paid"
    assert port.calls == [("refund", 77, 2500, row.payout_key)]
    assert paid.payment_reference == "fake-refund-1"


def test_a_voucher_is_issued_not_refunded(session, case):
    row = payouts.decide_compensation(
        session=session, case_id=case.id, remedy="voucher", order_id=78, amount_fen=1000, actor="u"
    )
    port = RecordingPayments()
    payouts.pay_compensation(session=session, compensation_id=row.id, port=port, actor="u")
    assert port.calls == [("voucher", 78, 1000, row.payout_key)]


def test_a_failed_payment_leaves_the_decision_unpaid_for_a_retry_with_the_same_key(session, case):
    row = payouts.decide_compensation(
        session=session, case_id=case.id, remedy="refund", order_id=77, price_paid_fen=900,
        amount_fen=900, actor="u",
    )  # fmt: skip
    broken = RecordingPayments(fail=True)
    with pytest.raises(PaymentFailed):
        payouts.pay_compensation(session=session, compensation_id=row.id, port=broken, actor="u")
    session.rollback()
    port = RecordingPayments()
    paid = payouts.pay_compensation(
        session=session, compensation_id=row.id, port=port, actor="u", now=NOW + timedelta(hours=1)
    )
    assert paid.status == "paid" and broken.calls[0][3] == port.calls[0][3] == row.payout_key


def test_the_same_remedy_for_the_same_order_is_decided_once(session, case):
    payouts.decide_compensation(
        session=session, case_id=case.id, remedy="voucher", order_id=77, amount_fen=500, actor="u"
    )
    with pytest.raises(payouts.CompensationConflict):
        payouts.decide_compensation(
            session=session,
            case_id=case.id,
            remedy="voucher",
            order_id=77,
            amount_fen=800,
            actor="u",
        )


def test_only_the_cases_own_orders_can_be_compensated(session, case):
    with pytest.raises(CompensationError) as caught:
        payouts.decide_compensation(
            session=session,
            case_id=case.id,
            remedy="voucher",
            order_id=999,
            amount_fen=5,
            actor="u",
        )
    assert caught.value.field == "order_id"


def test_a_decision_without_an_order_cannot_be_paid_out(session, case):
    row = payouts.decide_compensation(
        session=session, case_id=case.id, remedy="voucher", amount_fen=500, actor="u"
    )
    with pytest.raises(payouts.PayoutError):
        payouts.pay_compensation(
            session=session, compensation_id=row.id, port=RecordingPayments(), actor="u"
        )
