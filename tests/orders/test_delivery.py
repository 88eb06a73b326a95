"""Couriers: claim or assignment, pickup with box and seal, drop-off with the seal checked; the
cold chain watches the box in between."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

import ledger
from columns import utcnow
from orders import billing, delivery, errors, fulfilment, placement
from orders.models import Delivery, Order
from sensors.models import Watch


@pytest.fixture
def ready_order(session, campus, config, gateway) -> int:
    order_id = placement.place_order(
        session=session,
        request=campus.request(items=((campus.rice, 1), (campus.salad, 1))),
        config=config,
    ).order_id
    billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    chef = campus.actor("merchant")
    fulfilment.accept(session=session, actor=chef, order_id=order_id)
    fulfilment.mark_ready(session=session, actor=chef, order_id=order_id)
    return order_id


def claim(session, campus, order_id, who="courier") -> Delivery:
    rider = campus.actor(who)
    return delivery.assign(
        session=session, actor=rider, order_id=order_id, courier_id=rider.user_id
    )


def test_a_courier_claims_picks_up_and_drops_off(session, campus, ready_order):
    rider = campus.actor("courier")
    d = claim(session, campus, ready_order)
    assert (d.status, d.courier_id, d.food_class) == ("assigned", rider.user_id, "cold")
    at = utcnow()
    d = delivery.pickup(
        session=session,
        actor=rider,
        delivery_id=d.id,
        box_id="BOX-001",
        seal_number="fs-0042",
        now=at,
    )
    assert (d.status, d.box_id, d.seal_number, d.picked_up_at) == (
        "picked_up",
        "BOX-001",
        "FS-0042",
        at,
    )
    assert session.get(Order, ready_order).status == "out_for_delivery"
    watch = session.get(Watch, d.id)
    assert (watch.box_id, watch.food_class, watch.pickup_at) == ("BOX-001", "cold", at)
    later = at + timedelta(minutes=20)
    d = delivery.dropoff(
        session=session, actor=rider, delivery_id=d.id, seal_number="FS-0042", now=later
    )
    assert (d.status, d.seal_intact, d.dropped_off_at) == ("delivered", True, later)
    session.expire_all()
    assert session.get(Watch, d.id).dropoff_at == later
    assert session.get(Order, ready_order).status == "delivered"
    entry = ledger.entry_at(session, d.ledger_index).envelope()
    assert entry["type"] == "orders.delivery_dropped_off"
    assert entry["actor"] == rider.ledger_actor


def test_a_different_seal_at_drop_off_is_recorded_as_broken(session, campus, ready_order):
    rider = campus.actor("courier")
    d = claim(session, campus, ready_order)
    delivery.pickup(
        session=session, actor=rider, delivery_id=d.id, box_id="BOX-2", seal_number="FS-1111"
    )
    d = delivery.dropoff(session=session, actor=rider, delivery_id=d.id, seal_number="FS-2222")
    assert (d.seal_intact, d.dropoff_seal, d.seal_number) == (False, "FS-2222", "FS-1111")
    payload = ledger.entry_at(session, d.ledger_index).envelope()["payload"]
    assert payload["seal_intact"] is False


def test_pickup_needs_the_kitchen_to_be_ready(session, campus, config, gateway):
    order_id = placement.place_order(
        session=session, request=campus.request(key="x"), config=config
    ).order_id
    billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    fulfilment.accept(session=session, actor=campus.actor("merchant"), order_id=order_id)
    d = claim(session, campus, order_id)  # lined up before cooking ends
    with pytest.raises(errors.InvalidTransition):
        delivery.pickup(
            session=session,
            actor=campus.actor("courier"),
            delivery_id=d.id,
            box_id="BOX-1",
            seal_number="FS-0001",
        )


def test_another_courier_cannot_take_or_carry_a_claimed_order(session, campus, ready_order):
    d = claim(session, campus, ready_order)
    with pytest.raises(errors.InvalidTransition):
        claim(session, campus, ready_order, who="courier2")
    with pytest.raises(errors.NotFound):
        delivery.pickup(
            session=session,
            actor=campus.actor("courier2"),
            delivery_id=d.id,
            box_id="BOX-1",
            seal_number="FS-0001",
        )


def test_the_desk_assigns_and_reassigns_until_pickup(session, campus, ready_order):
    desk = campus.actor("desk")
    first = delivery.assign(
        session=session, actor=desk, order_id=ready_order, courier_id=campus.users["courier"]
    )
    moved = delivery.assign(
        session=session, actor=desk, order_id=ready_order, courier_id=campus.users["courier2"]
    )
    assert moved.id == first.id and moved.courier_id == campus.users["courier2"]
    with pytest.raises(errors.DeliveryError) as caught:
        delivery.assign(
            session=session, actor=desk, order_id=ready_order, courier_id=campus.users["student"]
        )
    assert caught.value.field == "courier_id"


def test_a_student_or_merchant_cannot_assign_couriers(session, campus, ready_order):
    for who in ("student", "merchant"):
        with pytest.raises(errors.Forbidden):
            delivery.assign(
                session=session,
                actor=campus.actor(who),
                order_id=ready_order,
                courier_id=campus.users["courier"],
            )


@pytest.mark.parametrize(
    ("box", "seal", "field"),
    [
        ("", "FS-0001", "box_id"),
        ("BOX 1", "FS-0001", "box_id"),
        ("BOX-1", "x", "seal_number"),
        ("BOX-1", "FS 0001", "seal_number"),
    ],
)
def test_bad_box_or_seal_is_refused_naming_the_field(
    session, campus, ready_order, box, seal, field
):
    d = claim(session, campus, ready_order)
    with pytest.raises(errors.DeliveryError) as caught:
        delivery.pickup(
            session=session,
            actor=campus.actor("courier"),
            delivery_id=d.id,
            box_id=box,
            seal_number=seal,
        )
    assert caught.value.field == field
    assert session.exec(select(Watch)).all() == []


def test_a_cancelled_order_gets_no_courier(session, campus, config, gateway):
    from orders.gateway_sim import set_gateway_mode

    set_gateway_mode(session=session, mode="failing", actor="test")
    order_id = placement.place_order(
        session=session, request=campus.request(key="f"), config=config
    ).order_id
    billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    with pytest.raises(errors.InvalidTransition):
        claim(session, campus, order_id)
