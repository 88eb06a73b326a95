"""The complaint desk on the real ordering flow: a hold keeps a suspect lot's batches off
plates, and compensation is paid once through the orders module's refund interface."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from accounts import passwords
from complaints import notices, payouts, service
from complaints.payments import PaymentPort
from complaints.refunds import OrdersPayments, PaymentPending
from orders import errors as order_errors
from orders import placement
from orders.billing import pay_order
from orders.gateway_sim import SimulatedGateway, charge_count, set_gateway_mode
from orders.models import Refund
from orders.rules import OrdersConfig
from tests.orders.conftest import build_campus
from trace.access import Viewer
from trace.models import DishBatch

passwords.use_cheap_parameters_for_tests()
DESK = Viewer(actor="user:desk", role="desk")
CONFIG = OrdersConfig.from_mapping({"ORDERS_PAYMENT_TIMEOUT_SECONDS": 0.5})


@pytest.fixture
def campus(session):
    return build_campus(session)


@pytest.fixture
def gateway(engine):
    return SimulatedGateway(engine, sleep=lambda _s: None)


def paid_order(session, campus, gateway, key="k1"):
    placed = placement.place_order(session=session, request=campus.request(key=key), config=CONFIG)
    assert (
        pay_order(session=session, gateway=gateway, order_id=placed.order_id, config=CONFIG)
        == "paid"
    )
    return placed


def case_for(session, order_id):
    return service.open_case(
        session=session,
        data={
            "channel": "phone",
            "category": "illness",
            "description": "Ill after the fried rice",
            "onset_at": datetime.now(UTC) - timedelta(hours=1),
            "symptoms": ["vomiting"],
            "order_ids": [order_id],
            "complainant": {"name": "Li Lei", "phone": "13800138000"},
        },
        actor="user:1",
    ).case


def test_a_held_lot_cannot_be_served(session, campus):
    # Served before the hold...
    placement.place_order(session=session, request=campus.request(key="before"), config=CONFIG)
    held = notices.hold_source(
        session=session, viewer=DESK, kind="lot", ident=campus.lot, reason="suspect"
    )
    assert ("lot", campus.lot) in held and ("batch", campus.batch_a) in held
    assert session.get(DishBatch, campus.batch_b).status == "on_hold"
    # ...refused after it: the rice's open batches were all made from the held lot.
    with pytest.raises(order_errors.OrderError):
        placement.place_order(session=session, request=campus.request(key="after"), config=CONFIG)
    # The other merchant's noodles (another lot) are still served.
    placed = placement.place_order(
        session=session,
        request=campus.request(
            key="noodles", merchant=campus.other_merchant, items=((campus.noodles, 1),)
        ),
        config=CONFIG,
    )
    assert placed.created


def test_a_refund_is_paid_once_through_the_orders_module(session, campus, gateway):
    placed = paid_order(session, campus, gateway)
    case = case_for(session, placed.order_id)
    decision = payouts.decide_compensation(
        session=session, case_id=case.id, remedy="refund", order_id=placed.order_id,
        price_paid_fen=placed.total_fen, amount_fen=placed.total_fen, actor="user:1",
    )  # fmt: skip
    port = OrdersPayments(session, "user:1", gateway=gateway)
    assert isinstance(port, PaymentPort)
    paid = payouts.pay_compensation(
        session=session, compensation_id=decision.id, port=port, actor="user:1"
    )
    assert paid.status == "paid" and paid.payment_reference
    again = payouts.pay_compensation(
        session=session, compensation_id=decision.id, port=port, actor="user:1"
    )
    assert again.payment_reference == paid.payment_reference
    refunds = session.exec(select(Refund).where(Refund.order_id == placed.order_id)).all()
    assert [(r.amount_fen, r.status, r.idempotency_key) for r in refunds] == [
        (placed.total_fen, "succeeded", decision.payout_key)
    ]
    # Calling the port directly with the same key does not pay a second time either.
    port.refund(placed.order_id, placed.total_fen, decision.payout_key)
    assert len(session.exec(select(Refund).where(Refund.order_id == placed.order_id)).all()) == 1


def test_a_refund_while_the_gateway_is_down_stays_unpaid_then_pays_with_the_same_key(
    session, campus, gateway
):
    placed = paid_order(session, campus, gateway)
    case = case_for(session, placed.order_id)
    decision = payouts.decide_compensation(
        session=session, case_id=case.id, remedy="refund", order_id=placed.order_id,
        price_paid_fen=placed.total_fen, amount_fen=500, actor="user:1",
    )  # fmt: skip
    set_gateway_mode(session=session, mode="down", actor="test")
    session.commit()
    port = OrdersPayments(session, "user:1", gateway=gateway)
    with pytest.raises(PaymentPending):
        payouts.pay_compensation(
            session=session, compensation_id=decision.id, port=port, actor="user:1"
        )
    session.rollback()
    assert payouts.list_compensations(session=session, case_id=case.id)[0].status == "decided"
    set_gateway_mode(session=session, mode="healthy", actor="test")
    session.commit()
    paid = payouts.pay_compensation(
        session=session, compensation_id=decision.id, port=port, actor="user:1"
    )
    assert paid.status == "paid"
    refunds = session.exec(select(Refund).where(Refund.order_id == placed.order_id)).all()
    assert [(r.amount_fen, r.status) for r in refunds] == [(500, "succeeded")]


def test_statutory_damages_beyond_the_price_are_paid_once_to_the_payer(
    session, engine, campus, gateway
):
    placed = paid_order(session, campus, gateway)
    case = case_for(session, placed.order_id)
    port = OrdersPayments(session, "user:1", gateway=gateway)
    statutory = payouts.decide_compensation(
        session=session, case_id=case.id, remedy="statutory", order_id=placed.order_id,
        price_paid_fen=placed.total_fen, loss_fen=2000, actor="user:1",
    )  # fmt: skip
    assert statutory.amount_fen == max(10 * placed.total_fen, 3 * 2000, 100_000)
    assert statutory.amount_fen > placed.total_fen  # no refund of the charge could pay it
    paid = payouts.pay_compensation(
        session=session, compensation_id=statutory.id, port=port, actor="user:1"
    )
    assert paid.status == "paid" and paid.payment_reference.startswith("payout-")
    again = payouts.pay_compensation(
        session=session, compensation_id=statutory.id, port=port, actor="user:1"
    )
    assert again.payment_reference == paid.payment_reference
    port.pay_damages(placed.order_id, statutory.amount_fen, statutory.payout_key)  # a retry
    rows = session.exec(select(Refund).where(Refund.order_id == placed.order_id)).all()
    assert [(r.kind, r.amount_fen, r.status) for r in rows] == [
        ("payout", statutory.amount_fen, "succeeded")
    ]
    session.rollback()
    assert charge_count(engine, kind="payout") == 1


def test_statutory_damages_while_the_gateway_is_down_stay_unpaid_then_pay_once(
    session, engine, campus, gateway
):
    placed = paid_order(session, campus, gateway)
    case = case_for(session, placed.order_id)
    statutory = payouts.decide_compensation(
        session=session, case_id=case.id, remedy="statutory", order_id=placed.order_id,
        price_paid_fen=placed.total_fen, actor="user:1",
    )  # fmt: skip
    set_gateway_mode(session=session, mode="down", actor="test")
    session.commit()
    port = OrdersPayments(session, "user:1", gateway=gateway)
    with pytest.raises(PaymentPending, match="payout"):
        payouts.pay_compensation(
            session=session, compensation_id=statutory.id, port=port, actor="user:1"
        )
    session.rollback()
    assert payouts.list_compensations(session=session, case_id=case.id)[0].status == "decided"
    set_gateway_mode(session=session, mode="healthy", actor="test")
    session.commit()
    paid = payouts.pay_compensation(
        session=session, compensation_id=statutory.id, port=port, actor="user:1"
    )
    assert paid.status == "paid"
    session.rollback()
    assert charge_count(engine, kind="payout") == 1


def test_a_voucher_decision_is_paid_once_as_a_voucher_the_customer_spends(session, campus, gateway):
    from complaints.payments import PaymentFailed
    from orders.checkout import OrderRequest
    from orders.models import Voucher

    placed = paid_order(session, campus, gateway)
    case = case_for(session, placed.order_id)
    decision = payouts.decide_compensation(
        session=session, case_id=case.id, remedy="voucher", order_id=placed.order_id,
        amount_fen=800, actor="user:1",
    )  # fmt: skip
    port = OrdersPayments(session, "user:1", gateway=gateway)
    paid = payouts.pay_compensation(
        session=session, compensation_id=decision.id, port=port, actor="user:1"
    )
    assert paid.status == "paid" and paid.payment_reference.startswith("V")
    code = paid.payment_reference
    again = payouts.pay_compensation(
        session=session, compensation_id=decision.id, port=port, actor="user:1"
    )
    assert again.payment_reference == code
    assert port.issue_voucher(placed.order_id, 800, decision.payout_key).reference == code
    rows = session.exec(select(Voucher).where(Voucher.idempotency_key == decision.payout_key)).all()
    assert [(v.code, v.user_id, v.amount_fen, v.balance_fen, v.source_order_id) for v in rows] == [
        (code, campus.users["student"], 800, 800, placed.order_id)
    ]
    session.rollback()
    with pytest.raises(PaymentFailed, match="800 fen"):  # the key, reused for another amount
        port.issue_voucher(placed.order_id, 900, decision.payout_key)
    session.rollback()
    # the customer spends it at checkout: 2 x fried rice (3000) less the voucher
    base = campus.request(key="with-voucher")
    spend = OrderRequest(
        user_id=base.user_id, merchant_id=base.merchant_id, items=base.items,
        address=base.address, idempotency_key=base.idempotency_key, voucher_code=code,
    )  # fmt: skip
    spent = placement.place_order(session=session, request=spend, config=CONFIG)
    assert (spent.discount_fen, spent.total_fen) == (800, 2200)
