"""Validation of incoming readings: JSON arrays, CSV text and MQTT payloads."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.readings import (
    CLOCK_SKEW,
    DUPLICATE_IN_BATCH,
    BatchError,
    parse_csv_readings,
    parse_json_readings,
    parse_mqtt_payload,
    parse_rfc3339,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def item(time: object = "2025-03-01T11:00:00Z", value: object = 4.5, unit: object = "CEL"):
    return {"time": time, "value": value, "unit": unit}


def reasons(batch) -> list[tuple[int, str | None, str]]:
    return [(r.index, r.field, r.reason) for r in batch.rejected]


# --- good readings ------------------------------------------------------------------------


def test_good_readings_are_accepted_in_order_and_normalised_to_utc():
    batch = parse_json_readings(
        [item("2025-03-01T19:00:00+08:00", 4.5), item("2025-03-01T05:30:00.25-06:00", 70)],
        now=NOW,
    )
    assert [(r.index, r.time_utc, r.celsius) for r in batch.accepted] == [
        (0, datetime(2025, 3, 1, 11, 0, tzinfo=UTC), 4.5),
        (1, datetime(2025, 3, 1, 11, 30, 0, 250_000, tzinfo=UTC), 70.0),
    ]
    assert all(r.time_utc.utcoffset() == timedelta(0) for r in batch.accepted)
    assert (batch.rejected, batch.flagged, batch.duplicates) == ((), (), ())


@pytest.mark.parametrize(
    ("fahrenheit", "celsius"),
    [(32, 0.0), (212, 100.0), (-40, -40.0), (41, 5.0), (98.6, 37.0), (135, 57 + 2 / 9)],
)
def test_fahrenheit_is_converted_to_celsius(fahrenheit, celsius):
    (reading,) = parse_json_readings([item(value=fahrenheit, unit="FAH")], now=NOW).accepted
    assert reading.celsius == pytest.approx(celsius, abs=1e-12)
    assert (reading.original_value, reading.original_unit) == (fahrenheit, "FAH")


def test_fahrenheit_conversion_is_exactly_rounded():
    # 98.6 °F is 37 °C; the naive float formula lands one ulp short of it.
    (reading,) = parse_json_readings([item(value=98.6, unit="FAH")], now=NOW).accepted
    assert reading.celsius == 37.0


def test_rfc3339_variants_are_accepted():
    assert parse_rfc3339("2025-03-01t11:00:00z") == datetime(2025, 3, 1, 11, tzinfo=UTC)
    assert parse_rfc3339("2025-03-01 11:00:00-00:00") == datetime(2025, 3, 1, 11, tzinfo=UTC)
    nanos = parse_rfc3339("2025-03-01T11:00:00.123456789+01:00")
    assert nanos == datetime(2025, 3, 1, 10, 0, 0, 123_456, tzinfo=UTC)  # truncated to µs


# --- bad readings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        ("not an object", None, "not_an_object"),
        (["2025-03-01T11:00:00Z", 4.5, "CEL"], None, "not_an_object"),
        ({"time": "2025-03-01T11:00:00Z", "value": 4.5}, "unit", "missing_key"),
        (item() | {"sensor": "x"}, "sensor", "unknown_key"),
        (item(time="2025-03-01T11:00:00"), "time", "naive_time"),
        (item(time="2025-03-01 11:00"), "time", "bad_time"),
        (item(time="2025-02-30T11:00:00Z"), "time", "bad_time"),
        (item(time="2025-03-01T24:00:00Z"), "time", "bad_time"),
        (item(time="2025-03-01T11:00:00+24:00"), "time", "bad_time"),
        (item(time="2025-03-01T11:00:00+01:60"), "time", "bad_time"),
        (item(time="20250301T110000Z"), "time", "bad_time"),
        (item(time="２０２５-03-01T11:00:00Z"), "time", "bad_time"),  # full-width digits
        (item(time=1740826800), "time", "bad_time"),
        (item(time="0001-01-01T00:00:00+01:00"), "time", "bad_time"),
        (item(value=True), "value", "not_a_number"),
        (item(value="4.5"), "value", "not_a_number"),
        (item(value=None), "value", "not_a_number"),
        (item(value=float("nan")), "value", "not_finite"),
        (item(value=float("inf")), "value", "not_finite"),
        (item(value=10**400), "value", "not_finite"),
        (item(unit="K"), "unit", "unknown_unit"),
        (item(unit="cel"), "unit", "unknown_unit"),
        (item(unit=None), "unit", "unknown_unit"),
        (item(value=150.01), "value", "physically_impossible"),
        (item(value=-60.01), "value", "physically_impossible"),
        (item(value=302.1, unit="FAH"), "value", "physically_impossible"),
    ],
)
def test_each_bad_reading_is_rejected_naming_its_field(bad, field, reason):
    batch = parse_json_readings([item(), bad], now=NOW)
    assert reasons(batch) == [(1, field, reason)]
    assert [r.index for r in batch.accepted] == [0]


def test_rejection_messages_name_the_offending_key_and_unit():
    batch = parse_json_readings([item(unit="KEL") | {"probe": 2}], now=NOW)
    messages = " ".join(r.message for r in batch.rejected)
    assert "'probe'" in messages
    assert "'KEL'" in messages


def test_every_problem_of_one_reading_is_reported():
    batch = parse_json_readings([{"time": "yesterday", "value": False, "extra": 1}], now=NOW)
    assert sorted(reasons(batch), key=str) == sorted(
        [
            (0, "extra", "unknown_key"),
            (0, "unit", "missing_key"),
            (0, "time", "bad_time"),
            (0, "value", "not_a_number"),
        ],
        key=str,
    )


def test_physical_limits_themselves_are_accepted_in_both_units():
    batch = parse_json_readings(
        [
            item(value=150),
            item("2025-03-01T11:01:00Z", -60),
            item("2025-03-01T11:02:00Z", -76, "FAH"),
        ],
        now=NOW,
    )
    assert [r.celsius for r in batch.accepted] == [150.0, -60.0, -60.0]


# --- duplicates and clock skew ------------------------------------------------------------


def test_in_batch_duplicate_instants_keep_the_first_and_are_reported():
    batch = parse_json_readings(
        [
            item("2025-03-01T11:00:00Z", 4.0),
            item("2025-03-01T19:00:00+08:00", 9.0),  # the same instant written differently
            item("2025-03-01T11:01:00Z", 4.2),
        ],
        now=NOW,
    )
    assert [(r.index, r.celsius) for r in batch.accepted] == [(0, 4.0), (2, 4.2)]
    assert [(n.index, n.code) for n in batch.duplicates] == [(1, DUPLICATE_IN_BATCH)]
    assert batch.rejected == ()


def test_a_rejected_reading_does_not_shadow_a_later_good_one_at_the_same_time():
    batch = parse_json_readings([item(value="hot"), item(value=4.0)], now=NOW)
    assert [r.index for r in batch.accepted] == [1]
    assert batch.duplicates == ()


def test_future_times_beyond_the_skew_are_accepted_but_flagged():
    skew = timedelta(minutes=5)
    at_limit = (NOW + skew).isoformat()
    beyond = (NOW + skew + timedelta(seconds=1)).isoformat()
    batch = parse_json_readings([item(at_limit), item(beyond)], now=NOW, future_skew=skew)
    assert [r.flags for r in batch.accepted] == [(), (CLOCK_SKEW,)]
    assert [(n.index, n.code) for n in batch.flagged] == [(1, CLOCK_SKEW)]


# --- whole-batch errors -------------------------------------------------------------------


@pytest.mark.parametrize("payload", [{"readings": []}, "[]", None, (item(),)])
def test_a_payload_that_is_not_a_list_is_a_batch_error(payload):
    with pytest.raises(BatchError, match="array"):
        parse_json_readings(payload, now=NOW)


def test_max_readings_is_allowed_and_one_more_is_a_batch_error():
    times = [(NOW - timedelta(seconds=s)).isoformat() for s in range(4)]
    assert (
        len(parse_json_readings([item(t) for t in times[:3]], now=NOW, max_readings=3).accepted)
        == 3
    )
    with pytest.raises(BatchError, match="limit is 3"):
        parse_json_readings([item(t) for t in times], now=NOW, max_readings=3)


def test_now_must_be_timezone_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_json_readings([], now=NOW.replace(tzinfo=None))


# --- CSV ----------------------------------------------------------------------------------


def test_csv_rows_are_validated_with_line_numbers_as_index():
    text = (
        "\ufefftime, value ,unit\r\n"
        "2025-03-01T11:00:00Z, 4.5 ,CEL\r\n"
        "\r\n"
        "2025-03-01T11:01:00Z,41,FAH\r\n"
        "2025-03-01T11:02:00Z,nan,CEL\r\n"
        "2025-03-01T11:03:00Z,4.5\r\n"
        '"2025-03-01T11:04:00Z","1_000",CEL\r\n'
    )
    batch = parse_csv_readings(text, now=NOW)
    assert [(r.index, r.celsius) for r in batch.accepted] == [(2, 4.5), (4, 5.0)]
    assert reasons(batch) == [
        (5, "value", "not_a_number"),
        (6, None, "wrong_field_count"),
        (7, "value", "not_a_number"),
    ]


def test_csv_columns_may_come_in_any_order():
    batch = parse_csv_readings("unit,time,value\nCEL,2025-03-01T11:00:00Z,-20\n", now=NOW)
    assert [r.celsius for r in batch.accepted] == [-20.0]


def test_csv_line_numbers_count_quoted_line_breaks():
    text = 'time,value,unit\n"2025-03-01T11:00:00Z",4,"C\nEL"\n2025-03-01T11:01:00Z,4,K\n'
    batch = parse_csv_readings(text, now=NOW)
    assert reasons(batch) == [(2, "unit", "unknown_unit"), (4, "unit", "unknown_unit")]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "time,value\n",
        "time,value,unit,probe\n",
        "when,value,unit\n",
        'time,value,unit\n"x,1,CEL',
    ],
)
def test_a_bad_csv_header_or_malformed_csv_is_a_batch_error(text):
    with pytest.raises(BatchError):
        parse_csv_readings(text, now=NOW)


def test_csv_longer_than_max_readings_is_a_batch_error():
    rows = "".join(f"2025-03-01T11:0{i}:00Z,4,CEL\n" for i in range(3))
    assert (
        len(parse_csv_readings("time,value,unit\n" + rows, now=NOW, max_readings=3).accepted) == 3
    )
    with pytest.raises(BatchError):
        parse_csv_readings("time,value,unit\n" + rows * 2, now=NOW, max_readings=3)


# --- MQTT ---------------------------------------------------------------------------------


def test_mqtt_accepts_one_reading_object_or_an_array():
    one = parse_mqtt_payload(json.dumps(item()).encode(), now=NOW)
    many = parse_mqtt_payload(json.dumps([item(), item(value=5)]).encode(), now=NOW)
    assert [r.celsius for r in one.accepted] == [4.5]
    assert len(many.accepted) == 1
    assert len(many.duplicates) == 1


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xff\xfe{}",
        b"{not json",
        b"42",
        b'"reading"',
        b"[" * 100_000,
        b"1" * 5000,
        "[]",
        b"\xef\xbb\xbf[]",
    ],
)
def test_malformed_mqtt_payloads_are_batch_errors(payload):
    with pytest.raises(BatchError):
        parse_mqtt_payload(payload, now=NOW)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_mqtt_bytes_never_raise_anything_but_batch_error(payload):
    with contextlib.suppress(BatchError):
        parse_mqtt_payload(payload, now=NOW)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
reading_like = st.fixed_dictionaries(
    {},
    optional={
        "time": st.text(max_size=30)
        | st.datetimes(timezones=st.timezones()).map(datetime.isoformat),
        "value": json_values,
        "unit": st.sampled_from(["CEL", "FAH", "K"]) | json_values,
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(reading_like | json_values, max_size=8))
def test_every_item_is_either_accepted_rejected_or_a_duplicate(payload):
    batch = parse_json_readings(payload, now=NOW)
    accounted = {r.index for r in batch.accepted} | {r.index for r in batch.rejected}
    accounted |= {n.index for n in batch.duplicates}
    assert accounted == set(range(len(payload)))
    assert not {r.index for r in batch.accepted} & {r.index for r in batch.rejected}
    for reading in batch.accepted:
        assert reading.time_utc.utcoffset() == timedelta(0)
        assert -60.0 <= reading.celsius <= 150.0


@settings(max_examples=100, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
    ).filter(lambda d: d.utcoffset() is not None and d.utcoffset().seconds % 60 == 0),
    st.sampled_from(["Z", "+hh:mm", "T", " ", "t"]),
    st.integers(min_value=0, max_value=9),
)
def test_the_fast_path_and_the_full_parser_agree(moment, style, digits):
    """Well-formed readings take a C-parser shortcut; it must accept and reject exactly as
    parse_rfc3339 does."""
    offset = moment.utcoffset()
    text = moment.strftime("%Y-%m-%d") + ("t" if style == "t" else " " if style == " " else "T")
    text += moment.strftime("%H:%M:%S") + ("." + "1234567890"[:digits] if digits else "")
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    text += (
        "Z"
        if style == "Z" and minutes == 0
        else f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    )
    try:
        expected = parse_rfc3339(text)
    except ValueError:
        expected = None
    batch = parse_json_readings([{"time": text, "value": 4.0, "unit": "CEL"}], now=NOW)
    got = batch.accepted[0].time_utc if batch.accepted else None
    assert got == expected
