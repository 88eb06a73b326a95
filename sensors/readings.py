"""Validation of incoming temperature readings; HTTP JSON, CSV upload and MQTT all share it.

A reading is ``{"time": RFC 3339 with offset, "value": number, "unit": "CEL" | "FAH"}``.
Good readings come back normalised (UTC time, °C) in input order, ready for a bulk insert;
bad ones are rejected one problem per Rejection; a batch that is not a batch raises BatchError.
Fractional seconds beyond microseconds are truncated (Python datetimes hold microseconds).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

from sensors.profiles import physical_limits, policy

FIELDS: tuple[str, ...] = ("time", "value", "unit")
UNITS: tuple[str, ...] = ("CEL", "FAH")  # UN/CEFACT Rec. 20 codes, as EPCIS 2.0 uses
CLOCK_SKEW = "clock_skew"
DUPLICATE_IN_BATCH = "duplicate_in_batch"

# RFC 3339 section 5.6 date-time; the offset is optional here only to name naive times.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?"
)
# The common well-formed case (upper-case T and Z, or ±hh:mm) takes the C parser; anything else
# goes through parse_rfc3339, which names the problem.
_RFC3339_AWARE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
# A plain decimal number, so CSV cannot smuggle in "nan", "inf", "0x1F" or "1_000".
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class BatchError(ValueError):
    """The whole payload is unusable (not a list, too long, malformed bytes or CSV)."""


class TooManyReadings(BatchError):
    """The batch holds more readings than one request may carry."""


@dataclass(frozen=True, slots=True)
class Reading:
    """An accepted reading, normalised to UTC and °C."""

    time_utc: datetime
    celsius: float
    original_value: float
    original_unit: str
    index: int
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejection:
    """One problem with one reading; ``field`` is the key at fault (None: the whole item)."""

    index: int
    field: str | None
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Notice:
    """Something notable that is not an error (clock skew, an in-batch duplicate)."""

    index: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    """Result of parsing one batch; ``index`` is the array position (CSV: the line number)."""

    accepted: tuple[Reading, ...]
    rejected: tuple[Rejection, ...]
    flagged: tuple[Notice, ...]
    duplicates: tuple[Notice, ...]


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 date-time that carries an offset; returns it in UTC.

    Raises ValueError; the message starts with "naive" when only the offset is missing.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not an RFC 3339 date-time")
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = match.groups()
    if zulu is None and sign is None:
        raise ValueError(f"naive time {text!r}: an offset (Z or ±hh:mm) is required")
    offset = timedelta(0)
    if sign is not None:
        if int(off_h) > 23 or int(off_m) > 59:
            raise ValueError(f"offset out of range in {text!r}")
        offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        local = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro,
            tzinfo=timezone(offset),
        )  # fmt: skip
        return local.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"invalid date-time {text!r}: {exc}") from None


def _celsius(value: float, unit: str) -> float:
    # Exact rational arithmetic, rounded once: (F − 32) × 5/9.
    return float((Fraction(value) - 32) * 5 / 9) if unit == "FAH" else value


class _Validator:
    """Accumulates one batch's results; items are validated in order."""

    def __init__(self, now: datetime, future_skew: timedelta | None) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.latest_ok = now + (policy().future_skew if future_skew is None else future_skew)
        self.limits = physical_limits()
        self.accepted: list[Reading] = []
        self.rejected: list[Rejection] = []
        self.flagged: list[Notice] = []
        self.duplicates: list[Notice] = []
        self.first_at: dict[datetime, int] = {}

    def add(self, index: int, item: object, *, text_values: bool = False) -> None:
        if not text_values and type(item) is dict and len(item) == 3 and self._fast(index, item):
            return
        if not isinstance(item, Mapping):
            self._reject(index, None, "not_an_object", "a reading must be an object")
            return
        before = len(self.rejected)
        for key in item:
            if key not in FIELDS:
                self._reject(index, str(key), "unknown_key", f"unknown key {key!r}")
        for key in FIELDS:
            if key not in item:
                self._reject(index, key, "missing_key", f"missing key {key!r}")
        time = self._time(index, item["time"]) if "time" in item else None
        value = self._value(index, item["value"], text_values) if "value" in item else None
        unit = self._unit(index, item["unit"]) if "unit" in item else None
        celsius = None if value is None or unit is None else _celsius(value, unit)
        low, high = self.limits
        if celsius is not None and not low <= celsius <= high:
            self._reject(
                index,
                "value",
                "physically_impossible",
                f"{value:g} {unit} is {celsius:g} °C, outside the probe's {low:g}..{high:g} °C",
            )
        if len(self.rejected) > before or time is None or value is None or celsius is None:
            return
        self._accept(index, time, celsius, value, str(unit))

    def _fast(self, index: int, item: dict[str, Any]) -> bool:
        """Accept a well-formed reading without diagnostics; False sends it the slow way."""
        raw, value, unit = item.get("time"), item.get("value"), item.get("unit")
        kind = type(value)
        if type(raw) is not str or (kind is not float and kind is not int):
            return False
        if type(unit) is not str or unit not in UNITS or not _RFC3339_AWARE.fullmatch(raw):
            return False
        try:
            time = datetime.fromisoformat(raw)
            if time.tzinfo is not UTC:
                time = time.astimezone(UTC)
            number = float(value)  # type: ignore[arg-type]
        except (ValueError, OverflowError):
            return False
        celsius = _celsius(number, unit) if math.isfinite(number) else math.nan
        low, high = self.limits
        if not low <= celsius <= high:  # also NaN: the slow path names the problem
            return False
        self._accept(index, time, celsius, number, unit)
        return True

    def _accept(self, index: int, time: datetime, celsius: float, value: float, unit: str) -> None:
        if time in self.first_at:
            first = self.first_at[time]
            message = f"same time as the reading at index {first}, which is kept"
            self.duplicates.append(Notice(index, DUPLICATE_IN_BATCH, message))
            return
        self.first_at[time] = index
        flags: tuple[str, ...] = ()
        if time > self.latest_ok:
            flags = (CLOCK_SKEW,)
            message = f"time {time.isoformat()} is ahead of the server clock beyond the skew"
            self.flagged.append(Notice(index, CLOCK_SKEW, message))
        self.accepted.append(Reading(time, celsius, value, unit, index, flags))

    def _time(self, index: int, raw: object) -> datetime | None:
        if not isinstance(raw, str):
            self._reject(index, "time", "bad_time", "time must be an RFC 3339 string")
            return None
        try:
            return parse_rfc3339(raw)
        except ValueError as exc:
            reason = "naive_time" if str(exc).startswith("naive") else "bad_time"
            self._reject(index, "time", reason, str(exc))
            return None

    def _value(self, index: int, raw: object, text: bool) -> float | None:
        if text and isinstance(raw, str) and _DECIMAL.fullmatch(raw):
            raw = float(raw)
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            self._reject(index, "value", "not_a_number", f"value {raw!r} is not a number")
            return None
        try:
            number = float(raw)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            self._reject(index, "value", "not_finite", f"value {raw!r} is not finite")
            return None
        return number

    def _unit(self, index: int, raw: object) -> str | None:
        if isinstance(raw, str) and raw in UNITS:
            return raw
        self._reject(index, "unit", "unknown_unit", f"unit {raw!r} is not one of {UNITS}")
        return None

    def _reject(self, index: int, field: str | None, reason: str, message: str) -> None:
        self.rejected.append(Rejection(index, field, reason, message))

    def batch(self) -> ParsedBatch:
        return ParsedBatch(
            tuple(self.accepted), tuple(self.rejected), tuple(self.flagged), tuple(self.duplicates)
        )


def parse_json_readings(
    payload: object,
    *,
    now: datetime,
    max_readings: int | None = None,
    future_skew: timedelta | None = None,
) -> ParsedBatch:
    """Validate a decoded JSON array of readings; raises BatchError for a non-list and
    TooManyReadings beyond ``max_readings`` (None: the configured policy, as ``future_skew``)."""
    if not isinstance(payload, list):
        raise BatchError(f"readings must be a JSON array, not {type(payload).__name__}")
    max_readings = policy().max_readings_per_batch if max_readings is None else max_readings
    if len(payload) > max_readings:
        raise TooManyReadings(f"{len(payload)} readings in one batch; the limit is {max_readings}")
    validator = _Validator(now, future_skew)
    for index, item in enumerate(payload):
        validator.add(index, item)
    return validator.batch()


def parse_csv_readings(
    text: str,
    *,
    now: datetime,
    max_readings: int | None = None,
    future_skew: timedelta | None = None,
) -> ParsedBatch:
    """Validate CSV text with header ``time,value,unit`` (any order); index = line number."""
    if not isinstance(text, str):
        raise BatchError("CSV readings must be text")
    max_readings = policy().max_readings_per_batch if max_readings is None else max_readings
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    validator = _Validator(now, future_skew)
    try:
        header = [name.strip() for name in next(reader, [])]
        if sorted(header) != sorted(FIELDS):
            raise BatchError(f"CSV header must be time,value,unit, not {','.join(header)!r}")
        count, line = 0, reader.line_num
        for row in reader:
            index, line = line + 1, reader.line_num  # a quoted field may span lines
            if not row:
                continue
            count += 1
            if count > max_readings:
                raise TooManyReadings(f"more than {max_readings} readings in one CSV batch")
            if len(row) != len(header):
                message = f"expected {len(header)} fields, got {len(row)}"
                validator.rejected.append(Rejection(index, None, "wrong_field_count", message))
                continue
            fields = (field.strip() for field in row)  # CSV writers often pad after commas
            validator.add(index, dict(zip(header, fields, strict=True)), text_values=True)
    except csv.Error as exc:
        raise BatchError(f"malformed CSV near line {reader.line_num}: {exc}") from exc
    return validator.batch()


def parse_mqtt_payload(
    payload: bytes,
    *,
    now: datetime,
    max_readings: int | None = None,
    future_skew: timedelta | None = None,
) -> ParsedBatch:
    """Validate an MQTT message: UTF-8 JSON, one reading object or an array of them.

    Anything that is not such a payload raises BatchError, never another exception.
    """
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise BatchError(f"MQTT payload must be bytes, not {type(payload).__name__}")
    try:
        data: Any = json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BatchError(f"MQTT payload is not UTF-8 JSON: {exc}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise BatchError(f"MQTT payload must be a reading object or an array, not {data!r:.40}")
    return parse_json_readings(data, now=now, max_readings=max_readings, future_skew=future_skew)
