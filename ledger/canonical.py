"""RFC 8785 (JSON Canonicalization Scheme) bytes for ledger envelopes, and the value normaliser.

`canonical_json(value)` encodes `json_value(value)`: datetimes, Decimals, UUIDs, Enums and bytes
become strings first (see json_value), so domain values can be passed as they are.

The bytes come from the compiled `orjson` encoder whenever its output provably equals RFC 8785,
that is for *plain* values (`is_plain`): exact dicts whose keys are str in the Basic Multilingual
Plane, lists, tuples, str, int, bool, None, and non-integral floats of magnitude in [1e-4, 1e16).
For these, OPT_SORT_KEYS orders keys as RFC 8785 does (UTF-8 byte order equals UTF-16 code-unit
order when no key needs a surrogate pair), orjson escapes exactly what ECMAScript's JSON.stringify
escapes (", \\ and control characters, lowercase \\u00xx), OPT_STRICT_INTEGER refuses integers a
JSON number cannot hold, and its shortest round-trip digits in plain notation are ECMAScript's
Number::toString. Other values are first normalised by `_fast` (integral floats to ints,
datetimes to strings, ...) into a plain copy; what even that cannot make plain (non-ASCII keys,
tiny or huge floats, unsafe integers, lone surrogates) goes to the pure-Python `rfc8785` package.
A hypothesis test checks that every path agrees with `rfc8785`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import Any
from uuid import UUID

import orjson
import rfc8785

MAX_SAFE_INTEGER = 2**53 - 1  # RFC 8785 3.2.2.3: JSON numbers are IEEE 754 doubles
# orjson prints floats in plain notation for magnitudes in [1e-5, 1e16), ECMAScript in
# [1e-6, 1e21): inside both (and non-integral, since ECMAScript prints 4.0 as "4") they agree
_PLAIN_FLOAT_LOW, _PLAIN_FLOAT_HIGH = 1e-4, 1e16
_BMP_MAX = "\uffff"
# passthrough: datetimes, dataclasses and str/int/dict/list subclasses are refused (TypeError)
# rather than encoded in orjson's own way; is_plain keeps them out anyway
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_STRICT_INTEGER
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
_dumps_plain = partial(orjson.dumps, option=_ORJSON_OPTIONS)
_view: Callable[[bytes], memoryview] = memoryview
_tobytes = memoryview.tobytes


class NotCanonicalisable(ValueError):
    """The value has no RFC 8785 form (unsupported type, NaN, integer beyond 2**53, ...)."""


class NeedsSlowPath(Exception):
    """orjson's output for this value might differ from RFC 8785: use the rfc8785 package."""


def is_plain(value: Any) -> bool:
    """True if orjson encodes `value` exactly as RFC 8785 does (see the module docstring), or
    refuses it (integers beyond 2**53, lone surrogates), so that orjson may encode it."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or max(key) <= _BMP_MAX):
                return False
            kind = type(item)
            if kind is str or kind is int or kind is bool or item is None:
                continue  # the common case, inline: a call per value costs more than the check
            if kind is float:
                if item.is_integer() or not _PLAIN_FLOAT_LOW <= abs(item) < _PLAIN_FLOAT_HIGH:
                    return False
            elif not is_plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(map(is_plain, value))
    if kind is float:
        return not value.is_integer() and _PLAIN_FLOAT_LOW <= abs(value) < _PLAIN_FLOAT_HIGH
    return kind is str or kind is int or kind is bool or value is None


def _orjson(value: Any) -> bytes | None:
    """orjson's bytes for a plain value, or None when it refuses it."""
    try:
        # a copy: orjson's result keeps an oversized buffer, and holding a thousand of them
        # (one transaction's entries) faults in fresh memory pages for every entry
        return _tobytes(_view(_dumps_plain(value)))
    except orjson.JSONEncodeError:  # an unsafe integer, a lone surrogate, deep nesting
        return None


def plain_json_many(values: Iterable[Any]) -> list[bytes] | None:
    """RFC 8785 bytes of each value, all plain (`is_plain`, checked by the caller), iterating
    in C; None if orjson refuses one of them (encode them one by one with canonical_json)."""
    try:
        return list(map(_tobytes, map(_view, map(_dumps_plain, values))))
    except orjson.JSONEncodeError:
        return None


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of json_value(value).

    Raises NotCanonicalisable for values without a JSON form (NaN, huge ints, other types).
    """
    try:
        data = _orjson(value if is_plain(value) else _fast(value))
    except NeedsSlowPath:
        data = None
    if data is not None:
        return data
    try:
        return rfc8785.dumps(json_value(value))
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:  # a lone surrogate key
        raise NotCanonicalisable(str(exc)) from exc


def _fast(value: Any) -> Any:
    """json_value(value) as a plain value (integral floats as ints), or NeedsSlowPath if it
    cannot be one (non-ASCII keys, unsafe numbers). Scalars in dicts are handled inline."""
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
