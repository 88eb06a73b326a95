"""Completeness scores and expiry warnings (pure), and the service's per-merchant counts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.trace.campus import ADMIN, NOW, lot_input, merchant_viewer, production, receipt
from trace import completeness, oversight, service
from trace.errors import ForeignRecord
from trace.rules import rules

RECEIVING = rules().receiving_kdes
TRANSFORMATION = rules().transformation_kdes
FULL_LOT = {
    "id": 1,
    "tlc": "L1",
    "quantity": 1.0,
    "unit": "kg",
    "product": "Lettuce",
    "supplier_id": 3,
    "location": "cold room",
    "received_at": "2025-03-01",
    "tlc_source": "farm",
    "tlc_source_reference": None,
    "reference_document_type": "Invoice",
    "reference_document_number": "7",
}
FULL_BATCH = {
    "id": 2,
    "batch_code": "B1",
    "inputs": 2,
    "location": "kitchen",
    "completed_at": "x",
    "quantity": 3.0,
    "unit": "portion",
    "product": "Salad",
    "reference_document_type": "log",
    "reference_document_number": "9",
}


def test_a_complete_lot_and_batch_lack_nothing():
    assert completeness.lot_missing(FULL_LOT, RECEIVING) == ()
    assert completeness.batch_missing(FULL_BATCH, TRANSFORMATION) == ()


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        ({"supplier_id": None}, ("supplier",)),
        ({"location": "  "}, ("location",)),
        ({"tlc_source": None}, ("tlc_source",)),
        ({"tlc_source": None, "tlc_source_reference": "https://x"}, ()),
        ({"reference_document_number": None}, ("reference_document",)),
    ],
)
def test_missing_lot_kdes_are_named(changes, missing):
    assert completeness.lot_missing(FULL_LOT | changes, RECEIVING) == missing


def test_the_score_is_the_share_of_required_kdes_present():
    lots = [FULL_LOT, FULL_LOT | {"id": 3, "supplier_id": None, "location": None}]
    batches = [FULL_BATCH | {"inputs": 0}]
    found = completeness.completeness(
        lots, batches, receiving=RECEIVING, transformation=TRANSFORMATION
    )
    required = 2 * len(RECEIVING) + len(TRANSFORMATION)
    assert (found.required, found.present) == (required, required - 3)
    assert found.score == pytest.approx((required - 3) / required)
    assert [(g.kind, g.id, g.missing) for g in found.gaps] == [
        ("lot", 3, ("supplier", "location")),
        ("batch", 2, ("inputs",)),
    ]
    assert (
        completeness.completeness([], [], receiving=RECEIVING, transformation=TRANSFORMATION).score
        == 1.0
    )


def test_documents_expiring_within_the_window_or_expired_are_listed_soonest_first():
    today = date(2025, 3, 2)
    docs = [
        {
            "holder_kind": "supplier",
            "holder_id": 1,
            "holder": "A",
            "document": "SC",
            "number": "1",
            "expires_on": today + timedelta(days=31),
        },
        {
            "holder_kind": "supplier",
            "holder_id": 2,
            "holder": "B",
            "document": "SC",
            "number": "2",
            "expires_on": today + timedelta(days=30),
        },
        {
            "holder_kind": "merchant",
            "holder_id": 1,
            "holder": "C",
            "document": "JY",
            "number": "3",
            "expires_on": today - timedelta(days=2),
        },
    ]
    found = completeness.expiring(docs, today=today, window=timedelta(days=30))
    assert [(e.holder, e.days_left, e.expired) for e in found] == [
        ("C", -2, True),
        ("B", 30, False),
    ]


def test_the_service_counts_missing_kdes_per_merchant(session, campus):
    viewer = merchant_viewer(campus.north)
    bare = receipt(campus, "L2", supplier_id=None, location=None, reference_document_type=None)
    for r in (receipt(campus, "L1"), bare):
        service.receive_lot(session=session, viewer=viewer, receipt=r, now=NOW)
    lot_id = service.list_lots(session=session, viewer=viewer)[0].id
    service.produce_batch(
        session=session,
        viewer=viewer,
        now=NOW,
        production=production(campus, "B1", [lot_input(lot_id)], location=None),
    )
    [north] = oversight.oversight(session=session, viewer=viewer, today=NOW.date())
    report = north.completeness
    required = 2 * len(RECEIVING) + len(TRANSFORMATION)
    assert (report.records, report.required, report.present) == (3, required, required - 4)
    assert report.missing_by_kde == {
        "lot:supplier": 1,
        "lot:location": 1,
        "lot:reference_document": 1,
        "batch:location": 1,
    }
    assert {(g.kind, g.code) for g in report.gaps} == {("lot", "L2"), ("batch", "B1")}
    overview = oversight.oversight(session=session, viewer=ADMIN, today=NOW.date())
    assert [o.merchant.id for o in overview] == [campus.north, campus.south]
    with pytest.raises(ForeignRecord):
        oversight.oversight(
            session=session, viewer=viewer, today=NOW.date(), merchant_id=campus.south
        )


def test_expired_certificates_of_a_merchants_suppliers_are_listed(session, campus):
    viewer = merchant_viewer(campus.north)
    old = receipt(
        campus, "C1", supplier_id=campus.poultry, received_at=NOW.replace(month=1, day=20)
    )
    service.receive_lot(session=session, viewer=viewer, receipt=old, now=NOW)
    [north] = oversight.oversight(session=session, viewer=viewer, today=NOW.date())
    assert [(e.holder_kind, e.expires_on, e.expired) for e in north.expiring] == [
        ("supplier", date(2025, 1, 31), True)
    ]
    everything = oversight.expiring_documents(session=session, today=NOW.date())
    assert [e.holder for e in everything] == ["嘉定禽业 Jiading Poultry"]
