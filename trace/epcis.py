"""GS1 EPCIS 2.0 JSON / JSON-LD: parse partners' documents into normalised events, export ours.

Parsing is lenient where real documents differ harmlessly (JSON-LD contexts are not resolved,
6+ digit fractions, any UTC offset, hash-style eventIDs kept as given) and strict where the
data would be wrong (missing type/eventTime, unknown event types, bad or future times,
quantities ≤ 0, temperatures without a unit). Times become UTC; temperatures become °C.

Events without an eventID get a deterministic one: `urn:uuid:` + a UUID (version 8, RFC 9562)
made from the first 16 bytes of SHA-256 over the RFC 8785 canonical JSON of the event as
given. The same event JSON therefore always gets the same id, so re-imports are idempotent.
(It is deliberately not the CBV 2.0 `ni:///sha-256` event hash, whose canonical form differs.)
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import rfc8785

from trace.epcis_fields import (
    OFFSET,
    error_declaration,
    ilmd_field,
    offset_of,
    parse_time,
    place_field,
    quantity_list,
    sensor_elements,
    short_vocab,
    string_field,
    string_list,
    typed_pairs,
)
from trace.epcis_model import (
    ACTIONS,
    EVENT_TYPES,
    FUTURE_TOLERANCE,
    EpcisError,
    EventError,
    EventType,
    NormalisedEvent,
    ParsedDocument,
)

__all__ = ["derived_event_id", "load_json", "parse_document"]


def load_json(data: bytes) -> object:
    """Decode an uploaded EPCIS file (UTF-8, BOM allowed) into JSON values."""
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EpcisError(f"not a JSON document: {exc}") from exc


# ---------------------------------------------------------------- parsing


def parse_document(
    doc: object, *, now: datetime, future_tolerance: timedelta = FUTURE_TOLERANCE
) -> ParsedDocument:
    """Parse an EPCIS document, query document, single event or list of events.

    Every event is checked on its own: good ones are returned, bad ones become EventErrors
    naming their position in the event list, the field and the reason.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    latest = now.astimezone(UTC) + future_tolerance
    raw_events, errors, namespaces, creation = _unwrap(doc)
    events: list[NormalisedEvent] = []
    positions: list[int] = []
    first_seen: dict[str, int] = {}
    for position, raw in enumerate(raw_events):
        issues: list[tuple[str, str]] = []
        event = _parse_event(raw, issues, latest)
        if event is not None and event.event_id in first_seen:
            issues.append(
                ("eventID", f"repeats the event at position {first_seen[event.event_id]}")
            )
        if issues or event is None:
            errors.extend(EventError(position, name, reason) for name, reason in issues)
            continue
        first_seen[event.event_id] = position
        events.append(event)
        positions.append(position)
    return ParsedDocument(events, errors, namespaces, creation, positions)


def _unwrap(
    doc: object,
) -> tuple[list[Any], list[EventError], dict[str, str], datetime | None]:
    errors: list[EventError] = []
    if isinstance(doc, list):
        return doc, errors, {}, None
    if not isinstance(doc, dict):
        return [], [EventError(None, "", "an EPCIS document must be a JSON object")], {}, None
    namespaces = _namespaces(doc.get("@context"))
    kind = doc.get("type")
    if kind in EVENT_TYPES:
        return [doc], errors, namespaces, None
    creation = None
    if "creationDate" in doc:
        issues: list[tuple[str, str]] = []
        creation = parse_time(doc["creationDate"], "creationDate", issues)
        errors.extend(EventError(None, name, reason) for name, reason in issues)
    body = doc.get("epcisBody")
    if kind == "EPCISDocument":
        path, events = "epcisBody.eventList", _dig(body, "eventList")
    elif kind == "EPCISQueryDocument":
        path = "epcisBody.queryResults.resultsBody.eventList"
        events = _dig(body, "queryResults", "resultsBody", "eventList")
    elif kind is None:
        return [], [EventError(None, "type", "missing: not an EPCIS document or event")], {}, None
    else:
        return [], [EventError(None, "type", f"unknown document type {kind!r}")], {}, None
    if not isinstance(events, list):
        errors.append(EventError(None, path, "missing or not a list"))
        events = []
    return events, errors, namespaces, creation


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _namespaces(context: Any) -> dict[str, str]:
    """Prefix → IRI pairs from the JSON-LD @context (remote contexts are not fetched)."""
    entries = context if isinstance(context, list) else [context]
    found: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, dict):
            found.update({k: v for k, v in entry.items() if isinstance(v, str)})
    return found


# fmt: off
_STANDARD_KEYS = frozenset((
    "@context", "type", "eventTime", "recordTime", "eventTimeZoneOffset", "eventID",
    "certificationInfo", "errorDeclaration", "action", "epcList", "quantityList", "bizStep",
    "disposition", "persistentDisposition", "readPoint", "bizLocation", "bizTransactionList",
    "sourceList", "destinationList", "sensorElementList", "ilmd", "parentID", "childEPCs",
    "childQuantityList", "inputEPCList", "inputQuantityList", "outputEPCList",
    "outputQuantityList", "transformationID",
))
# fmt: on


def _parse_event(
    raw: Any, issues: list[tuple[str, str]], latest: datetime
) -> NormalisedEvent | None:
    if not isinstance(raw, dict):
        issues.append(("", "an event must be a JSON object"))
        return None
    kind = raw.get("type")
    if kind is None:
        issues.append(("type", "missing"))
    elif kind not in EVENT_TYPES:
        issues.append(("type", f"unknown event type {kind!r}"))
    offset = raw.get("eventTimeZoneOffset")
    if offset is not None and not (isinstance(offset, str) and OFFSET.fullmatch(offset)):
        issues.append(("eventTimeZoneOffset", f"{offset!r} is not an offset such as +08:00"))
        offset = None
    event_time = None
    if "eventTime" not in raw:
        issues.append(("eventTime", "missing"))
    else:
        event_time = parse_time(raw["eventTime"], "eventTime", issues, offset=offset)
        if event_time is not None and event_time > latest:
            issues.append(("eventTime", f"{raw['eventTime']} is in the future"))
    record_time = (
        parse_time(raw["recordTime"], "recordTime", issues) if "recordTime" in raw else None
    )
    event_id, assigned = _event_id(raw, issues)
    action = raw.get("action")
    if kind != "TransformationEvent" and action not in ACTIONS:
        issues.append(
            (
                "action",
                "missing" if action is None else f"{action!r} is not one of ADD, OBSERVE, DELETE",
            )
        )
    children = kind in ("AggregationEvent", "AssociationEvent")
    epc_key, quantity_key = (
        ("childEPCs", "childQuantityList") if children else ("epcList", "quantityList")
    )
    fields: dict[str, Any] = {
        "epcs": string_list(raw, epc_key, issues),
        "quantities": quantity_list(raw, quantity_key, issues),
        "input_epcs": string_list(raw, "inputEPCList", issues),
        "input_quantities": quantity_list(raw, "inputQuantityList", issues),
        "output_epcs": string_list(raw, "outputEPCList", issues),
        "output_quantities": quantity_list(raw, "outputQuantityList", issues),
    }
    _check_shape(kind, action, raw, fields, issues)
    fields.update(
        biz_step=short_vocab(string_field(raw, "bizStep", issues), "bizStep"),
        disposition=short_vocab(string_field(raw, "disposition", issues), "disposition"),
        read_point=place_field(raw, "readPoint", issues),
        biz_location=place_field(raw, "bizLocation", issues),
        parent_id=string_field(raw, "parentID", issues),
        transformation_id=string_field(raw, "transformationID", issues),
        biz_transactions=typed_pairs(raw, "bizTransactionList", "bizTransaction", issues),
        sources=typed_pairs(raw, "sourceList", "source", issues),
        destinations=typed_pairs(raw, "destinationList", "destination", issues),
        ilmd=ilmd_field(raw, issues),
        sensor_elements=sensor_elements(raw, issues),
        error_declaration=error_declaration(raw, issues),
    )
    if issues or event_time is None:
        return None
    return NormalisedEvent(
        event_id=event_id,
        event_id_assigned=assigned,
        type=cast(EventType, kind),  # checked against EVENT_TYPES above
        event_time=event_time,
        event_time_zone_offset=offset or offset_of(raw["eventTime"]),
        record_time=record_time,
        action=action if kind != "TransformationEvent" else None,
        extensions={k: v for k, v in raw.items() if k not in _STANDARD_KEYS},
        raw=raw,
        **fields,
    )


def _check_shape(
    kind: Any,
    action: Any,
    raw: dict[str, Any],
    fields: dict[str, Any],
    issues: list[tuple[str, str]],
) -> None:
    """The EPCIS 2.0 rules on which lists an event type must carry (§7.4)."""
    if kind == "TransformationEvent":
        if not any(
            fields[k]
            for k in ("input_epcs", "input_quantities", "output_epcs", "output_quantities")
        ):
            issues.append(("inputEPCList", "a TransformationEvent needs inputs or outputs"))
    elif kind in ("AggregationEvent", "AssociationEvent"):
        if action != "DELETE" and not (fields["epcs"] or fields["quantities"]):
            issues.append(("childEPCs", f"an {kind} needs childEPCs or childQuantityList"))
        if kind == "AssociationEvent" and not raw.get("parentID"):
            issues.append(("parentID", "missing"))
    elif kind == "TransactionEvent" and not raw.get("bizTransactionList"):
        issues.append(("bizTransactionList", "a TransactionEvent needs a business transaction"))


def _event_id(raw: dict[str, Any], issues: list[tuple[str, str]]) -> tuple[str, bool]:
    given = raw.get("eventID")
    if given is not None:
        if not isinstance(given, str) or not given.strip():
            issues.append(("eventID", "must be a non-empty string"))
            return "", False
        return given, False  # stored as given, including hash ids from older drafts
    return derived_event_id(raw), True


def derived_event_id(raw: Mapping[str, Any]) -> str:
    """The deterministic id given to an event that has none (see the module docstring)."""
    body = {k: v for k, v in raw.items() if k != "eventID"}
    try:
        canonical = rfc8785.dumps(body)
    except rfc8785.CanonicalizationError:
        # Integers beyond 2**53 cannot be put in RFC 8785 form: sorted compact JSON still is
        # deterministic for the same input.
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    digest = bytearray(hashlib.sha256(canonical).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80  # version 8: custom (RFC 9562 §5.8)
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122/9562 variant
    return f"urn:uuid:{uuid.UUID(bytes=bytes(digest))}"
