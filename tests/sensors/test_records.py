"""Reading records: the bytes hashed into a batch tree equal the ledger's canonical JSON."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger
from sensors.records import (
    batch_records,
    from_micros,
    reading_record,
    rfc3339_micros,
    to_micros,
)

micros = st.integers(min_value=-62_135_596_800_000_000, max_value=253_402_300_799_999_999)
celsius = st.floats(min_value=-60, max_value=150, allow_nan=False) | st.sampled_from(
    [0.0, -0.0, 1e-5, 1e-4, 4.0, 150.0, -60.0, 1 / 3]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(micros, celsius), min_size=1, max_size=5))
def test_batch_records_are_the_canonical_json_of_each_reading(pairs):
    times, values = [t for t, _ in pairs], [c for _, c in pairs]
    expected = [
        ledger.record_bytes({"celsius": c, "device": "probe-1", "time": from_micros(t)})
        for t, c in pairs
    ]
    assert batch_records("probe-1", times, values) == expected
    assert [reading_record("probe-1", t, c) for t, c in pairs] == expected


def test_non_ascii_device_ids_take_the_canonical_path():
    got = batch_records("探针-1", [0], [4.5])
    assert got == [
        ledger.record_bytes(
            {"celsius": 4.5, "device": "探针-1", "time": "1970-01-01T00:00:00.000000Z"}
        )
    ]


@given(micros)
def test_micros_round_trip_exactly(value):
    assert to_micros(from_micros(value)) == value
    assert rfc3339_micros(value) == ledger.canonical.rfc3339(from_micros(value))


def test_to_micros_of_an_offset_time_is_its_utc_instant():
    local = datetime(2025, 3, 2, 3, 30, 0, 250, tzinfo=timezone(timedelta(hours=8)))
    assert to_micros(local) == 1_740_857_400_000_250
    with pytest.raises(ValueError):
        to_micros(datetime(2025, 3, 1))
