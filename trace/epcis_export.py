"""EPCIS 2.0 JSON-LD export of normalised events (validates against the GS1 JSON Schema)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from trace.epcis_model import (
    EPCIS_CONTEXT,
    ErrorDeclaration,
    NormalisedEvent,
    QuantityElement,
    SensorElement,
    SensorReport,
)


def export_document(
    events: Iterable[NormalisedEvent],
    *,
    creation_date: datetime,
    namespaces: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An EPCIS 2.0 JSON-LD document of `events`; `namespaces` adds prefixes to @context.

    Pass the prefixes used by ilmd keys or vendor extensions (ParsedDocument.namespaces).
    """
    context: list[Any] = [EPCIS_CONTEXT]
    if namespaces:
        context.append(dict(namespaces))
    return {
        "@context": context,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _iso(creation_date),
        "epcisBody": {"eventList": [export_event(event) for event in events]},
    }


def export_event(event: NormalisedEvent) -> dict[str, Any]:
    """One event as EPCIS 2.0 JSON (times in UTC, eventTimeZoneOffset kept)."""
    out: dict[str, Any] = {
        "type": event.type,
        "eventID": event.event_id,
        "eventTime": _iso(event.event_time),
        "eventTimeZoneOffset": event.event_time_zone_offset,
    }
    if event.record_time is not None:
        out["recordTime"] = _iso(event.record_time)
    if event.error_declaration is not None:
        out["errorDeclaration"] = _export_error_declaration(event.error_declaration)
    if event.parent_id is not None:
        out["parentID"] = event.parent_id
    if event.type == "TransformationEvent":
        _put(out, "inputEPCList", list(event.input_epcs))
        _put(out, "inputQuantityList", [_export_quantity(q) for q in event.input_quantities])
        _put(out, "outputEPCList", list(event.output_epcs))
        _put(out, "outputQuantityList", [_export_quantity(q) for q in event.output_quantities])
        _put(out, "transformationID", event.transformation_id)
    else:
        children = event.type in ("AggregationEvent", "AssociationEvent")
        epc_key = "childEPCs" if children else "epcList"
        if event.type == "ObjectEvent":
            out[epc_key] = list(event.epcs)  # always present: satisfies the schema's anyOf
        else:
            _put(out, epc_key, list(event.epcs))
        quantity_key = "childQuantityList" if children else "quantityList"
        _put(out, quantity_key, [_export_quantity(q) for q in event.quantities])
        out["action"] = event.action
    _put(out, "bizStep", event.biz_step)
    _put(out, "disposition", event.disposition)
    _put(out, "readPoint", {"id": event.read_point} if event.read_point else None)
    _put(out, "bizLocation", {"id": event.biz_location} if event.biz_location else None)
    _put(
        out,
        "bizTransactionList",
        [
            {"type": kind, "bizTransaction": ident} if kind else {"bizTransaction": ident}
            for kind, ident in event.biz_transactions
        ],
    )
    _put(out, "sourceList", [{"type": t, "source": i} for t, i in event.sources])
    _put(out, "destinationList", [{"type": t, "destination": i} for t, i in event.destinations])
    _put(out, "sensorElementList", [_export_sensor_element(e) for e in event.sensor_elements])
    # EPCIS 2.0 §7.4.2: an ObjectEvent carries ilmd only when it commissions (action ADD).
    if event.type == "TransformationEvent" or event.action == "ADD":
        _put(out, "ilmd", {_ilmd_key(k): v for k, v in event.ilmd.items()})
    for key, value in event.extensions.items():
        out.setdefault(key, value)
    return out


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value:
        out[key] = value


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("EPCIS times must be timezone-aware")
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return moment.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def _ilmd_key(key: str) -> str:
    # A bare name is a CBV master-data attribute; the standard context binds `cbvmda`.
    return key if ":" in key else f"cbvmda:{key}"


def _export_quantity(quantity: QuantityElement) -> dict[str, Any]:
    out: dict[str, Any] = {"epcClass": quantity.epc_class}
    if quantity.quantity is not None:
        out["quantity"] = quantity.quantity
    if quantity.uom is not None:
        out["uom"] = quantity.uom
    return out


def _export_error_declaration(declaration: ErrorDeclaration) -> dict[str, Any]:
    out: dict[str, Any] = {"declarationTime": _iso(declaration.declaration_time)}
    _put(out, "reason", declaration.reason)
    _put(out, "correctiveEventIDs", list(declaration.corrective_event_ids))
    return out


def _export_sensor_element(element: SensorElement) -> dict[str, Any]:
    out: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for key, moment in (
        ("time", element.time),
        ("startTime", element.start_time),
        ("endTime", element.end_time),
    ):
        if moment is not None:
            meta[key] = _iso(moment)
    _put(meta, "deviceID", element.device_id)
    _put(out, "sensorMetadata", meta)
    out["sensorReport"] = [_export_report(r, element) for r in element.reports]
    return out


def _export_report(report: SensorReport, element: SensorElement) -> dict[str, Any]:
    out: dict[str, Any] = {"type": report.type}
    for key, value in (
        ("value", report.value),
        ("minValue", report.min_value),
        ("maxValue", report.max_value),
        ("meanValue", report.mean_value),
    ):
        if value is not None:
            out[key] = value
    _put(out, "uom", report.uom)
    _put(out, "component", report.component)
    _put(out, "stringValue", report.string_value)
    _put(out, "exception", report.exception)
    # Fields inherited from sensorMetadata on parsing are written once, on the metadata.
    if report.time is not None and report.time != element.time:
        out["time"] = _iso(report.time)
    if report.device_id is not None and report.device_id != element.device_id:
        out["deviceID"] = report.device_id
    return out
