"""EPCIS capture: events stored with their sensor data; receiving and transformation events become
lots and batches; declarations hold what they declare wrong; errors named by position."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

import ledger
from tests.trace.campus import NOW, SHARED_EPCIS, merchant_viewer
from trace import imports, service
from trace.epcis_mapping import identify, unit_of
from trace.models import PROJECTIONS, DishBatch, EpcisEvent, IngredientLot

GREENS_GLN = "urn:epc:id:sgln:4012345.00001.0"  # the green supplier's identifier in campus.py
LETTUCE = "urn:epc:class:lgtin:4012345.012345.LOT7"


def capture(session, campus, document, *, partial=False, merchant=None):
    viewer = merchant_viewer(merchant or campus.north)
    data = json.dumps(document).encode()
    submitted = imports.submit_upload(
        session=session,
        viewer=viewer,
        data=data,
        filename="doc.jsonld",
        kind="epcis",
        partial=partial,
    )
    return imports.process_upload(session=session, upload_id=submitted.upload.id, now=NOW)


def document(*events):
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": NOW.isoformat(),
        "epcisBody": {"eventList": list(events)},
    }


def receiving(event_id="urn:uuid:00000000-0000-4000-8000-000000000001", epc_class=LETTUCE, **extra):
    event = {
        "type": "ObjectEvent",
        "eventID": event_id,
        "eventTime": (NOW - timedelta(hours=6)).isoformat(),
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "receiving",
        "bizLocation": {"id": "urn:epc:id:sgln:0614141.00888.0"},
        "quantityList": [{"epcClass": epc_class, "quantity": 12.5, "uom": "KGM"}],
        "sourceList": [{"type": "possessing_party", "source": GREENS_GLN}],
        "bizTransactionList": [
            {"type": "inv", "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:INV-1"}
        ],
        "ilmd": {"cbvmda:bestBeforeDate": "2025-03-09"},
    }
    return event | extra


def transformation(event_id, inputs, output, hours=2):
    return {
        "type": "TransformationEvent",
        "eventID": event_id,
        "eventTime": (NOW - timedelta(hours=hours)).isoformat(),
        "eventTimeZoneOffset": "+08:00",
        "inputQuantityList": [{"epcClass": c, "quantity": 1, "uom": "KGM"} for c in inputs],
        "outputQuantityList": [{"epcClass": output, "quantity": 20}],
        "bizLocation": {"id": "urn:epc:id:sgln:0614141.00999.0"},
    }


def test_a_receiving_event_becomes_a_lot_from_its_supplier(session, campus):
    upload = capture(session, campus, document(receiving()))
    assert upload.outcome == "accepted", upload.errors
    [lot] = session.execute(select(IngredientLot)).scalars()
    assert (lot.tlc, lot.quantity, lot.unit, lot.supplier_id) == (
        LETTUCE,
        12.5,
        "kg",
        campus.greens,
    )
    assert (lot.location, lot.reference_document_type) == ("urn:epc:id:sgln:0614141.00888.0", "inv")
    assert lot.expiry_date.isoformat() == "2025-03-09"
    [captured] = upload.result["captured"]
    row = session.execute(select(EpcisEvent)).scalar_one()
    assert captured["ledger_index"] == row.ledger_index and captured["lot_ids"] == [lot.id]
    assert row.document["eventID"] == captured["event_id"]
    assert ledger.verify(session, projections=PROJECTIONS).ok


def test_a_transformation_uses_lots_received_earlier_in_the_same_document(session, campus):
    dish = "urn:epc:class:lgtin:4012345.099999.D1"
    upload = capture(
        session, campus, document(receiving(), transformation("urn:uuid:t-1", [LETTUCE], dish))
    )
    assert upload.outcome == "accepted", upload.errors
    batch = session.execute(select(DishBatch)).scalar_one()
    [used] = service.batch_inputs(session=session, batch_id=batch.id)
    lot = session.execute(select(IngredientLot)).scalar_one()
    assert (batch.batch_code, batch.quantity, batch.unit, used.lot_id) == (
        dish,
        20.0,
        "each",
        lot.id,
    )


def test_one_bad_event_rejects_the_document_unless_partial(session, campus):
    bad = receiving("urn:uuid:b", epc_class="urn:epc:class:lgtin:4012345.012345.LOT8")
    bad["sourceList"] = [{"type": "possessing_party", "source": "urn:epc:id:sgln:9999999.00001.0"}]
    doc = document(receiving(), bad)
    rejected = capture(session, campus, doc)
    assert rejected.outcome == "rejected"
    assert rejected.errors == [
        {
            "position": 1,
            "field": "sourceList",
            "code": "UnknownReference",
            "reason": "no registered supplier is urn:epc:id:sgln:9999999.00001.0",
        },
    ]
    assert session.execute(select(EpcisEvent)).first() is None
    partial = capture(session, campus, doc, partial=True)
    assert partial.outcome == "partial" and partial.created_count == 1
    assert [c["position"] for c in partial.result["captured"]] == [0]


def test_invalid_events_are_reported_by_position_and_field(session, campus):
    future = receiving("urn:uuid:f", eventTime=(NOW + timedelta(days=1)).isoformat())
    no_time = {k: v for k, v in receiving("urn:uuid:n").items() if k != "eventTime"}
    upload = capture(session, campus, document(receiving(), future, no_time))
    assert {(e["position"], e["field"]) for e in upload.errors} == {
        (1, "eventTime"),
        (2, "eventTime"),
    }
    assert upload.outcome == "rejected"


def test_sensor_reports_are_kept_with_their_event(session, campus):
    upload = capture(
        session, campus, json.loads((SHARED_EPCIS / "SensorDataExample1.jsonld").read_text())
    )
    assert upload.outcome == "accepted"
    row = session.execute(select(EpcisEvent)).scalar_one()
    temperatures = [r["value"] for r in row.sensor_reports if r["type"] == "Temperature"]
    assert temperatures == [26.0, 26.1, 26.2]
    assert {r["uom"] for r in row.sensor_reports if r["type"] == "Temperature"} == {"CEL"}


def test_an_event_already_captured_is_not_captured_again(session, campus):
    first = capture(session, campus, document(receiving()))
    again = capture(
        session,
        campus,
        document(receiving(), receiving("urn:uuid:second", epc_class=LETTUCE + "X")),
    )
    assert again.outcome == "accepted"
    positions = {c["position"]: c for c in again.result["captured"]}
    assert (
        positions[0]["already_captured"]
        and positions[0]["ledger_index"] == first.result["captured"][0]["ledger_index"]
    )
    assert len(session.execute(select(IngredientLot)).all()) == 2


def test_an_error_declaration_holds_the_lot_made_from_the_declared_event(session, campus):
    capture(session, campus, document(receiving()))
    declared = receiving()
    declared["errorDeclaration"] = {
        "declarationTime": (NOW - timedelta(hours=1)).isoformat(),
        "reason": "incorrect_data",
        "correctiveEventIDs": ["urn:uuid:fixed"],
    }
    upload = capture(session, campus, document(declared))
    assert upload.outcome == "accepted", upload.errors
    lot = session.execute(select(IngredientLot)).scalar_one()
    assert lot.status == "on_hold"
    rows = session.execute(select(EpcisEvent.declaration)).scalars().all()
    assert sorted(rows) == [False, True]
    assert ledger.verify(session, projections=PROJECTIONS).ok


def test_a_document_that_is_not_epcis_is_refused_whole(session, campus):
    assert capture(session, campus, {"type": "Invoice"}).errors[0]["position"] is None
    viewer = merchant_viewer(campus.north)
    submitted = imports.submit_upload(
        session=session, viewer=viewer, data=b"{nope", filename="x", kind="epcis"
    )
    upload = imports.process_upload(session=session, upload_id=submitted.upload.id, now=NOW)
    assert upload.outcome == "rejected" and upload.errors[0]["code"] == "not_json"


@pytest.mark.parametrize(
    ("identifier", "product", "lot", "pattern"),
    [
        ("urn:epc:class:lgtin:4012345.012345.998877", "gtin:4012345.012345", True, False),
        ("urn:epc:id:sgtin:0614141.107346.2017", "gtin:0614141.107346", False, False),
        ("urn:epc:idpat:sgtin:4012345.098765.*", "gtin:4012345.098765", False, True),
        ("https://id.gs1.org/01/09521568251204/10/LOT1", "gtin:09521568251204", True, False),
        ("urn:example:thing", None, False, False),
    ],
)
def test_identifiers_are_classified(identifier, product, lot, pattern):
    found = identify(identifier)
    assert (found.product_code, found.is_lot, found.is_pattern) == (product, lot, pattern)


def test_units_come_from_un_ece_rec_20_codes():
    assert (unit_of("KGM"), unit_of("LTR"), unit_of(None), unit_of("XYZ")) == (
        "kg",
        "L",
        "each",
        None,
    )
