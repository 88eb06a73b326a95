"""Records anchored in chunks: the same bytes and roots as the ledger's own batch functions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger
from ledger.canonical import canonical_json
from trace.anchoring import chunked, record_bytes, records_of, records_root

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1),  # the ledger refuses others
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(values, min_size=1, max_size=6), min_size=1, max_size=5))
def test_records_are_the_canonical_json_of_their_values(rows):
    expected = [canonical_json(list(row)) for row in rows]
    assert [record_bytes(row) for row in rows] == expected
    width = len(rows[0])
    same_width = [row for row in rows if len(row) == width]
    assert records_of(same_width) == [canonical_json(list(row)) for row in same_width]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 1000])
def test_root_equals_the_ledgers_batch_root(size):
    records = [f"record {i}".encode() for i in range(size)]
    assert records_root(records) == ledger.batch_root(records)


def test_a_record_is_provable_against_the_anchored_root():
    rows = [[i, "LET", 2.5, datetime(2025, 3, 1, tzinfo=UTC), date(2025, 3, 8)] for i in range(9)]
    records = records_of(rows)
    proof = ledger.prove_record(records, 4)
    assert proof.root == records_root(records)
    proof.verify()


def test_integral_floats_are_written_as_integers_like_rfc_8785():
    assert records_of([[1, 20.0, 2.5]]) == [b"[1,20,2.5]"]


def test_chunks_cover_every_index_once():
    parts = list(chunked(2501, 1000))
    assert [len(p) for p in parts] == [1000, 1000, 501]
    assert [i for p in parts for i in p] == list(range(2501))
