"""Placing orders: rows, ledger entries, allocations, idempotency, refusals."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import col, select

import ledger
from orders import errors, placement
from orders.models import MenuBatch, Order, OrderLine
from trace.models import BatchAllocation, DishBatch, Merchant
from trace.service import record_allocations  # noqa: F401  (the path allocations take)


def place(session, campus, config, **kw):
    return placement.place_order(session=session, request=campus.request(**kw), config=config)


def entry(session, index):
    return ledger.entry_at(session, index).envelope()


def test_an_order_is_written_with_its_lines_and_ledger_entries(session, campus, config):
    placed = place(session, campus, config, items=((campus.rice, 2), (campus.salad, 1)))
    assert placed.created and placed.total_fen == 2 * 1500 + 900
    order = session.get(Order, placed.order_id)
    assert (order.status, order.payment_status, order.total_fen) == ("placed", "pending", 3900)
    assert order.payment_reference == f"order-{order.id}"
    placed_entry = entry(session, order.placed_index)
    assert placed_entry["type"] == "orders.order_placed"
    assert placed_entry["subject"] == {
        "order": order.id,
        "merchant": campus.merchant,
        "user": campus.users["student"],
    }
    assert placed_entry["actor"] == f"user:{campus.users['student']}"
    # the address is personal: only salted digests in the log, the clear text in the row
    assert {"building", "room", "phone", "note"} <= set(placed_entry["payload_digest"])
    assert "North Dorm 3" not in json.dumps(placed_entry, ensure_ascii=False)
    assert order.building == "North Dorm 3"
    lines = session.exec(select(OrderLine).where(OrderLine.order_id == order.id)).all()
    assert sorted((line.name, line.quantity, line.unit_price_fen) for line in lines) == [
        ("Fried rice", 2, 1500),
        ("Green salad", 1, 900),
    ]
    for line in lines:
        assert entry(session, line.ledger_index)["type"] == "orders.line_added"


def test_lines_are_allocated_first_in_first_out_through_trace(session, campus, config):
    first = place(session, campus, config, key="a", items=((campus.rice, 8),))
    second = place(session, campus, config, key="b", items=((campus.rice, 4),))

    def allocations(order_id):
        rows = session.exec(
            select(BatchAllocation.batch_id, BatchAllocation.quantity)
            .join(OrderLine, col(OrderLine.id) == BatchAllocation.order_line_id)
            .where(OrderLine.order_id == order_id)
            .order_by(col(BatchAllocation.batch_id))
        ).all()
        return [(b, q) for b, q in rows]

    assert allocations(first.order_id) == [(campus.batch_a, 8.0)]
    # batch A has 2 left; the other 2 come from batch B, opened after it
    assert allocations(second.order_id) == [(campus.batch_a, 2.0), (campus.batch_b, 2.0)]
    index = session.exec(select(BatchAllocation.ledger_index)).first()
    assert entry(session, index)["type"] == "trace.batches_allocated"
    allocated = dict(session.exec(select(MenuBatch.batch_id, MenuBatch.allocated)).all())
    assert allocated[campus.batch_a] == 10 and allocated[campus.batch_b] == 2


def test_the_same_key_and_body_return_the_same_order(session, campus, config):
    first = place(session, campus, config, key="same")
    again = place(session, campus, config, key="same")
    assert again == placement.Placed(first.order_id, created=False)
    assert len(session.exec(select(Order)).all()) == 1


def test_the_same_key_with_another_body_is_a_conflict(session, campus, config):
    place(session, campus, config, key="same")
    with pytest.raises(errors.IdempotencyConflict) as caught:
        place(session, campus, config, key="same", items=((campus.rice, 3),))
    assert caught.value.field == "Idempotency-Key"


def test_keys_belong_to_one_student(session, campus, config):
    mine = place(session, campus, config, key="shared")
    theirs = place(session, campus, config, key="shared", who="student2")
    assert theirs.created and theirs.order_id != mine.order_id


def test_duplicates_within_one_batch_become_one_order(session, campus, config):
    req = campus.request(key="dup")
    other = campus.request(key="dup", items=((campus.rice, 1),))
    result = placement.write_batch(session=session, requests=[req, req, other], config=config)
    first, second, third = result.placed
    assert first.created and second == placement.Placed(first.order_id, created=False)
    assert isinstance(third, errors.IdempotencyConflict)
    assert len(session.exec(select(Order)).all()) == 1


def test_one_bad_request_does_not_stop_the_others_in_a_batch(session, campus, config):
    good = campus.request(key="good")
    bad = campus.request(key="bad", items=((campus.noodles, 1),))  # another merchant's dish
    result = placement.write_batch(session=session, requests=[bad, good], config=config)
    assert isinstance(result.placed[0], errors.UnknownItem)
    assert result.placed[1].created


def test_sold_out_names_the_line_and_takes_nothing(session, campus, config):
    with pytest.raises(errors.SoldOut) as caught:
        place(session, campus, config, items=((campus.salad, 1), (campus.rice, 16)))
    assert caught.value.field == "items[1].quantity"
    assert "15 left" in str(caught.value)
    assert session.exec(select(Order)).all() == []
    assert session.exec(select(BatchAllocation)).all() == []
    assert all(mb.allocated == 0 for mb in session.exec(select(MenuBatch)).all())


def test_a_recalled_batch_serves_nobody(session, campus, config):
    batch = session.get(DishBatch, campus.batch_a)
    batch.status = "recalled"  # as trace's recall service leaves it
    session.add(batch)
    session.commit()
    placed = place(session, campus, config, items=((campus.rice, 5),))
    used = session.exec(
        select(BatchAllocation.batch_id)
        .join(OrderLine, col(OrderLine.id) == BatchAllocation.order_line_id)
        .where(OrderLine.order_id == placed.order_id)
    ).all()
    assert used == [campus.batch_b]
    with pytest.raises(errors.SoldOut):
        place(session, campus, config, key="more", items=((campus.rice, 1),))


@pytest.mark.parametrize(
    ("kw", "error", "field"),
    [
        ({"items": ((999, 1),)}, errors.UnknownItem, "items[0].menu_item_id"),
        ({"merchant": 999}, errors.UnknownMerchant, "merchant_id"),
        ({"items": ((1, 0),)}, errors.InvalidOrder, "items[0].quantity"),
        ({"items": ((1, 21),)}, errors.InvalidOrder, "items[0].quantity"),
        ({"expected_total_fen": 1}, errors.PriceMismatch, "expected_total_fen"),
        ({"key": ""}, errors.InvalidOrder, "Idempotency-Key"),
    ],
)
def test_bad_input_is_refused_naming_the_field(session, campus, config, kw, error, field):
    if "items" in kw and kw["items"][0][0] == 1:
        kw = {"items": ((campus.rice, kw["items"][0][1]),)}
    with pytest.raises(error) as caught:
        place(session, campus, config, **kw)
    assert caught.value.field == field


def test_an_unavailable_dish_cannot_be_ordered(session, campus, config):
    from orders import menu

    menu.set_available(
        session=session, actor=campus.actor("merchant"), item_id=campus.salad, available=False
    )
    with pytest.raises(errors.ItemUnavailable):
        place(session, campus, config, items=((campus.salad, 1),))


def test_a_merchant_with_an_expired_licence_takes_no_orders(session, campus, config):
    merchant = session.get(Merchant, campus.merchant)
    merchant.licence_expires_on = (campus.now - timedelta(days=2)).date()
    session.add(merchant)
    session.commit()
    with pytest.raises(errors.ItemUnavailable) as caught:
        place(session, campus, config)
    assert caught.value.field == "merchant_id"
