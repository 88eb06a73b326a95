"""Payouts to an order's payer (statutory damages): beyond the price, once per key, reconciled."""

from __future__ import annotations

import pytest

import ledger
from columns import utcnow
from orders import billing, errors
from orders.gateway_sim import charge_count
from orders.models import PAYOUT_REQUESTED, PAYOUT_SETTLED, Refund
from tests.orders.test_billing import LATER, entry_types, mode, order, placed


def paid(session, campus, config, gateway) -> int:
    order_id = placed(session, campus, config)
    billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    return order_id


def pay(session, gateway, config, order_id, amount, key="damages-1", what=billing.payout):
    return what(
        session=session,
        gateway=gateway,
        order_id=order_id,
        amount_fen=amount,
        idempotency_key=key,
        actor="user:desk",
        config=config,
        reason="art. 148",
    )


def test_a_payout_larger_than_the_price_is_paid_once_and_leaves_refunds_alone(
    session, engine, campus, config, gateway
):
    order_id = paid(session, campus, config, gateway)
    total = order(session, order_id).total_fen
    damages = max(10 * total, 100_000)
    first = pay(session, gateway, config, order_id, damages)
    second = pay(session, gateway, config, order_id, damages)
    assert first == second
    assert (first.status, first.kind, first.amount_fen) == ("succeeded", "payout", damages)
    assert first.reference.startswith(f"payout-{order_id}-")
    assert charge_count(engine, kind="payout") == 1 and charge_count(engine, kind="refund") == 0
    assert order(session, order_id).refunded_fen == 0
    # the whole price can still be refunded beside the damages
    refunded = pay(session, gateway, config, order_id, total, key="refund-1", what=billing.refund)
    assert refunded.status == "succeeded" and order(session, order_id).refunded_fen == total
    types = entry_types(session, order_id)
    assert types.count(PAYOUT_REQUESTED) == 1 and types.count(PAYOUT_SETTLED) == 1


def test_a_payout_key_cannot_be_reused_for_another_amount_or_as_a_refund(
    session, campus, config, gateway
):
    order_id = paid(session, campus, config, gateway)
    pay(session, gateway, config, order_id, 5000)
    with pytest.raises(errors.RefundError) as other_amount:
        pay(session, gateway, config, order_id, 6000)
    assert other_amount.value.field == "idempotency_key"
    with pytest.raises(errors.RefundError, match="payout") as as_refund:
        pay(session, gateway, config, order_id, 5000, what=billing.refund)
    assert as_refund.value.field == "idempotency_key"
    session.rollback()
    assert len(list(session.exec(Refund.__table__.select()))) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("amount", [0, -5, billing.MAX_PAYOUT_FEN + 1, True])
def test_a_payout_amount_out_of_range_is_refused_and_writes_nothing(
    session, campus, config, gateway, amount
):
    order_id = paid(session, campus, config, gateway)
    size = ledger.tree_size(session)
    session.rollback()
    with pytest.raises(errors.RefundError) as caught:
        pay(session, gateway, config, order_id, amount)
    assert caught.value.field == "amount_fen"
    session.rollback()
    assert ledger.tree_size(session) == size


def test_an_unpaid_order_has_no_payer_to_pay_out_to(session, engine, campus, config, gateway):
    order_id = placed(session, campus, config)
    with pytest.raises(errors.RefundError, match="paid order") as caught:
        pay(session, gateway, config, order_id, 1000)
    assert caught.value.field == "order_id"
    session.rollback()
    assert charge_count(engine, kind="payout") == 0


def test_a_payout_while_the_gateway_is_down_is_paid_by_reconciliation_once(
    session, engine, campus, config, gateway
):
    order_id = paid(session, campus, config, gateway)
    mode(session, "down")
    pending = pay(session, gateway, config, order_id, 150_000)
    assert pending.status == "pending"
    assert charge_count(engine, kind="payout") == 0
    mode(session, "healthy")
    report = billing.reconcile_payments(
        session=session, gateway=gateway, config=config, now=utcnow() + LATER
    )
    assert report.refunds_settled == 1
    assert session.get(Refund, pending.refund_id).status == "succeeded"
    session.rollback()
    again = pay(session, gateway, config, order_id, 150_000)
    assert again.status == "succeeded"
    assert charge_count(engine, kind="payout") == 1
    assert order(session, order_id).refunded_fen == 0
