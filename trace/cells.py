"""Parsing one upload cell: formula injection, control characters, numbers, units, times.

Every problem raises `CellError` with a human reason and a stable code; a cell that passes
comes back typed (Decimal, unit code, storage class, `CellTime`, or stripped text).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from math import isfinite
from typing import Any
from zoneinfo import ZoneInfo

from trace.columns import MAX_LENGTH, ColumnType, storage_class_for, unit_for

# OWASP "CSV Injection": cells starting with these may run as formulas in a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)


@dataclass(frozen=True, slots=True)
class CellTime:
    """A parsed date or date-time: the UTC instant, the local date, whether a time was given."""

    at: datetime  # UTC
    local_date: date
    has_time: bool


class CellError(Exception):
    """Why one cell is refused; `code` is stable for programs, `reason` is for people."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def parse_cell(raw: str, kind: ColumnType, zone: ZoneInfo) -> Any:
    """The typed value of one cell (None when blank); raises CellError."""
    if raw.startswith(FORMULA_PREFIXES) and not _NUMBER.fullmatch(raw.strip()):
        raise CellError(
            f"starts with {raw[0]!r} and could run as a spreadsheet formula; "
            "remove the leading character",
            "formula",
        )
    text = raw.strip()
    if not text:
        return None
    if _CONTROL.search(text):
        raise CellError("contains control characters (such as line breaks)", "control_character")
    if len(text) > MAX_LENGTH[kind]:
        raise CellError(f"is longer than {MAX_LENGTH[kind]} characters", "too_long")
    if kind == "number":
        return _parse_number(text)
    if kind == "unit":
        unit = unit_for(text)
        if unit is None:
            raise CellError(f"unknown unit {text!r}", "unknown_unit")
        return unit.code
    if kind == "storage":
        storage = storage_class_for(text)
        if storage is None:
            raise CellError(f"{text!r} is not ambient, chilled or frozen", "unknown_storage")
        return storage
    if kind in ("date", "datetime"):
        value = _parse_time(text, zone)
        if kind == "datetime" and not value.has_time:
            raise CellError("give a time as well, e.g. 2025-03-01T10:45", "time_missing")
        return value
    return text


def _parse_number(text: str) -> Decimal:
    text = unicodedata.normalize("NFKC", text)  # full-width digits typed with a Chinese IME
    if text.casefold().lstrip("+-") in ("nan", "inf", "infinity"):
        raise CellError("must be a finite number", "not_finite")
    if not _NUMBER.fullmatch(text):
        raise CellError(f"{text!r} is not a number", "not_a_number")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise CellError(f"{text!r} is not a number", "not_a_number") from exc
    if not isfinite(float(value)):
        raise CellError("must be a finite number", "not_finite")
    if value <= 0:
        raise CellError("must be greater than 0", "not_positive")
    return value


def _parse_time(text: str, zone: ZoneInfo) -> CellTime:
    if not _DATE_TIME.fullmatch(text):
        raise CellError(
            f"{text!r} is not an ISO date (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][±HH:MM])",
            "bad_date",
        )
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CellError(f"{text!r} is not a real date or time", "bad_date") from exc
    has_time = len(text) > 10
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    local_date = parsed.date() if not has_time else parsed.astimezone(zone).date()
    return CellTime(parsed.astimezone(UTC), local_date, has_time)
