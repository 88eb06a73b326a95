"""Recording many receipts or productions of one merchant at once (service.receive_lots and
service.produce_batches): every record checked, all or nothing, the same rows a one-by-one
recording writes."""

from __future__ import annotations

import pytest
from sqlmodel import select

import ledger
from tests.trace.campus import NOW, lot_input, merchant_viewer, production, receipt
from trace import service
from trace.errors import DuplicateCode, ForeignRecord, TraceError
from trace.models import PROJECTIONS, DishBatch, IngredientLot, TransformationInput


def test_many_receipts_become_lots_in_order_under_one_commit(session, campus):
    viewer = merchant_viewer(campus.north)
    ids = service.receive_lots(
        session=session, viewer=viewer, receipts=[receipt(campus, "A1"), receipt(campus, "A2")],
        now=NOW,
    )  # fmt: skip
    lots = [session.get(IngredientLot, i) for i in ids]
    assert [(lot.tlc, lot.merchant_id) for lot in lots] == [
        ("A1", campus.north),
        ("A2", campus.north),
    ]
    one = service.receive_lot(
        session=session, viewer=viewer, receipt=receipt(campus, "A3"), now=NOW
    )
    columns = ("product_id", "quantity", "unit", "supplier_id", "received_at", "storage")
    assert [getattr(lots[0], c) for c in columns] == [getattr(one, c) for c in columns]
    session.rollback()
    assert ledger.verify(session, projections=PROJECTIONS).ok


def test_one_bad_receipt_among_many_writes_nothing(session, campus):
    size = ledger.tree_size(session)
    session.rollback()
    bad = receipt(campus, "B2", quantity=-1)
    with pytest.raises(TraceError):
        service.receive_lots(
            session=session, viewer=merchant_viewer(campus.north),
            receipts=[receipt(campus, "B1"), bad], now=NOW,
        )  # fmt: skip
    session.rollback()
    assert session.exec(select(IngredientLot)).all() == []
    assert ledger.tree_size(session) == size


def test_many_receipts_refuse_a_code_already_recorded(session, campus):
    viewer = merchant_viewer(campus.north)
    service.receive_lots(session=session, viewer=viewer, receipts=[receipt(campus, "C1")], now=NOW)
    with pytest.raises(DuplicateCode):
        service.receive_lots(
            session=session, viewer=viewer, receipts=[receipt(campus, "C1")], now=NOW
        )
    session.rollback()
    assert len(session.exec(select(IngredientLot)).all()) == 1


def test_many_productions_become_batches_with_their_inputs(session, campus):
    viewer = merchant_viewer(campus.north)
    [lot] = service.receive_lots(
        session=session, viewer=viewer, receipts=[receipt(campus, "L1")], now=NOW
    )
    made = [
        production(campus, "S1", [lot_input(lot)]),
        production(campus, "S2", [lot_input(lot, 3.0)]),
    ]
    ids = service.produce_batches(session=session, viewer=viewer, productions=made, now=NOW)
    assert [session.get(DishBatch, i).batch_code for i in ids] == ["S1", "S2"]
    inputs = session.exec(select(TransformationInput).order_by(TransformationInput.id)).all()
    assert [(i.batch_id, i.lot_id, i.quantity) for i in inputs] == [
        (ids[0], lot, 2.0),
        (ids[1], lot, 3.0),
    ]
    session.rollback()
    assert ledger.verify(session, projections=PROJECTIONS).ok


def test_a_production_naming_an_unknown_lot_fails_the_whole_list(session, campus):
    viewer = merchant_viewer(campus.north)
    [lot] = service.receive_lots(
        session=session, viewer=viewer, receipts=[receipt(campus, "L1")], now=NOW
    )
    made = [
        production(campus, "S1", [lot_input(lot)]),
        production(campus, "S2", [lot_input(lot + 9)]),
    ]
    with pytest.raises(TraceError):
        service.produce_batches(session=session, viewer=viewer, productions=made, now=NOW)
    session.rollback()
    assert session.exec(select(DishBatch)).all() == []


def test_a_merchant_cannot_record_many_for_another_merchant(session, campus):
    with pytest.raises(ForeignRecord):
        service.receive_lots(
            session=session, viewer=merchant_viewer(campus.north),
            receipts=[receipt(campus, "X1")], merchant_id=campus.south, now=NOW,
        )  # fmt: skip
    session.rollback()
    assert session.exec(select(IngredientLot)).all() == []
