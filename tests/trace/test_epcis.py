"""EPCIS 2.0 parsing of the GS1 examples and of messy real-world events; export validation."""

from __future__ import annotations

import copy
import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.trace.epcis_schema import SCHEMA_PATH, SHARED, schema_errors
from trace.epcis import load_json, parse_document
from trace.epcis_export import export_document
from trace.epcis_model import (
    FUTURE_TOLERANCE,
    EpcisError,
    ErrorDeclaration,
    NormalisedEvent,
    QuantityElement,
    SensorElement,
    SensorReport,
)

EXAMPLES = sorted(p for p in SHARED.glob("*.json*") if p.name != SCHEMA_PATH.name)
NOW = datetime(2025, 3, 2, 4, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not SCHEMA_PATH.exists(), reason="shared/epcis not present")


def load(name: str) -> Any:
    return load_json((SHARED / name).read_bytes())


def event(**fields: Any) -> dict[str, Any]:
    """A minimal valid receiving ObjectEvent, with `fields` overriding or (None) removing keys."""
    base: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2025-03-01T07:30:00.000+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "receiving",
        "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.LOT1", "quantity": 20}],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


# ---------------------------------------------------------------- the shared GS1 examples


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_shared_example_parses_without_errors(path: Path) -> None:
    doc: Any = load_json(path.read_bytes())
    expected = len(doc["epcisBody"]["eventList"]) if "epcisBody" in doc else 1
    parsed = parse_document(doc, now=NOW)
    assert parsed.errors == []
    assert len(parsed.events) == expected


def test_object_event_example_fields_are_normalised() -> None:
    doc = load("Example_9.6.2-ObjectEvent.jsonld")
    (ev,) = parse_document(doc, now=NOW).events
    raw = doc["epcisBody"]["eventList"][0]
    assert ev.event_id == raw["eventID"]  # hash-style id stored as given
    assert not ev.event_id_assigned
    assert ev.event_time == datetime(2013, 6, 8, 14, 58, 56, 591000, tzinfo=UTC)
    assert ev.event_time_zone_offset == "+02:00"
    assert ev.biz_step == "receiving" and ev.tracking_event == "receiving"
    assert ev.quantities == (
        QuantityElement("urn:epc:class:lgtin:4012345.012345.998877", 200.0, "KGM"),
    )
    assert ev.sources == (
        ("possessing_party", "urn:epc:id:sgln:4012345.00001.0"),
        ("location", "urn:epc:id:sgln:4012345.00225.0"),
    )
    assert ev.read_point == "urn:epc:id:sgln:0614141.00777.0"
    assert ev.extensions == {"example:myField": "Example of a vendor/user extension"}


def test_aggregation_example_keeps_parent_and_children() -> None:
    doc = load("Example_9.6.3-AggregationEvent.jsonld")
    (ev,) = parse_document(doc, now=NOW).events
    raw = doc["epcisBody"]["eventList"][0]
    assert ev.parent_id == raw["parentID"]
    assert ev.epcs == tuple(raw["childEPCs"])
    assert [q.quantity for q in ev.quantities] == [10.0, 200.5]


def test_transformation_example_keeps_inputs_outputs_and_ilmd() -> None:
    raw = load("TransformationEvent.json")
    (ev,) = parse_document(raw, now=NOW).events
    assert ev.tracking_event == "transformation"
    assert ev.input_epcs == tuple(raw["inputEPCList"])
    assert [q.epc_class for q in ev.input_quantities] == [
        q["epcClass"] for q in raw["inputQuantityList"]
    ]
    assert ev.output_epcs == tuple(raw["outputEPCList"])
    assert ev.best_before_date == "2014-12-10"
    assert ev.ilmd_value("batch") == "XYZ"


def test_sensor_example_keeps_reports_with_metadata_time() -> None:
    doc = load("SensorDataExample1.jsonld")
    (ev,) = parse_document(doc, now=NOW).events
    elements = doc["epcisBody"]["eventList"][0]["sensorElementList"]
    assert len(ev.sensor_elements) == len(elements)
    temps = [r for el in ev.sensor_elements for r in el.reports if r.type == "Temperature"]
    assert [r.value for r in temps] == [26.0, 26.1, 26.2]
    assert {r.uom for r in temps} == {"CEL"}
    # 14:05 at +01:00 is 13:05 UTC; reports without their own time take the metadata's
    assert temps[0].time == datetime(2019, 4, 2, 13, 5, tzinfo=UTC)
    assert temps[0].device_id == "urn:epc:id:giai:4000001.111"
    speeds = [r for r in ev.sensor_elements[0].reports if r.type == "Speed"]
    assert speeds[0].value == 160.0 and speeds[0].uom == "KMH"


def test_event_without_id_gets_a_deterministic_uuid() -> None:
    doc = load("SensorDataExample16.jsonld")
    first = parse_document(doc, now=NOW).events[0]
    again = parse_document(copy.deepcopy(doc), now=NOW).events[0]
    assert first.event_id_assigned
    assert first.event_id == again.event_id
    assert first.event_id.startswith("urn:uuid:")
    assert uuid.UUID(first.event_id.removeprefix("urn:uuid:")).version == 8
    changed = copy.deepcopy(doc)
    changed["epcisBody"]["eventList"][0]["bizStep"] = "inspecting"
    assert parse_document(changed, now=NOW).events[0].event_id != first.event_id


# ---------------------------------------------------------------- real documents vary


def test_six_digit_fractions_and_negative_offsets_become_utc() -> None:
    parsed = parse_document(
        [
            event(eventTime="2024-05-01T10:00:00.123456-06:00", eventTimeZoneOffset="-06:00"),
            event(eventTime="2024-05-01T10:00:00.1234567Z", eventTimeZoneOffset=None),
            event(eventTime="2024-05-01T10:00:00", eventTimeZoneOffset="+05:30"),
            event(eventTime="2024-05-01T10:00+0100", eventTimeZoneOffset=None),
        ],
        now=NOW,
    )
    assert parsed.errors == []
    times = [e.event_time for e in parsed.events]
    assert times[0] == datetime(2024, 5, 1, 16, 0, 0, 123456, tzinfo=UTC)
    assert times[1] == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert times[2] == datetime(2024, 5, 1, 4, 30, tzinfo=UTC)
    assert times[3] == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    offsets = [e.event_time_zone_offset for e in parsed.events]
    assert offsets == ["-06:00", "+00:00", "+05:30", "+01:00"]


def test_cbv_urn_and_web_uri_forms_are_shortened() -> None:
    parsed = parse_document(
        [
            event(
                bizStep="urn:epcglobal:cbv:bizstep:shipping",
                disposition="https://ref.gs1.org/cbv/Disp-in_transit",
                sourceList=[{"type": "urn:epcglobal:cbv:sdt:owning_party", "source": "urn:x:1"}],
            ),
            event(bizStep="https://example.org/steps/cooking"),
        ],
        now=NOW,
    )
    first, custom = parsed.events
    assert (first.biz_step, first.disposition) == ("shipping", "in_transit")
    assert first.tracking_event == "shipping"
    assert first.sources == (("owning_party", "urn:x:1"),)
    assert custom.biz_step == "https://example.org/steps/cooking"


def test_fahrenheit_and_kelvin_temperatures_are_stored_in_celsius() -> None:
    reports = [
        {"type": "gs1:Temperature", "value": 41, "uom": "FAH"},
        {"type": "Temperature", "minValue": 32, "maxValue": 212, "meanValue": 50, "uom": "FAH"},
        {"type": "Temperature", "value": 278.15, "uom": "KEL", "exception": "ALARM_CONDITION"},
    ]
    parsed = parse_document(
        [event(sensorElementList=[{"sensorReport": reports}], readPoint={"id": "urn:x:box"})],
        now=NOW,
    )
    assert parsed.errors == []
    first, span, kelvin = parsed.events[0].sensor_elements[0].reports
    assert first.type == "Temperature"
    assert first.value == pytest.approx((41 - 32) * 5 / 9)
    assert (first.uom, first.source_uom) == ("CEL", "FAH")
    assert (span.min_value, span.max_value) == (pytest.approx(0.0), pytest.approx(100.0))
    assert span.mean_value == pytest.approx((50 - 32) * 5 / 9)
    assert kelvin.value == pytest.approx(5.0)
    assert kelvin.exception == "ALARM_CONDITION"


def test_error_declaration_keeps_corrective_event_ids() -> None:
    declaration = {
        "declarationTime": "2025-03-01T09:00:00Z",
        "reason": "urn:epcglobal:cbv:er:incorrect_data",
        "correctiveEventIDs": ["urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8"],
    }
    (ev,) = parse_document([event(errorDeclaration=declaration)], now=NOW).events
    assert ev.error_declaration == ErrorDeclaration(
        datetime(2025, 3, 1, 9, 0, tzinfo=UTC),
        "incorrect_data",
        ("urn:uuid:404d95fc-9457-4a51-bd6a-0bba133845a8",),
    )


def test_json_ld_contexts_strict_processors_reject_are_accepted() -> None:
    doc = {
        "@context": ["https://gs1.github.io/EPCIS/epcis-context.jsonld", {"ex": 5}, "not a url"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2025-03-01T00:00:00Z",
        "epcisBody": {"eventList": [event(**{"ex:note": "kept"})]},
    }
    parsed = parse_document(doc, now=NOW)
    assert parsed.errors == []
    assert parsed.events[0].extensions == {"ex:note": "kept"}
    assert parsed.creation_date == datetime(2025, 3, 1, tzinfo=UTC)


def test_malformed_events_are_rejected_with_position_field_and_reason() -> None:
    future = (NOW + FUTURE_TOLERANCE * 2).isoformat()
    events = [
        event(),  # 0: fine
        event(type=None),  # 1
        event(type="FooEvent"),  # 2
        event(eventTime=None),  # 3
        event(eventTime="yesterday"),  # 4
        event(eventTime=future),  # 5
        event(quantityList=[{"epcClass": "urn:x", "quantity": 0}]),  # 6
        event(
            quantityList=[
                {"epcClass": "urn:x", "quantity": 1},
                {"epcClass": "urn:y", "quantity": -2.5},
            ]
        ),  # 7
        event(eventTime="2025-03-01T07:30:00", eventTimeZoneOffset=None),  # 8
        event(eventTime="2025-02-30T07:30:00Z"),  # 9
        event(action=None),  # 10
        event(sensorElementList=[{"sensorReport": [{"type": "Temperature", "value": 4}]}]),  # 11
        "not an event",  # 12
        event(bizStep="shipping"),  # 13: fine
    ]
    parsed = parse_document(events, now=NOW)
    found = {(e.position, e.field) for e in parsed.errors}
    assert found == {
        (1, "type"),
        (2, "type"),
        (3, "eventTime"),
        (4, "eventTime"),
        (5, "eventTime"),
        (6, "quantityList[0].quantity"),
        (7, "quantityList[1].quantity"),
        (8, "eventTime"),
        (9, "eventTime"),
        (10, "action"),
        (11, "sensorElementList[0].sensorReport[0].uom"),
        (12, ""),
    }
    reasons = {(e.position, e.field): e.reason for e in parsed.errors}
    assert reasons[(2, "type")] == "unknown event type 'FooEvent'"
    assert "future" in reasons[(5, "eventTime")]
    assert "greater than 0" in reasons[(7, "quantityList[1].quantity")]
    assert "no UTC offset" in reasons[(8, "eventTime")]
    assert [e.biz_step for e in parsed.events] == ["receiving", "shipping"]


def test_repeated_event_ids_are_rejected_after_the_first() -> None:
    parsed = parse_document([event(eventID="urn:uuid:1"), event(eventID="urn:uuid:1")], now=NOW)
    assert len(parsed.events) == 1
    assert [(e.position, e.field) for e in parsed.errors] == [(1, "eventID")]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ("just text", ""),
        ({"type": "EPCISDocument", "epcisBody": {}}, "epcisBody.eventList"),
        ({"type": "EPCISMasterDataDocument"}, "type"),
        ({"epcisBody": {"eventList": []}}, "type"),
    ],
)
def test_documents_that_are_not_epcis_are_reported(doc: object, field: str) -> None:
    parsed = parse_document(doc, now=NOW)
    assert parsed.events == []
    assert [(e.position, e.field) for e in parsed.errors] == [(None, field)]


def test_query_documents_are_unwrapped() -> None:
    doc = {
        "type": "EPCISQueryDocument",
        "epcisBody": {"queryResults": {"resultsBody": {"eventList": [event()]}}},
    }
    assert len(parse_document(doc, now=NOW).events) == 1


def test_load_json_accepts_a_bom_and_rejects_non_json() -> None:
    assert load_json(b'\xef\xbb\xbf{"type": "ObjectEvent"}') == {"type": "ObjectEvent"}
    with pytest.raises(EpcisError):
        load_json(b"<epcis/>")


# ---------------------------------------------------------------- export


def rich_events() -> list[NormalisedEvent]:
    """One event of each type, with sensors, ilmd, an error declaration and transactions."""
    at = datetime(2025, 3, 1, 2, 30, 0, 250000, tzinfo=UTC)
    lot = "urn:epc:class:lgtin:4012345.012345.CHK1"
    return [
        NormalisedEvent(
            event_id="urn:uuid:6a5bd4ab-3f0e-4f53-8a67-3b1d3a4f7d01",
            type="ObjectEvent",
            event_time=at,
            event_time_zone_offset="+08:00",
            action="ADD",
            biz_step="commissioning",
            disposition="active",
            read_point="urn:epc:id:sgln:0614141.00777.0",
            quantities=(QuantityElement(lot, 20.0, "KGM"),),
            ilmd={"cbvmda:lotNumber": "CHK1", "cbvmda:bestBeforeDate": "2025-03-05"},
        ),
        NormalisedEvent(
            event_id="urn:uuid:6a5bd4ab-3f0e-4f53-8a67-3b1d3a4f7d02",
            type="ObjectEvent",
            event_time=at + timedelta(hours=1),
            event_time_zone_offset="+08:00",
            action="OBSERVE",
            biz_step="receiving",
            biz_location="urn:epc:id:sgln:0614141.00888.0",
            quantities=(QuantityElement(lot, 20.0, "KGM"),),
            sources=(("owning_party", "urn:epc:id:pgln:4012345.00000"),),
            destinations=(("location", "urn:epc:id:sgln:0614141.00888.0"),),
            biz_transactions=(("inv", "urn:epcglobal:cbv:bt:0614141000005:INV-1"),),
            sensor_elements=(
                SensorElement(
                    reports=(
                        SensorReport(type="Temperature", value=3.5, uom="CEL"),
                        SensorReport(
                            type="Temperature",
                            min_value=2.0,
                            max_value=9.0,
                            uom="CEL",
                            exception="ALARM_CONDITION",
                            time=at + timedelta(minutes=20),
                        ),
                    ),
                    device_id="urn:epc:id:giai:4000001.111",
                    time=at + timedelta(minutes=30),
                ),
            ),
        ),
        NormalisedEvent(
            event_id="urn:uuid:6a5bd4ab-3f0e-4f53-8a67-3b1d3a4f7d03",
            type="TransformationEvent",
            event_time=at + timedelta(hours=2),
            event_time_zone_offset="+08:00",
            biz_step="commissioning",
            input_quantities=(QuantityElement(lot, 6.0, "KGM"),),
            output_quantities=(QuantityElement("urn:epc:class:lgtin:4012345.099999.KP1", 40.0),),
            ilmd={"lotNumber": "KP1"},
        ),
        NormalisedEvent(
            event_id="urn:uuid:6a5bd4ab-3f0e-4f53-8a67-3b1d3a4f7d04",
            type="AggregationEvent",
            event_time=at + timedelta(hours=3),
            event_time_zone_offset="+08:00",
            action="ADD",
            biz_step="packing",
            parent_id="urn:epc:id:sscc:0614141.1234567890",
            epcs=("urn:epc:id:sgtin:0614141.107346.2017",),
        ),
        NormalisedEvent(
            event_id="urn:uuid:6a5bd4ab-3f0e-4f53-8a67-3b1d3a4f7d05",
            type="TransactionEvent",
            event_time=at + timedelta(hours=4),
            event_time_zone_offset="+08:00",
            action="ADD",
            epcs=("urn:epc:id:sgtin:0614141.107346.2017",),
            biz_transactions=(("po", "urn:epcglobal:cbv:bt:0614141000005:PO-7"),),
        ),
        NormalisedEvent(
            event_id="urn:uuid:6a5bd4ab-3f0e-4f53-8a67-3b1d3a4f7d06",
            type="ObjectEvent",
            event_time=at + timedelta(hours=5),
            event_time_zone_offset="+08:00",
            action="OBSERVE",
            epcs=("urn:epc:id:sgtin:0614141.107346.2017",),
            error_declaration=ErrorDeclaration(
                at + timedelta(hours=6),
                "incorrect_data",
                ("urn:uuid:6a5bd4ab-3f0e-4f53-8a67-3b1d3a4f7d02",),
            ),
        ),
    ]


def test_export_of_every_event_type_validates_against_the_epcis_schema() -> None:
    document = export_document(rich_events(), creation_date=NOW)
    assert schema_errors(document) == []
    assert document["schemaVersion"] == "2.0"
    assert len(document["epcisBody"]["eventList"]) == len(rich_events())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_export_of_each_shared_example_validates(path: Path) -> None:
    parsed = parse_document(load_json(path.read_bytes()), now=NOW)
    document = export_document(parsed.events, creation_date=NOW, namespaces=parsed.namespaces)
    assert schema_errors(document) == []


def test_schema_check_is_not_vacuous() -> None:
    document = export_document(rich_events(), creation_date=NOW)
    del document["epcisBody"]["eventList"][0]["eventTime"]
    document["epcisBody"]["eventList"][1]["quantityList"][0]["uom"] = "kilogram"
    assert len(schema_errors(document)) >= 2
    assert schema_errors(load("TransformationEvent.json")) == []


def test_export_then_parse_gives_the_same_events() -> None:
    events = rich_events()
    document = json.loads(json.dumps(export_document(events, creation_date=NOW)))
    parsed = parse_document(document, now=NOW)
    assert parsed.errors == []
    expected = [
        dataclasses.replace(e, ilmd={"cbvmda:lotNumber": "KP1"})
        if e.type == "TransformationEvent"
        else e
        for e in events
    ]
    # sensor reports inherit the metadata's time and device on the way back in
    element = expected[1].sensor_elements[0]
    inherited = tuple(
        dataclasses.replace(r, time=r.time or element.time, device_id=element.device_id)
        for r in element.reports
    )
    expected[1] = dataclasses.replace(
        expected[1],
        sensor_elements=(dataclasses.replace(element, reports=inherited),),
    )
    for got, want in zip(parsed.events, expected, strict=True):
        assert _without_source_uom(got) == _without_source_uom(want)


def _without_source_uom(ev: NormalisedEvent) -> NormalisedEvent:
    """source_uom records what a partner sent; an export has no partner."""
    elements = tuple(
        dataclasses.replace(
            el, reports=tuple(dataclasses.replace(r, source_uom=None) for r in el.reports)
        )
        for el in ev.sensor_elements
    )
    return dataclasses.replace(ev, sensor_elements=elements)


def test_export_drops_ilmd_from_observe_events_to_stay_valid() -> None:
    raw = event(ilmd={"cbvmda:lotNumber": "L1"})
    (ev,) = parse_document([raw], now=NOW).events
    assert ev.lot_number == "L1"
    document = export_document([ev], creation_date=NOW)
    assert "ilmd" not in document["epcisBody"]["eventList"][0]
    assert schema_errors(document) == []
