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
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from math import isfinite
from typing import Any, Literal, TypeAlias, cast

import rfc8785

EventType: TypeAlias = Literal[
    "ObjectEvent", "AggregationEvent", "TransformationEvent", "TransactionEvent", "AssociationEvent"
]
EVENT_TYPES: tuple[str, ...] = (
    "ObjectEvent",
    "AggregationEvent",
    "TransformationEvent",
    "TransactionEvent",
    "AssociationEvent",
)
ACTIONS = ("ADD", "OBSERVE", "DELETE")
# The EPCIS 2.0 standard JSON-LD context (EPCIS 2.0 §12.1).
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
# Clock-skew allowance before an eventTime counts as "in the future" (our policy).
FUTURE_TOLERANCE = timedelta(minutes=5)


def _cbv_prefixes(urn: str, web: str) -> tuple[str, ...]:
    """CBV 1.x URN, CBV 2.0 web URI and compact prefixes under which one vocabulary appears."""
    return (
        f"urn:epcglobal:cbv:{urn}:",
        f"https://ref.gs1.org/cbv/{web}-",
        f"https://gs1.org/voc/{web}-",
        f"cbv:{web}-",
        f"gs1:{web}-",
    )


_VOCAB_PREFIXES: Mapping[str, tuple[str, ...]] = {
    "bizStep": _cbv_prefixes("bizstep", "BizStep"),
    "disposition": _cbv_prefixes("disp", "Disp"),
    "sdt": _cbv_prefixes("sdt", "SDT"),
    "btt": _cbv_prefixes("btt", "BTT"),
    "er": _cbv_prefixes("er", "ER"),
    "sensor": ("https://gs1.org/voc/", "https://ref.gs1.org/voc/", "gs1:"),
}

# UN/ECE Rec 20 temperature units → conversion to degrees Celsius.
_TO_CELSIUS = {
    "CEL": lambda v: v,
    "FAH": lambda v: (v - 32.0) * 5.0 / 9.0,
    "KEL": lambda v: v - 273.15,
}
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|z|[+-]\d{2}:?\d{2})?")
_UOM = re.compile(r"[A-Z0-9]{2,3}")
_OFFSET = re.compile(r"[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00)")
_RECEIVING_STEPS = frozenset({"receiving", "accepting", "arriving"})
_SHIPPING_STEPS = frozenset({"shipping", "departing"})


class EpcisError(ValueError):
    """The bytes are not a JSON document at all."""


@dataclass(frozen=True, slots=True)
class EventError:
    """Why one event (position in eventList; None for the document) was rejected."""

    position: int | None
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class QuantityElement:
    """`{epcClass, quantity, uom}`; quantity None means a count of instances is not given."""

    epc_class: str
    quantity: float | None = None
    uom: str | None = None


@dataclass(frozen=True, slots=True)
class SensorReport:
    """One sensor report; Temperature values are in °C (`uom` CEL, `source_uom` as sent)."""

    type: str
    value: float | None = None
    min_value: float | None = None
    max_value: float | None = None
    mean_value: float | None = None
    uom: str | None = None
    source_uom: str | None = None
    time: datetime | None = None  # the report's time, else its sensorMetadata time
    exception: str | None = None
    device_id: str | None = None
    component: str | None = None
    string_value: str | None = None


@dataclass(frozen=True, slots=True)
class SensorElement:
    """sensorMetadata (device, times) and its reports."""

    reports: tuple[SensorReport, ...]
    device_id: str | None = None
    time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class ErrorDeclaration:
    """This event is declared wrong; the corrective events replace it."""

    declaration_time: datetime
    reason: str | None = None
    corrective_event_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NormalisedEvent:
    """One EPCIS event in normalised form: UTC times, short CBV names, °C temperatures.

    `epcs`/`quantities` hold epcList/quantityList (Object, Transaction) or
    childEPCs/childQuantityList (Aggregation, Association).
    """

    event_id: str
    type: EventType
    event_time: datetime
    event_time_zone_offset: str
    event_id_assigned: bool = False
    record_time: datetime | None = None
    action: str | None = None
    biz_step: str | None = None
    disposition: str | None = None
    read_point: str | None = None
    biz_location: str | None = None
    parent_id: str | None = None
    epcs: tuple[str, ...] = ()
    quantities: tuple[QuantityElement, ...] = ()
    input_epcs: tuple[str, ...] = ()
    input_quantities: tuple[QuantityElement, ...] = ()
    output_epcs: tuple[str, ...] = ()
    output_quantities: tuple[QuantityElement, ...] = ()
    transformation_id: str | None = None
    biz_transactions: tuple[tuple[str | None, str], ...] = ()  # (type, id)
    sources: tuple[tuple[str, str], ...] = ()  # (type, id)
    destinations: tuple[tuple[str, str], ...] = ()
    ilmd: Mapping[str, Any] = field(default_factory=dict)
    sensor_elements: tuple[SensorElement, ...] = ()
    error_declaration: ErrorDeclaration | None = None
    extensions: Mapping[str, Any] = field(default_factory=dict)  # vendor fields, e.g. ex:x
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def tracking_event(self) -> Literal["receiving", "shipping", "transformation", "other"]:
        """The FSMA 204 critical tracking event this event records, if any."""
        if self.type == "TransformationEvent":
            return "transformation"
        if self.biz_step in _RECEIVING_STEPS:
            return "receiving"
        if self.biz_step in _SHIPPING_STEPS:
            return "shipping"
        return "other"

    def ilmd_value(self, name: str) -> Any:
        """An ilmd value by local name, whatever its prefix (`cbvmda:lotNumber` → `lotNumber`)."""
        for key, value in self.ilmd.items():
            if _local_name(key) == name:
                return value
        return None

    @property
    def lot_number(self) -> str | None:
        """ilmd lotNumber, if given."""
        value = self.ilmd_value("lotNumber")
        return None if value is None else str(value)

    @property
    def best_before_date(self) -> str | None:
        """ilmd bestBeforeDate (or itemExpirationDate), as given."""
        value = self.ilmd_value("bestBeforeDate") or self.ilmd_value("itemExpirationDate")
        return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """Accepted events, rejected ones with reasons, and the document's JSON-LD prefixes."""

    events: list[NormalisedEvent]
    errors: list[EventError]
    namespaces: Mapping[str, str] = field(default_factory=dict)
    creation_date: datetime | None = None


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
    return ParsedDocument(events, errors, namespaces, creation)


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
        creation = _time(doc["creationDate"], "creationDate", issues)
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
    if offset is not None and not (isinstance(offset, str) and _OFFSET.fullmatch(offset)):
        issues.append(("eventTimeZoneOffset", f"{offset!r} is not an offset such as +08:00"))
        offset = None
    event_time = None
    if "eventTime" not in raw:
        issues.append(("eventTime", "missing"))
    else:
        event_time = _time(raw["eventTime"], "eventTime", issues, offset=offset)
        if event_time is not None and event_time > latest:
            issues.append(("eventTime", f"{raw['eventTime']} is in the future"))
    record_time = _time(raw["recordTime"], "recordTime", issues) if "recordTime" in raw else None
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
        "epcs": _strings(raw, epc_key, issues),
        "quantities": _quantities(raw, quantity_key, issues),
        "input_epcs": _strings(raw, "inputEPCList", issues),
        "input_quantities": _quantities(raw, "inputQuantityList", issues),
        "output_epcs": _strings(raw, "outputEPCList", issues),
        "output_quantities": _quantities(raw, "outputQuantityList", issues),
    }
    _check_shape(kind, action, raw, fields, issues)
    fields.update(
        biz_step=_vocab(_string(raw, "bizStep", issues), "bizStep"),
        disposition=_vocab(_string(raw, "disposition", issues), "disposition"),
        read_point=_place(raw, "readPoint", issues),
        biz_location=_place(raw, "bizLocation", issues),
        parent_id=_string(raw, "parentID", issues),
        transformation_id=_string(raw, "transformationID", issues),
        biz_transactions=_pairs(raw, "bizTransactionList", "bizTransaction", issues),
        sources=_pairs(raw, "sourceList", "source", issues),
        destinations=_pairs(raw, "destinationList", "destination", issues),
        ilmd=_ilmd(raw, issues),
        sensor_elements=_sensor_elements(raw, issues),
        error_declaration=_error_declaration(raw, issues),
    )
    if issues or event_time is None:
        return None
    return NormalisedEvent(
        event_id=event_id,
        event_id_assigned=assigned,
        type=cast(EventType, kind),  # checked against EVENT_TYPES above
        event_time=event_time,
        event_time_zone_offset=offset or _offset_of(raw["eventTime"]),
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


def _time(
    value: Any, name: str, issues: list[tuple[str, str]], *, offset: str | None = None
) -> datetime | None:
    """An RFC 3339 date-time as UTC; a missing offset is taken from `offset` if given."""
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        issues.append((name, f"{value!r} is not an ISO 8601 date-time"))
        return None
    stem, fraction, zone = match.groups()
    if zone is None:
        if offset is None:
            issues.append((name, f"{value!r} has no UTC offset"))
            return None
        zone = offset
    zone = "+00:00" if zone in ("Z", "z") else zone
    if ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    micro = f".{(fraction or '0')[:6]:0<6}"  # more than 6 digits happen; µs is our precision
    try:
        return datetime.fromisoformat(stem + micro + zone).astimezone(UTC)
    except ValueError:
        issues.append((name, f"{value!r} is not a real date-time"))
        return None


def _offset_of(text: str) -> str:
    """The UTC offset written in a time string, as ±HH:MM."""
    match = _TIME.fullmatch(text)
    zone = match.group(3) if match else None
    if zone is None or zone in ("Z", "z"):
        return "+00:00"
    return zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"


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


def _string(raw: dict[str, Any], key: str, issues: list[tuple[str, str]]) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        issues.append((key, "must be a non-empty string"))
        return None
    return value


def _strings(raw: dict[str, Any], key: str, issues: list[tuple[str, str]]) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        issues.append((key, "must be a list of identifiers (strings)"))
        return ()
    return tuple(value)


def _number(value: Any, name: str, issues: list[tuple[str, str]]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not isfinite(value):
        issues.append((name, f"{value!r} is not a finite number"))
        return None
    return float(value)


def _quantities(
    raw: dict[str, Any], key: str, issues: list[tuple[str, str]]
) -> tuple[QuantityElement, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        issues.append((key, "must be a list"))
        return ()
    found = []
    for i, item in enumerate(value):
        path = f"{key}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("epcClass"), str):
            issues.append((path, "needs an epcClass"))
            continue
        quantity = None
        if "quantity" in item:
            quantity = _number(item["quantity"], f"{path}.quantity", issues)
            if quantity is not None and quantity <= 0:
                issues.append((f"{path}.quantity", f"must be greater than 0, not {quantity:g}"))
        uom = item.get("uom")
        if uom is not None and not (isinstance(uom, str) and _UOM.fullmatch(uom)):
            issues.append((f"{path}.uom", f"{uom!r} is not a UN/ECE Rec 20 code such as KGM"))
        found.append(QuantityElement(item["epcClass"], quantity, uom))
    return tuple(found)


def _vocab(value: str | None, vocabulary: str) -> str | None:
    """A CBV value in its short form (`receiving`), whichever URI form it came in."""
    if value is None:
        return None
    folded = value.casefold()  # older documents differ in case (Bizstep-, bizstep:)
    for prefix in _VOCAB_PREFIXES[vocabulary]:
        if folded.startswith(prefix.casefold()):
            return value[len(prefix) :]
    return value


def _local_name(key: str) -> str:
    return re.split(r"[:#/]", key)[-1]


def _place(raw: dict[str, Any], key: str, issues: list[tuple[str, str]]) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return value["id"]
    if isinstance(value, str) and value:  # some documents give the id directly
        return value
    issues.append((key, "must be an object with an id"))
    return None


def _pairs(
    raw: dict[str, Any], key: str, value_key: str, issues: list[tuple[str, str]]
) -> tuple[Any, ...]:
    """sourceList, destinationList, bizTransactionList as (short type, id) pairs."""
    items = raw.get(key)
    if items is None:
        return ()
    vocabulary = "btt" if value_key == "bizTransaction" else "sdt"
    pairs = []
    for i, item in enumerate(items if isinstance(items, list) else [None]):
        ident = item.get(value_key) if isinstance(item, dict) else None
        kind = item.get("type") if isinstance(item, dict) else None
        needs_type = vocabulary == "sdt"
        if (
            not isinstance(ident, str)
            or (needs_type and not isinstance(kind, str))
            or (kind is not None and not isinstance(kind, str))
        ):
            issues.append(
                (f"{key}[{i}]", f"needs a {value_key} id" + (" and a type" if needs_type else ""))
            )
            continue
        pairs.append((_vocab(kind, vocabulary), ident))
    return tuple(pairs)


def _ilmd(raw: dict[str, Any], issues: list[tuple[str, str]]) -> dict[str, Any]:
    value = raw.get("ilmd")
    if value is None:
        return {}
    if not isinstance(value, dict):
        issues.append(("ilmd", "must be an object"))
        return {}
    return dict(value)


def _sensor_elements(
    raw: dict[str, Any], issues: list[tuple[str, str]]
) -> tuple[SensorElement, ...]:
    value = raw.get("sensorElementList")
    if value is None:
        return ()
    if not isinstance(value, list):
        issues.append(("sensorElementList", "must be a list"))
        return ()
    elements = []
    for i, element in enumerate(value):
        path = f"sensorElementList[{i}]"
        meta = element.get("sensorMetadata", {}) if isinstance(element, dict) else None
        reports = element.get("sensorReport") if isinstance(element, dict) else None
        if not isinstance(meta, dict) or not isinstance(reports, list):
            issues.append((path, "needs a sensorReport list (and sensorMetadata as an object)"))
            continue
        times = {
            key: _time(meta[key], f"{path}.sensorMetadata.{key}", issues) if key in meta else None
            for key in ("time", "startTime", "endTime")
        }
        device = meta.get("deviceID") if isinstance(meta.get("deviceID"), str) else None
        parsed = []
        for j, item in enumerate(reports):
            where = f"{path}.sensorReport[{j}]"
            report = _sensor_report(item, where, times["time"], device, issues)
            if report is not None:
                parsed.append(report)
        elements.append(
            SensorElement(
                tuple(parsed), device, times["time"], times["startTime"], times["endTime"]
            )
        )
    return tuple(elements)


def _sensor_report(
    item: Any,
    path: str,
    default_time: datetime | None,
    default_device: str | None,
    issues: list[tuple[str, str]],
) -> SensorReport | None:
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        issues.append((path, "needs a type"))
        return None
    kind = _vocab(item["type"], "sensor") or ""
    values: dict[str, float | None] = {}
    for key, name in (
        ("value", "value"),
        ("minValue", "min_value"),
        ("maxValue", "max_value"),
        ("meanValue", "mean_value"),
    ):
        values[name] = _number(item[key], f"{path}.{key}", issues) if key in item else None
    uom = item.get("uom") if isinstance(item.get("uom"), str) else None
    source_uom = uom
    if kind == "Temperature":
        convert = _TO_CELSIUS.get((uom or "").upper())
        if convert is None:
            issues.append(
                (
                    f"{path}.uom",
                    "a Temperature needs uom CEL, FAH or KEL"
                    if uom is None
                    else f"unknown temperature unit {uom!r}",
                )
            )
            return None
        values = {k: None if v is None else round(convert(v), 6) for k, v in values.items()}
        uom = "CEL"
    when = _time(item["time"], f"{path}.time", issues) if "time" in item else default_time
    exception = item.get("exception")
    return SensorReport(
        type=kind,
        uom=uom,
        source_uom=source_uom,
        time=when,
        exception=_vocab(exception, "sensor") if isinstance(exception, str) else None,
        device_id=item["deviceID"] if isinstance(item.get("deviceID"), str) else default_device,
        component=item.get("component") if isinstance(item.get("component"), str) else None,
        string_value=item.get("stringValue") if isinstance(item.get("stringValue"), str) else None,
        **values,
    )


def _error_declaration(
    raw: dict[str, Any], issues: list[tuple[str, str]]
) -> ErrorDeclaration | None:
    value = raw.get("errorDeclaration")
    if value is None:
        return None
    if not isinstance(value, dict) or "declarationTime" not in value:
        issues.append(("errorDeclaration", "needs a declarationTime"))
        return None
    when = _time(value["declarationTime"], "errorDeclaration.declarationTime", issues)
    ids = value.get("correctiveEventIDs", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        issues.append(("errorDeclaration.correctiveEventIDs", "must be a list of event ids"))
        ids = []
    reason = value.get("reason")
    if when is None:
        return None
    return ErrorDeclaration(
        when, _vocab(reason, "er") if isinstance(reason, str) else None, tuple(ids)
    )


# ---------------------------------------------------------------- export


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
