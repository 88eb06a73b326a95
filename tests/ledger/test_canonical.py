"""Canonical JSON: every encoder path (orjson on plain values, orjson on a normalised copy, the
rfc8785 package) equals the rfc8785 reference; values normalise predictably."""

from __future__ import annotations

import enum
import math
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import (
    NotCanonicalisable,
    canonical_json,
    is_plain,
    json_value,
    plain_json_many,
)

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


@pytest.mark.parametrize(
    "bad", [float("nan"), float("inf"), 2**53, {"k": object()}, "\ud800", {"\ud800": 1}]
)
def test_values_without_a_canonical_form_are_refused(bad: Any) -> None:
    with pytest.raises(NotCanonicalisable):
        canonical_json(bad)


class Colour(enum.Enum):
    RED = "red"


class _Count(int):
    """An int subclass (orjson would encode it natively; json_value makes it an int)."""


class _Name(str):
    def __str__(self) -> str:
        return "not the content"


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


# floats where orjson's notation or digits could part from ECMAScript's: integral values, the
# plain/exponent thresholds of both (1e-6, 1e-5, 1e-4, 1e16, 1e21), signed zero, subnormals
EDGE_FLOATS = [
    0.0,
    -0.0,
    1.0,
    -4.0,
    2.0**52 + 0.5,
    2.0**53,
    1e15 + 0.3,
    1e16,
    1e21,
    1e22,
    9.999999999999999e15,
    1e-4,
    9.9e-5,
    1e-5,
    9.99e-6,
    1e-6,
    9.99e-7,
    1e-7,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    0.1 + 0.2,
    4.35,
    123456789.12345679,
]
edge_floats = st.sampled_from(EDGE_FLOATS).flatmap(
    lambda x: st.sampled_from([x, -x, math.nextafter(x, math.inf), math.nextafter(x, -math.inf)])
)
edge_scalars = (
    edge_floats
    | st.sampled_from([float("nan"), float("inf"), -float("inf")])
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.integers(min_value=SAFE - 2, max_value=SAFE + 2).flatmap(
        lambda n: st.sampled_from([n, -n])
    )
    # control characters, DEL, U+2028, BMP private use (sorts above surrogates), lone surrogates
    | st.text(st.sampled_from('\x00\x08\t\n\x0c\r\x1f\x7f"\\/\u2028\ue000\ufb33\U0001f600\ud800'))
)
edge_keys = st.text(st.sampled_from('a\x00"\\\u2028\ue000\ufb33\U0001f600\U00010000'), max_size=3)
edge_values = st.recursive(
    scalars | edge_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(keys | edge_keys, inner, max_size=5)
    ),
    max_leaves=16,
)


@settings(max_examples=200, deadline=None)
@given(edge_values)
def test_canonical_json_equals_rfc8785_at_the_edges_of_every_path(value: Any) -> None:
    expected = _reference(json_value(value))
    if expected is NotCanonicalisable:
        with pytest.raises(NotCanonicalisable):
            canonical_json(value)
    else:
        assert canonical_json(value) == expected


@settings(max_examples=150, deadline=None)
@given(edge_values)
def test_plain_values_encode_by_orjson_exactly_as_rfc8785(value: Any) -> None:
    if not is_plain(value):
        return
    expected = _reference(value)
    if expected is NotCanonicalisable:
        assert plain_json_many([value]) is None  # refused: the caller goes one by one
        with pytest.raises(NotCanonicalisable):
            canonical_json(value)
    else:
        assert plain_json_many([value, value]) == [expected, expected]


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-4, max_value=1e16, exclude_max=True).filter(lambda x: x % 1 != 0))
def test_orjson_prints_plain_range_floats_like_ecmascript(number: float) -> None:
    assert is_plain([number, -number])
    assert plain_json_many([[number, -number]]) == [rfc8785.dumps([number, -number])]


@pytest.mark.parametrize(
    "value",
    [
        4.0,
        -0.0,
        1e16,
        1e-5,
        float("nan"),
        float("inf"),
        {"k": 2.0},
        [0.5, 3.0],
        {"\U0001f600": 1},
        {1: "a"},
        {Colour.RED: 1},
        Colour.RED,
        uuid.UUID(int=1),
        Decimal("1.5"),
        datetime(2025, 1, 1, tzinfo=UTC),
        b"x",
        _Count(7),
        _Name("n"),
        {"nested": {"deeper": [1, {"x": 1e300}]}},
    ],
    ids=repr,
)
def test_values_orjson_could_encode_differently_are_not_plain(value: Any) -> None:
    assert not is_plain(value)


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [True, None, "x"], "c": {"d": 0.5}},
        ("t", 1),
        {"\ufb33": 1, "é": 2},
        [2**53 - 1, -(2**53 - 1), 0.0001, 2.0**52 - 0.5],
    ],
)
def test_ordinary_values_are_plain(value: Any) -> None:
    assert is_plain(value)
    assert canonical_json(value) == rfc8785.dumps(json_value(value))


def test_domain_types_inside_values_take_the_normalising_path() -> None:
    value = {
        "at": datetime(2025, 3, 1, 8, 30, tzinfo=UTC),
        "colour": Colour.RED,
        "money": Decimal("1.50"),
        "count": _Count(3),
        "name": _Name("x"),
        "whole": 21.0,
        "pair": (1, 2.5),
    }
    assert not is_plain(value)
    assert canonical_json(value) == rfc8785.dumps(json_value(value))
