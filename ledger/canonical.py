"""RFC 8785 (JSON Canonicalization Scheme) bytes for ledger envelopes, and the value normaliser.

`canonical_json(value)` encodes `json_value(value)`: datetimes, Decimals, UUIDs, Enums and bytes
become strings first (see json_value), so domain values can be passed as they are.

`canonical_json` takes a fast path through the C `json` encoder when its output provably equals
RFC 8785 (ASCII keys, safe integers, floats whose Python repr equals the ECMAScript form) and
falls back to the pure-Python `rfc8785` package otherwise; a hypothesis test checks the two agree.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import rfc8785

MAX_SAFE_INTEGER = 2**53 - 1  # RFC 8785 3.2.2.3: JSON numbers are IEEE 754 doubles
# Python's float repr and ECMAScript's Number::toString both print the shortest round-trip digits
# in plain (non-exponent) notation for magnitudes in [1e-4, 1e16) (Python) and [1e-6, 1e21) (JS)
_PLAIN_FLOAT_LOW, _PLAIN_FLOAT_HIGH = 1e-4, 1e16

try:  # the C encoder, built once: no circular-reference markers, RFC 8785 separators
    from json.encoder import c_encode_basestring, c_make_encoder

    _chunks = c_make_encoder(None, None, c_encode_basestring, None, ":", ",", True, False, False)

    def _encode(value: Any) -> str:
        return "".join(_chunks(value, 0))
except (ImportError, TypeError):  # pragma: no cover - CPython without the _json accelerator
    _encode = json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    ).encode


class NotCanonicalisable(ValueError):
    """The value has no RFC 8785 form (unsupported type, NaN, integer beyond 2**53, ...)."""


class NeedsSlowPath(Exception):
    """The C encoder's output for this value might differ from RFC 8785: use canonical_json."""


def _fast(value: Any) -> Any:
    """json_value(value) with integral floats as ints, or NeedsSlowPath if the C encoder's
    output could differ from RFC 8785. Plain scalars in dicts are handled inline (hot path)."""
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                raise NeedsSlowPath  # UTF-16 key order can differ from code point order
            kind = type(item)
            plain = kind is str or kind is bool or item is None
            if plain or (kind is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER):
                out[key] = item
            else:
                out[key] = _fast(item)
        return out
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        raise NeedsSlowPath
    if kind is float:
        if value.is_integer():
            if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                return int(value)  # ECMAScript prints 4.0 as "4"
            raise NeedsSlowPath
        if _PLAIN_FLOAT_LOW <= abs(value) < _PLAIN_FLOAT_HIGH:
            return value
        raise NeedsSlowPath
    if kind is list or kind is tuple:
        return [_fast(item) for item in value]
    if kind is datetime:
        return rfc3339(value)
    return _fast(json_value(value))


def prepared(value: Any) -> Any:
    """json_value(value) ready for `encode_prepared`; raises NeedsSlowPath when the fast
    encoding could differ from RFC 8785 (non-ASCII keys, unsafe numbers)."""
    return _fast(value)


def encode_prepared(value: Any) -> bytes:
    """Canonical bytes of a dict whose keys are ASCII and whose values went through
    `prepared` (or are str / safe int); UnicodeEncodeError for lone surrogates."""
    return _encode(value).encode("utf-8")


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of json_value(value).

    Raises NotCanonicalisable for values without a JSON form (NaN, huge ints, other types).
    """
    try:
        return _encode(_fast(value)).encode("utf-8")
    except (NeedsSlowPath, UnicodeEncodeError):
        pass
    try:
        return rfc8785.dumps(json_value(value))
    except rfc8785.CanonicalizationError as exc:
        raise NotCanonicalisable(str(exc)) from exc


def rfc3339(moment: datetime) -> str:
    """UTC timestamp with microseconds, e.g. 2025-03-01T08:30:00.000000Z (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # SQLite hands back naive UTC datetimes
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def json_value(value: Any) -> Any:
    """Normalise a Python value to plain JSON types the way entries record it.

    datetime -> RFC 3339 UTC string (naive taken as UTC), date -> ISO date, Decimal and UUID ->
    str, Enum -> its value, bytes -> base64, tuples -> lists, mappings -> dicts with str keys.
    """
    kind = type(value)
    if kind in (str, int, float, bool) or value is None:
        return value
    if isinstance(value, Enum):
        return json_value(value.value)
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, str):
        return str.__str__(value)  # a plain str, whatever the subclass's __str__ says
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonicalisable(f"object key {key!r} is not a string")
            out[str(key)] = json_value(item)
        return out
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    raise NotCanonicalisable(f"{kind.__name__} has no JSON form")
