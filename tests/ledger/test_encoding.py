"""encode_many: a batch mixing plain events, personal ones and ones with datetimes encodes each
event to exactly the bytes and leaf hash encode() gives it on its own."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from ledger.events import Event, InvalidEvent, encode, encode_many

TS = "2026-11-23T08:00:00Z"
AT = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def mixed() -> list[Event]:
    return [
        Event("t.plain", {"n": 1, "s": "a"}, actor="u:1", subject={"x": 1}),
        Event("t.when", {"at": AT, "n": 2.0}, actor="u:1", subject={"x": 2}),
        Event("t.personal", {"room": "301", "n": 3}, actor="u:1", subject={}, personal={"room"}),
        Event("t.plain", {"n": 4, "zh": "生菜"}, actor="u:2", subject={"x": 4}, ts=AT),
    ]


def test_a_mixed_batch_encodes_each_event_as_encode_does_in_order():
    events = mixed()
    batch = encode_many(events, ts=TS)
    assert list(batch.types) == [e.type for e in events]
    for i, event in enumerate(events):
        alone = encode(event, ts=TS)
        if event.personal:  # a fresh salt each time: same shape, salt kept for the entry
            assert batch.salts[i] is not None and alone[3] is not None
            assert b'"payload_digest"' in batch.datas[i]
        else:
            assert batch.datas[i] == alone[1] and batch.salts[i] is None
        assert batch.leaves[i] == hashlib.sha256(b"\x00" + batch.datas[i]).digest()
    assert b'"at":"2026-03-01T12:30:00.000000Z"' in batch.datas[1]
    assert b'"n":2' in batch.datas[1]  # integral floats as integers (RFC 8785)


def test_an_invalid_event_anywhere_in_a_batch_is_refused():
    events = [*mixed(), Event("", {}, actor="u:1", subject={})]
    with pytest.raises(InvalidEvent):
        encode_many(events, ts=TS)


def test_an_empty_batch_encodes_to_nothing():
    assert len(encode_many([], ts=TS)) == 0
