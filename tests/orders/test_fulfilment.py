"""The kitchen: accept, mark ready, reject; each a ledger entry naming the merchant user."""

from __future__ import annotations

import pytest
from sqlmodel import select

import ledger
from orders import billing, errors, fulfilment, placement
from orders.gateway_sim import set_gateway_mode
from orders.models import MenuBatch, Order


@pytest.fixture
def order_id(session, campus, config, gateway) -> int:
    placed = placement.place_order(
        session=session, request=campus.request(items=((campus.rice, 3),)), config=config
    )
    billing.pay_order(session=session, gateway=gateway, order_id=placed.order_id, config=config)
    return placed.order_id


def last_entry(session, order: Order) -> dict:
    return ledger.entry_at(session, order.ledger_index).envelope()


def test_accept_then_ready_are_recorded_with_the_merchant_user(session, campus, order_id):
    chef = campus.actor("merchant")
    accepted = fulfilment.accept(session=session, actor=chef, order_id=order_id)
    assert accepted.status == "accepted" and accepted.accepted_at is not None
    entry = last_entry(session, accepted)
    assert (entry["type"], entry["actor"]) == ("orders.order_accepted", chef.ledger_actor)
    ready = fulfilment.mark_ready(session=session, actor=chef, order_id=order_id)
    assert ready.status == "ready" and ready.ready_at >= ready.accepted_at
    assert last_entry(session, ready)["payload"]["order_status"] == "ready"


def test_moves_out_of_order_are_refused(session, campus, order_id):
    chef = campus.actor("merchant")
    with pytest.raises(errors.InvalidTransition):
        fulfilment.mark_ready(session=session, actor=chef, order_id=order_id)
    fulfilment.accept(session=session, actor=chef, order_id=order_id)
    with pytest.raises(errors.InvalidTransition):
        fulfilment.accept(session=session, actor=chef, order_id=order_id)


def test_another_merchant_cannot_see_or_move_the_order(session, campus, order_id):
    with pytest.raises(errors.NotFound):
        fulfilment.accept(session=session, actor=campus.actor("merchant2"), order_id=order_id)
    with pytest.raises(errors.NotFound):
        fulfilment.accept(session=session, actor=campus.actor("student"), order_id=order_id)


def test_rejecting_needs_a_reason_and_gives_the_portions_back(session, campus, order_id):
    chef = campus.actor("merchant")
    with pytest.raises(errors.InvalidOrder) as caught:
        fulfilment.reject(session=session, actor=chef, order_id=order_id, reason="  ")
    assert caught.value.field == "reason"
    before = sum(mb.allocated for mb in session.exec(select(MenuBatch)).all())
    rejected = fulfilment.reject(session=session, actor=chef, order_id=order_id, reason="no gas")
    assert (rejected.status, rejected.reject_reason) == ("rejected", "no gas")
    session.expire_all()
    after = sum(mb.allocated for mb in session.exec(select(MenuBatch)).all())
    assert before - after == 3
    assert last_entry(session, rejected)["type"] == "orders.order_rejected"


def test_rejecting_a_paid_order_refunds_it_in_full(session, campus, config, gateway, order_id):
    fulfilment.reject(
        session=session, actor=campus.actor("merchant"), order_id=order_id, reason="closed early"
    )
    done = billing.refund_rejected(
        session=session, gateway=gateway, config=config, order_ids=[order_id]
    )
    order = session.get(Order, order_id)
    assert [r.amount_fen for r in done] == [
        order.total_fen
    ] and order.refunded_fen == order.total_fen


def test_rejecting_while_the_charge_is_in_flight_waits(session, campus, config):
    pending = placement.place_order(session=session, request=campus.request(key="p"), config=config)
    with pytest.raises(errors.InvalidTransition):
        fulfilment.reject(
            session=session, actor=campus.actor("merchant"), order_id=pending.order_id, reason="x"
        )


def test_rejecting_a_deferred_order_voids_the_charge(session, campus, config, gateway):
    set_gateway_mode(session=session, mode="down", actor="test")
    order_id = placement.place_order(
        session=session, request=campus.request(key="d"), config=config
    ).order_id
    billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    rejected = fulfilment.reject(
        session=session, actor=campus.actor("merchant"), order_id=order_id, reason="closed"
    )
    assert rejected.payment_status == "void" and rejected.next_payment_at is None
