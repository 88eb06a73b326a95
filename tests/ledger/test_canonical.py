"""Canonical JSON: the fast path equals the rfc8785 reference; values normalise predictably."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import NotCanonicalisable, canonical_json, json_value

SAFE = 2**53 - 1

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-SAFE, max_value=SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
keys = st.text(max_size=8) | st.sampled_from(["a", "é", "\U0001f600", "\ufb33", "type", "v"])
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)


def _reference(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        return NotCanonicalisable


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_canonical_json_equals_rfc8785_reference(value: Any) -> None:
    expected = _reference(value)
    if expected is NotCanonicalisable:
        with pytest.raises(NotCanonicalisable):
            canonical_json(value)
    else:
        assert canonical_json(value) == expected


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_float_serialises_like_ecmascript(number: float) -> None:
    assert canonical_json([number]) == rfc8785.dumps([number])


@pytest.mark.parametrize(
    "number,text",
    [
        (4.0, "4"),
        (-0.0, "0"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (123.456, "123.456"),
    ],
)
def test_numbers_follow_ecmascript_number_to_string(number: float, text: str) -> None:
    assert canonical_json(number) == text.encode()


def test_keys_sort_by_utf16_code_units_not_code_points() -> None:
    value = {"\ufb33": 1, "\U0001f600": 2}  # U+1F600 is D83D DE00 in UTF-16: sorts first
    assert canonical_json(value) == '{"\U0001f600":2,"\ufb33":1}'.encode()


def test_strings_escape_only_what_rfc8785_escapes() -> None:
    assert canonical_json('a"\\\n\x01é\u2028') == b'"a\\"\\\\\\n\\u0001\xc3\xa9\xe2\x80\xa8"'


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2**53, {"k": object()}, "\ud800"])
def test_values_without_a_canonical_form_are_refused(bad: Any) -> None:
    with pytest.raises(NotCanonicalisable):
        canonical_json(bad)


class Colour(enum.Enum):
    RED = "red"


def test_json_value_normalises_domain_types() -> None:
    shanghai = timezone(timedelta(hours=8))
    ident = uuid.UUID(int=5)
    value = {
        "aware": datetime(2025, 3, 1, 16, 30, tzinfo=shanghai),
        "naive": datetime(2025, 3, 1, 8, 30),
        "day": date(2025, 3, 1),
        "money": Decimal("12.50"),
        "id": ident,
        "colour": Colour.RED,
        "raw": b"\x00\x01",
        "pair": (1, 2),
    }
    assert json_value(value) == {
        "aware": "2025-03-01T08:30:00.000000Z",
        "naive": "2025-03-01T08:30:00.000000Z",
        "day": "2025-03-01",
        "money": "12.50",
        "id": str(ident),
        "colour": "red",
        "raw": "AAE=",
        "pair": [1, 2],
    }
    assert canonical_json(value) == rfc8785.dumps(json_value(value))


def test_canonical_json_of_a_datetime_is_its_utc_string() -> None:
    moment = datetime(2025, 3, 1, 8, 30, 0, 5, tzinfo=UTC)
    assert canonical_json({"at": moment}) == b'{"at":"2025-03-01T08:30:00.000005Z"}'
