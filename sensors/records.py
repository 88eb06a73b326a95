"""How one stored reading is written down for its batch's RFC 9162 tree, and reading times.

A reading is anchored as the RFC 8785 canonical JSON of
``{"celsius": <°C>, "device": "<device id>", "time": "<RFC 3339 UTC, microseconds>"}`` -
exactly what ``ledger.record_bytes`` makes of that mapping - so a regulator who decodes a
proof's record sees a plain JSON object. Times are stored as integer microseconds since the
Unix epoch (UTC): 8 bytes on both databases, no text to format or parse on the hot path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import ledger

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_ONE_MICROSECOND = timedelta(microseconds=1)
# Floats whose Python repr equals ECMAScript's Number::toString (see ledger/canonical.py).
_PLAIN_LOW, _PLAIN_HIGH = 1e-4, 1e16
_MAX_SAFE_INTEGER = 2**53 - 1
_TWO = [f"{i:02d}" for i in range(60)]  # one format spec per field is slower than a lookup


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch of a timezone-aware datetime (exact)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: reading times are UTC-aware")
    return (moment - EPOCH) // _ONE_MICROSECOND


def from_micros(micros: int) -> datetime:
    """The UTC datetime ``micros`` microseconds after the Unix epoch."""
    return EPOCH + timedelta(microseconds=micros)


def rfc3339_micros(micros: int) -> str:
    """``2025-03-01T08:30:00.000000Z`` for a time in epoch microseconds (the ledger's form)."""
    return (_EPOCH_NAIVE + timedelta(microseconds=micros)).isoformat(timespec="microseconds") + "Z"


def _number(celsius: float) -> str | None:
    """The RFC 8785 form of a float when Python prints it the same way, else None."""
    if celsius.is_integer() and -_MAX_SAFE_INTEGER <= celsius <= _MAX_SAFE_INTEGER:
        return str(int(celsius))  # ECMAScript prints 4.0 as "4" and -0.0 as "0"
    if _PLAIN_LOW <= abs(celsius) < _PLAIN_HIGH:
        return repr(celsius)
    return None


def reading_record(device_id: str, micros: int, celsius: float) -> bytes:
    """The bytes one reading is hashed as in its batch tree (canonical JSON, see module doc)."""
    number = _number(celsius)
    time = rfc3339_micros(micros)
    if number is None or not device_id.isascii():
        record = {"celsius": celsius, "device": device_id, "time": time}
        return ledger.record_bytes(record)
    return f'{{"celsius":{number},"device":{json.dumps(device_id)},"time":"{time}"}}'.encode()


def batch_records(device_id: str, micros: Sequence[int], celsius: Sequence[float]) -> list[bytes]:
    """The records of one batch, in batch order (position i is reading i)."""
    if not device_id.isascii():
        return [reading_record(device_id, t, c) for t, c in zip(micros, celsius, strict=True)]
    device = json.dumps(device_id)
    days: dict[int, str] = {}
    out = []
    for t, c in zip(micros, celsius, strict=True):
        number = _number(c)
        if number is None:
            out.append(reading_record(device_id, t, c))
            continue
        # Arithmetic instead of datetime formatting: this loop runs for every reading.
        seconds, us = divmod(t, 1_000_000)
        day, second = divmod(seconds, 86_400)
        date = days.get(day)
        if date is None:
            date = days[day] = (_EPOCH_NAIVE + timedelta(days=day)).date().isoformat()
        hour, rest = divmod(second, 3600)
        minute, sec = divmod(rest, 60)
        time = f"{date}T{_TWO[hour]}:{_TWO[minute]}:{_TWO[sec]}.{us:06d}Z"
        out.append(f'{{"celsius":{number},"device":{device},"time":"{time}"}}'.encode())
    return out
