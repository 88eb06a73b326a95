"""Receiving lots, producing batches, transfers and allocations, and every way they are refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

import ledger
from tests.trace.campus import (
    ADMIN,
    DESK,
    NOW,
    batch_input,
    lot_input,
    merchant_viewer,
    production,
    receipt,
)
from trace import amendments, recording, service
from trace.commands import InputUse
from trace.errors import (
    CycleRefused,
    DuplicateCode,
    ForeignRecord,
    FutureTime,
    InvalidRecord,
    InvalidStatusChange,
    LicenceExpired,
    MerchantMismatch,
    NotFound,
    UnknownReference,
)
from trace.models import PROJECTIONS, BatchAllocation, Merchant


def receive(session, campus, code, merchant=None, **overrides):
    viewer = merchant_viewer(merchant or campus.north)
    return service.receive_lot(
        session=session, viewer=viewer, receipt=receipt(campus, code, **overrides), now=NOW
    )


def produce(session, campus, code, inputs, merchant=None, **overrides):
    viewer = merchant_viewer(merchant or campus.north)
    made = production(campus, code, inputs, **overrides)
    return service.produce_batch(session=session, viewer=viewer, production=made, now=NOW)


def test_a_received_lot_keeps_its_kdes_and_its_record_is_anchored_in_the_ledger(session, campus):
    lot = receive(session, campus, "LET-1", unit="千克", storage="冷藏")
    assert (lot.tlc, lot.unit, lot.storage, lot.status) == ("LET-1", "kg", "chilled", "active")
    assert lot.supplier_id == campus.greens and lot.merchant_id == campus.north
    entry = ledger.entry_at(session, lot.ledger_index).envelope()
    assert entry["type"] == "trace.lots_received"
    assert entry["subject"] == {"first": lot.id, "merchant": campus.north, "upload": None}
    assert entry["payload"]["batch"]["size"] == 1
    assert lot.record_index == lot.ledger_index
    assert ledger.verify(session, projections=PROJECTIONS).ok


def test_a_batch_records_its_lot_and_sub_batch_inputs(session, campus):
    lot = receive(session, campus, "LET-1")
    sauce = produce(
        session,
        campus,
        "SAUCE-1",
        [lot_input(lot.id, 1.0)],
        product_id=campus.sauce,
        completed_at=NOW - timedelta(hours=3),
    )
    dish = produce(session, campus, "DISH-1", [lot_input(lot.id), batch_input(sauce.id, 0.5)])
    inputs = service.batch_inputs(session=session, batch_id=dish.id)
    assert {(i.lot_id, i.input_batch_id, i.quantity) for i in inputs} == {
        (lot.id, None, 2.0),
        (None, sauce.id, 0.5),
    }
    assert ledger.verify(session, projections=PROJECTIONS).ok


def test_inputs_named_by_code_resolve_to_the_merchants_lot_or_batch(session, campus):
    lot = receive(session, campus, "LET-1")
    by_code = InputUse(quantity=1, unit="kg", code="LET-1")
    dish = produce(session, campus, "DISH-1", [by_code])
    [used] = service.batch_inputs(session=session, batch_id=dish.id)
    assert used.lot_id == lot.id


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"product_id": 999}, UnknownReference, "product"),
        ({"supplier_id": 999}, UnknownReference, "supplier"),
        ({"unit": "furlong"}, InvalidRecord, "unit"),
        ({"quantity": 0.0}, InvalidRecord, "quantity"),
        ({"quantity": float("nan")}, InvalidRecord, "quantity"),
        ({"storage": "lukewarm"}, InvalidRecord, "storage"),
        ({"tlc": "  "}, InvalidRecord, "tlc"),
        ({"tlc": "x" * 201}, InvalidRecord, "tlc"),
        ({"received_at": NOW + timedelta(hours=1)}, FutureTime, "received_at"),
        ({"expiry_date": date(2025, 2, 1)}, InvalidRecord, "expiry_date"),
    ],
)
def test_a_bad_receipt_is_refused_naming_the_field(session, campus, overrides, error, field):
    with pytest.raises(error) as caught:
        receive(session, campus, "LET-1", **overrides)
    assert caught.value.field == field
    assert service.list_lots(session=session, viewer=ADMIN) == []


def test_a_lot_code_is_recorded_once_per_merchant_and_never_reuses_a_batch_code(session, campus):
    lot = receive(session, campus, "LET-1")
    with pytest.raises(DuplicateCode):
        receive(session, campus, "LET-1", quantity=99.0)  # the same code, other facts
    receive(session, campus, "LET-1", merchant=campus.south)  # another merchant's own code
    produce(session, campus, "DISH-1", [lot_input(lot.id)])
    with pytest.raises(DuplicateCode):
        receive(session, campus, "DISH-1")


def test_an_expired_merchant_licence_refuses_new_records(session, campus):
    session.execute(
        update(Merchant)
        .where(Merchant.id == campus.north)
        .values(licence_expires_on=date(2025, 2, 1))
    )
    session.commit()
    with pytest.raises(LicenceExpired):
        receive(session, campus, "LET-1")


def test_a_supplier_whose_certificates_all_expired_cannot_supply(session, campus):
    with pytest.raises(LicenceExpired) as caught:
        receive(session, campus, "CHK-1", supplier_id=campus.poultry, product_id=campus.chicken)
    assert "2025-01-31" in str(caught.value)
    old = receive(
        session,
        campus,
        "CHK-0",
        supplier_id=campus.poultry,
        received_at=NOW.replace(month=1, day=20),
    )
    assert old.supplier_id == campus.poultry  # it was valid then


def test_only_a_merchants_own_users_and_admins_write_its_records(session, campus):
    with pytest.raises(ForeignRecord):
        service.receive_lot(
            session=session,
            viewer=merchant_viewer(campus.south),
            receipt=receipt(campus, "X"),
            merchant_id=campus.north,
            now=NOW,
        )
    with pytest.raises(ForeignRecord):
        service.receive_lot(
            session=session,
            viewer=DESK,
            receipt=receipt(campus, "X"),
            merchant_id=campus.north,
            now=NOW,
        )
    with pytest.raises(InvalidRecord):
        service.receive_lot(session=session, viewer=ADMIN, receipt=receipt(campus, "X"), now=NOW)
    lot = service.receive_lot(
        session=session,
        viewer=ADMIN,
        receipt=receipt(campus, "X"),
        merchant_id=campus.south,
        now=NOW,
    )
    assert lot.merchant_id == campus.south


def test_another_merchants_lot_is_usable_only_after_it_was_transferred(session, campus):
    lot = receive(session, campus, "LET-1")
    with pytest.raises(MerchantMismatch):
        produce(session, campus, "S-1", [lot_input(lot.id)], merchant=campus.south)
    with pytest.raises(ForeignRecord):
        service.get_lot(session=session, viewer=merchant_viewer(campus.south), lot_id=lot.id)
    service.transfer_lot(
        session=session,
        viewer=merchant_viewer(campus.north),
        lot_id=lot.id,
        to_merchant_id=campus.south,
        quantity=5,
        unit="kg",
        shipped_at=NOW - timedelta(hours=5),
        now=NOW,
    )
    batch = produce(session, campus, "S-1", [lot_input(lot.id)], merchant=campus.south)
    assert batch.merchant_id == campus.south
    seen = service.get_lot(session=session, viewer=merchant_viewer(campus.south), lot_id=lot.id)
    assert seen.id == lot.id
    assert ledger.verify(session, projections=PROJECTIONS).ok


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"to_merchant_id": 1}, InvalidRecord),  # itself
        ({"unit": "parsec"}, InvalidRecord),
        ({"quantity": -1.0}, InvalidRecord),
        ({"shipped_at": NOW - timedelta(days=3)}, InvalidRecord),  # before it was received
        ({"shipped_at": NOW + timedelta(days=1)}, FutureTime),
        ({"to_merchant_id": 999}, NotFound),
    ],
)
def test_a_bad_transfer_is_refused(session, campus, kwargs, error):
    lot = receive(session, campus, "LET-1")
    values = {
        "to_merchant_id": campus.south,
        "quantity": 5.0,
        "unit": "kg",
        "shipped_at": NOW - timedelta(hours=2),
    } | kwargs
    with pytest.raises(error):
        service.transfer_lot(
            session=session, viewer=merchant_viewer(campus.north), lot_id=lot.id, now=NOW, **values
        )


def test_a_bad_production_is_refused_naming_the_problem(session, campus):
    lot = receive(session, campus, "LET-1")
    cases = [
        ([], InvalidRecord, "inputs"),
        ([InputUse(quantity=1, unit="kg", code="NOPE")], UnknownReference, "input_code"),
        ([InputUse(quantity=1, unit="kg", code="DISH-1")], CycleRefused, "input_code"),
        ([lot_input(lot.id), lot_input(lot.id)], InvalidRecord, "input_code"),
        ([lot_input(999)], UnknownReference, "inputs"),
        ([lot_input(lot.id, 0.0)], InvalidRecord, "input_quantity"),
        ([lot_input(lot.id, 1.0, "bushel")], InvalidRecord, "input_unit"),
    ]
    for inputs, error, field in cases:
        with pytest.raises(error) as caught:
            produce(session, campus, "DISH-1", inputs)
        assert caught.value.field == field, (inputs, caught.value)
    with pytest.raises(InvalidRecord, match="after the batch was completed"):
        produce(
            session, campus, "DISH-1", [lot_input(lot.id)], completed_at=NOW - timedelta(days=2)
        )
    late = receive(session, campus, "LET-OLD", expiry_date=date(2025, 3, 1))
    with pytest.raises(InvalidRecord, match="expired on 2025-03-01"):
        produce(session, campus, "DISH-1", [lot_input(late.id)])
    with pytest.raises(FutureTime):
        produce(
            session, campus, "DISH-1", [lot_input(lot.id)], completed_at=NOW + timedelta(hours=1)
        )
    assert service.list_batches(session=session, viewer=ADMIN) == []


def test_held_recalled_or_disposed_inputs_cannot_be_used(session, campus):
    lot = receive(session, campus, "LET-1")
    amendments.change_status(
        session=session, viewer=DESK, kind="lot", ident=lot.id, action="hold", reason="complaint 12"
    )
    with pytest.raises(InvalidStatusChange, match="on hold"):
        produce(session, campus, "DISH-1", [lot_input(lot.id)])


def test_allocations_link_order_lines_to_active_batches_only(session, campus):
    lot = receive(session, campus, "LET-1")
    dish = produce(session, campus, "DISH-1", [lot_input(lot.id)])
    ids = service.record_allocations(
        session=session,
        allocations=[(10, dish.id, 1.0, None), (11, dish.id, 2.0, NOW)],
        actor="user:9",
    )
    rows = session.execute(select(BatchAllocation).where(BatchAllocation.id.in_(ids))).scalars()
    assert sorted((r.order_line_id, r.quantity) for r in rows) == [(10, 1.0), (11, 2.0)]
    with pytest.raises(NotFound):
        service.record_allocation(
            session=session, order_line_id=12, batch_id=999, quantity=1, actor="x"
        )
    with pytest.raises(InvalidRecord):
        service.record_allocation(
            session=session, order_line_id=12, batch_id=dish.id, quantity=0, actor="x"
        )
    amendments.change_status(
        session=session,
        viewer=DESK,
        kind="batch",
        ident=dish.id,
        action="recall",
        reason="lab result",
    )
    with pytest.raises(InvalidStatusChange):
        service.record_allocation(
            session=session, order_line_id=12, batch_id=dish.id, quantity=1, actor="x"
        )
    assert ledger.verify(session, projections=PROJECTIONS).ok


def test_an_allocation_can_join_the_callers_transaction(session, campus):
    lot = receive(session, campus, "LET-1")
    dish = produce(session, campus, "DISH-1", [lot_input(lot.id)])
    service.record_allocation(
        session=session, order_line_id=5, batch_id=dish.id, quantity=1, actor="user:1", commit=False
    )
    session.rollback()
    assert session.execute(select(BatchAllocation)).first() is None


def test_many_receipts_share_one_anchoring_entry_per_chunk(session, campus):
    from trace.checks import check_receipts

    merchant = session.get(Merchant, campus.north)
    receipts = [receipt(campus, f"T{i}") for i in range(1203)]
    cleaned, problems = check_receipts(session, merchant, receipts, now=NOW, tz="Asia/Shanghai")
    assert problems == []
    ids = recording.insert_lots(session, campus.north, cleaned, actor="user:1")
    session.commit()
    lots = [
        service.get_lot(session=session, viewer=ADMIN, lot_id=i)
        for i in (ids[0], ids[999], ids[1000])
    ]
    assert lots[0].record_index == lots[1].record_index != lots[2].record_index
    sizes = [
        ledger.entry_at(session, lot.record_index).envelope()["payload"]["batch"]["size"]
        for lot in (lots[0], lots[2])
    ]
    assert sizes == [1000, 203]
    assert ledger.verify(session, projections=PROJECTIONS).ok


def _ledger_size(session):
    return ledger.tree_size(session)


def test_a_retried_receipt_with_the_same_facts_gives_the_recorded_lot_and_writes_nothing(
    session, campus
):
    viewer = merchant_viewer(campus.north)
    first, replayed = service.record_lot(
        session=session, viewer=viewer, receipt=receipt(campus, "LET-1", unit="千克"), now=NOW
    )
    assert replayed is False
    size = _ledger_size(session)
    again, replayed = service.record_lot(
        session=session, viewer=viewer, receipt=receipt(campus, "LET-1", unit="kg"), now=NOW
    )
    assert replayed is True and again.id == first.id  # "千克" and "kg" normalise alike
    assert _ledger_size(session) == size
    assert len(service.list_lots(session=session, viewer=ADMIN)) == 1
    with pytest.raises(DuplicateCode):
        service.record_lot(
            session=session,
            viewer=viewer,
            receipt=receipt(campus, "LET-1", storage="frozen"),
            now=NOW,
        )
    assert _ledger_size(session) == size


def test_a_retried_production_replays_only_with_the_same_inputs(session, campus):
    viewer = merchant_viewer(campus.north)
    lot = receive(session, campus, "LET-1")
    other = receive(session, campus, "LET-2")
    made = production(campus, "DISH-1", [lot_input(lot.id)])
    first, replayed = service.record_batch(session=session, viewer=viewer, production=made, now=NOW)
    assert replayed is False
    size = _ledger_size(session)
    again, replayed = service.record_batch(session=session, viewer=viewer, production=made, now=NOW)
    assert (replayed, again.id) == (True, first.id)
    assert _ledger_size(session) == size
    swapped = production(campus, "DISH-1", [lot_input(other.id)])
    with pytest.raises(DuplicateCode):
        service.record_batch(session=session, viewer=viewer, production=swapped, now=NOW)
    assert _ledger_size(session) == size
