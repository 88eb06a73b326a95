"""Parsers for the fields of one EPCIS 2.0 event; each appends (field, reason) to `issues`.

Lenient where real documents differ harmlessly (6+ digit fractions, offsets without a colon,
CBV 1.x URNs, places given as bare ids), strict where the data would be wrong.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from math import isfinite
from typing import Any

from trace.epcis_model import (
    VOCAB_PREFIXES,
    ErrorDeclaration,
    QuantityElement,
    SensorElement,
    SensorReport,
)

Issues = list[tuple[str, str]]  # (field path, reason) pairs collected while parsing

# UN/ECE Rec 20 temperature units → conversion to degrees Celsius.
_TO_CELSIUS = {
    "CEL": lambda v: v,
    "FAH": lambda v: (v - 32.0) * 5.0 / 9.0,
    "KEL": lambda v: v - 273.15,
}
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|z|[+-]\d{2}:?\d{2})?")
_UOM = re.compile(r"[A-Z0-9]{2,3}")
OFFSET = re.compile(r"[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00)")


def parse_time(
    value: Any, name: str, issues: Issues, *, offset: str | None = None
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


def offset_of(text: str) -> str:
    """The UTC offset written in a time string, as ±HH:MM."""
    match = _TIME.fullmatch(text)
    zone = match.group(3) if match else None
    if zone is None or zone in ("Z", "z"):
        return "+00:00"
    return zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"


def string_field(raw: dict[str, Any], key: str, issues: Issues) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        issues.append((key, "must be a non-empty string"))
        return None
    return value


def string_list(raw: dict[str, Any], key: str, issues: Issues) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        issues.append((key, "must be a list of identifiers (strings)"))
        return ()
    return tuple(value)


def number_field(value: Any, name: str, issues: Issues) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not isfinite(value):
        issues.append((name, f"{value!r} is not a finite number"))
        return None
    return float(value)


def quantity_list(raw: dict[str, Any], key: str, issues: Issues) -> tuple[QuantityElement, ...]:
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
            quantity = number_field(item["quantity"], f"{path}.quantity", issues)
            if quantity is not None and quantity <= 0:
                issues.append((f"{path}.quantity", f"must be greater than 0, not {quantity:g}"))
        uom = item.get("uom")
        if uom is not None and not (isinstance(uom, str) and _UOM.fullmatch(uom)):
            issues.append((f"{path}.uom", f"{uom!r} is not a UN/ECE Rec 20 code such as KGM"))
        found.append(QuantityElement(item["epcClass"], quantity, uom))
    return tuple(found)


def short_vocab(value: str | None, vocabulary: str) -> str | None:
    """A CBV value in its short form (`receiving`), whichever URI form it came in."""
    if value is None:
        return None
    folded = value.casefold()  # older documents differ in case (Bizstep-, bizstep:)
    for prefix in VOCAB_PREFIXES[vocabulary]:
        if folded.startswith(prefix.casefold()):
            return value[len(prefix) :]
    return value


def place_field(raw: dict[str, Any], key: str, issues: Issues) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return value["id"]
    if isinstance(value, str) and value:  # some documents give the id directly
        return value
    issues.append((key, "must be an object with an id"))
    return None


def typed_pairs(raw: dict[str, Any], key: str, value_key: str, issues: Issues) -> tuple[Any, ...]:
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
        pairs.append((short_vocab(kind, vocabulary), ident))
    return tuple(pairs)


def ilmd_field(raw: dict[str, Any], issues: Issues) -> dict[str, Any]:
    value = raw.get("ilmd")
    if value is None:
        return {}
    if not isinstance(value, dict):
        issues.append(("ilmd", "must be an object"))
        return {}
    return dict(value)


def sensor_elements(raw: dict[str, Any], issues: Issues) -> tuple[SensorElement, ...]:
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
            key: parse_time(meta[key], f"{path}.sensorMetadata.{key}", issues)
            if key in meta
            else None
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
    issues: Issues,
) -> SensorReport | None:
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        issues.append((path, "needs a type"))
        return None
    kind = short_vocab(item["type"], "sensor") or ""
    values: dict[str, float | None] = {}
    for key, name in (
        ("value", "value"),
        ("minValue", "min_value"),
        ("maxValue", "max_value"),
        ("meanValue", "mean_value"),
    ):
        values[name] = number_field(item[key], f"{path}.{key}", issues) if key in item else None
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
    when = parse_time(item["time"], f"{path}.time", issues) if "time" in item else default_time
    exception = item.get("exception")
    return SensorReport(
        type=kind,
        uom=uom,
        source_uom=source_uom,
        time=when,
        exception=short_vocab(exception, "sensor") if isinstance(exception, str) else None,
        device_id=item["deviceID"] if isinstance(item.get("deviceID"), str) else default_device,
        component=item.get("component") if isinstance(item.get("component"), str) else None,
        string_value=item.get("stringValue") if isinstance(item.get("stringValue"), str) else None,
        **values,
    )


def error_declaration(raw: dict[str, Any], issues: Issues) -> ErrorDeclaration | None:
    value = raw.get("errorDeclaration")
    if value is None:
        return None
    if not isinstance(value, dict) or "declarationTime" not in value:
        issues.append(("errorDeclaration", "needs a declarationTime"))
        return None
    when = parse_time(value["declarationTime"], "errorDeclaration.declarationTime", issues)
    ids = value.get("correctiveEventIDs", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        issues.append(("errorDeclaration.correctiveEventIDs", "must be a list of event ids"))
        ids = []
    reason = value.get("reason")
    if when is None:
        return None
    return ErrorDeclaration(
        when, short_vocab(reason, "er") if isinstance(reason, str) else None, tuple(ids)
    )
