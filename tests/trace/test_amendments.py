"""Holds, releases, recalls, disposals, corrections: new events, history kept, ledger verified."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

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
from trace import amendments, service
from trace.commands import InputUse
from trace.errors import (
    CycleRefused,
    ForeignRecord,
    InvalidRecord,
    InvalidStatusChange,
    NotFound,
    UnknownReference,
)
from trace.models import PROJECTIONS, Correction, StatusEvent


@pytest.fixture
def records(session, campus):
    merchant = merchant_viewer(campus.north)
    lot = service.receive_lot(
        session=session, viewer=merchant, receipt=receipt(campus, "L1"), now=NOW
    )
    sauce = service.produce_batch(
        session=session,
        viewer=merchant,
        production=production(
            campus, "S1", [lot_input(lot.id)], completed_at=NOW - timedelta(hours=2)
        ),
        now=NOW,
    )
    dish = service.produce_batch(
        session=session,
        viewer=merchant,
        production=production(
            campus, "D1", [batch_input(sauce.id)], completed_at=NOW - timedelta(hours=2)
        ),
        now=NOW,
    )
    return {"lot": lot, "sauce": sauce, "dish": dish, "merchant": merchant}


def status(session, viewer, kind, ident, action, reason="inspection"):
    return amendments.change_status(
        session=session, viewer=viewer, kind=kind, ident=ident, action=action, reason=reason
    )


def test_status_follows_hold_release_recall_dispose(session, records):
    lot = records["lot"]
    expected = [
        ("hold", "on_hold"),
        ("release", "active"),
        ("recall", "recalled"),
        ("dispose", "disposed"),
    ]
    for action, state in expected:
        event = status(session, DESK, "lot", lot.id, action)
        assert event.status == state
        session.refresh(lot)
        assert lot.status == state and lot.ledger_index == event.ledger_index
    history = session.execute(select(StatusEvent.action).order_by(StatusEvent.id)).scalars().all()
    assert history == [a for a, _ in expected]
    assert ledger.verify(session, projections=PROJECTIONS).ok


@pytest.mark.parametrize(
    ("first", "then"),
    [("release", None), ("hold", "hold"), ("dispose", "recall"), ("dispose", "hold")],
)
def test_a_status_change_that_does_not_apply_is_refused(session, records, first, then):
    lot = records["lot"]
    if then is None:
        with pytest.raises(InvalidStatusChange):
            status(session, DESK, "lot", lot.id, first)
        return
    status(session, DESK, "lot", lot.id, first)
    with pytest.raises(InvalidStatusChange):
        status(session, DESK, "lot", lot.id, then)


def test_a_status_change_needs_a_reason_a_known_record_and_its_owner(session, records, campus):
    with pytest.raises(InvalidRecord):
        status(session, DESK, "lot", records["lot"].id, "hold", reason=" ")
    with pytest.raises(NotFound):
        status(session, DESK, "batch", 999, "hold")
    with pytest.raises(InvalidRecord):
        status(session, DESK, "order", records["lot"].id, "hold")
    with pytest.raises(ForeignRecord):
        status(session, merchant_viewer(campus.south), "lot", records["lot"].id, "hold")


def test_a_lot_correction_keeps_the_previous_values_and_names_the_entry_it_corrects(
    session, records
):
    lot = records["lot"]
    before = lot.ledger_index
    fix = amendments.correct_lot(
        session=session,
        viewer=records["merchant"],
        lot_id=lot.id,
        changes={"quantity": 18.0, "unit": "公斤", "location": "Cold room B"},
        reason="re-weighed",
        now=NOW,
    )
    assert (fix.corrects_index, fix.changed) == (before, ["location", "quantity", "unit"])
    assert fix.previous == {"location": "North cold room", "quantity": 20, "unit": "kg"}
    session.refresh(lot)
    assert (lot.quantity, lot.unit, lot.location) == (18.0, "kg", "Cold room B")
    envelope = ledger.entry_at(session, fix.ledger_index).envelope()
    assert envelope["type"] == "trace.lot_corrected" and envelope["payload"]["corrects"] == before
    assert ledger.verify(session, projections=PROJECTIONS).ok


def test_a_correction_is_checked_like_the_original(session, records):
    lot = records["lot"]
    cases = [
        ({"quantity": -1.0}, InvalidRecord),
        ({"supplier_id": 999}, UnknownReference),
        ({"received_at": NOW + timedelta(days=1)}, InvalidRecord),
        ({"colour": "red"}, InvalidRecord),
        ({"quantity": 20.0}, InvalidRecord),  # changes nothing
    ]
    for changes, error in cases:
        with pytest.raises(error):
            amendments.correct_lot(
                session=session,
                viewer=records["merchant"],
                lot_id=lot.id,
                changes=changes,
                reason="x",
                now=NOW,
            )
    assert session.execute(select(Correction)).first() is None


def test_replacing_a_batchs_inputs_keeps_the_old_ones_and_verifies(session, records, campus):
    other = service.receive_lot(
        session=session, viewer=records["merchant"], receipt=receipt(campus, "L2"), now=NOW
    )
    fix = amendments.correct_batch(
        session=session,
        viewer=records["merchant"],
        batch_id=records["sauce"].id,
        changes={"inputs": [InputUse(quantity=3, unit="kg", kind="lot", id=other.id)]},
        reason="wrong lot written down",
        now=NOW,
    )
    assert fix.previous == {"inputs": [["lot", records["lot"].id, 2.0, "kg"]]}
    [used] = service.batch_inputs(session=session, batch_id=records["sauce"].id)
    assert (used.lot_id, used.quantity) == (other.id, 3.0)
    assert ledger.verify(session, projections=PROJECTIONS).ok


def test_inputs_that_would_close_a_cycle_are_refused(session, records):
    with pytest.raises(CycleRefused):
        amendments.correct_batch(
            session=session,
            viewer=records["merchant"],
            batch_id=records["sauce"].id,
            changes={
                "inputs": [InputUse(quantity=1, unit="kg", kind="batch", id=records["dish"].id)]
            },
            reason="x",
            now=NOW,
        )


def test_only_the_owner_or_an_admin_corrects(session, records, campus):
    with pytest.raises(ForeignRecord):
        amendments.correct_lot(
            session=session,
            viewer=DESK,
            lot_id=records["lot"].id,
            changes={"location": "x"},
            reason="x",
            now=NOW,
        )
    fix = amendments.correct_lot(
        session=session,
        viewer=ADMIN,
        lot_id=records["lot"].id,
        changes={"location": "x"},
        reason="x",
        now=NOW,
    )
    assert fix.actor == "user:1"


def test_an_edited_row_fails_verification_naming_its_table(session, records):
    from sqlalchemy import text

    amendments.correct_lot(
        session=session,
        viewer=records["merchant"],
        lot_id=records["lot"].id,
        changes={"location": "B"},
        reason="x",
        now=NOW,
    )
    for sql, table in (
        ("UPDATE ingredient_lots SET location = 'C'", "ingredient_lots"),
        ("UPDATE ingredient_lots SET tlc = 'L9'", "ingredient_lots"),
        ("UPDATE transformation_inputs SET quantity = 9", "dish_batches"),
        ("UPDATE trace_corrections SET previous = '{}'", "ingredient_lots"),
        ("UPDATE trace_status_events SET reason = 'x'", None),
    ):
        savepoint = session.connection().begin_nested()
        changed = session.execute(text(sql)).rowcount
        report = ledger.verify(session, projections=PROJECTIONS)
        savepoint.rollback()
        if table is None or not changed:
            continue
        assert not report.ok and report.problem.table in (table, "trace_corrections"), (
            sql,
            report.problem,
        )
