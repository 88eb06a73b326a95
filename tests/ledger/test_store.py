"""Appending: contiguous indexes, canonical envelopes, personal digests, one transaction."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

import ledger
from ledger import Event
from tests.ledger import reference as ref


def test_appends_get_contiguous_indexes_from_zero(session: Session) -> None:
    first = ledger.append(session, Event("test.one", {"n": 0}))
    more = ledger.append_many(session, [Event("test.many", {"n": n}) for n in range(1, 6)])
    session.commit()
    assert [first.index, *(e.index for e in more)] == [0, 1, 2, 3, 4, 5]
    assert ledger.tree_size(session) == 6


def test_entry_is_the_canonical_envelope_and_its_leaf_hash(session: Session) -> None:
    at = datetime(2025, 3, 1, 16, 30, tzinfo=timezone(timedelta(hours=8)))
    event = Event(
        "order.placed",
        {"items": 3, "note": "不要辣", "celsius": 4.0},
        actor="user:12",
        subject={"order": 7, "merchant": 3},
        ts=at,
        v=2,
    )
    entry = ledger.append(session, event)
    session.commit()
    expected: dict[str, Any] = {
        "type": "order.placed",
        "v": 2,
        "ts": "2025-03-01T08:30:00.000000Z",
        "actor": "user:12",
        "subject": {"order": 7, "merchant": 3},
        "payload": {"items": 3, "note": "不要辣", "celsius": 4},
    }
    assert entry.data == rfc8785.dumps(expected)
    assert entry.leaf_hash == ref.leaf(entry.data)
    assert ledger.entry_at(session, entry.index) == entry


def test_personal_fields_become_salted_digests_and_the_salt_is_erasable(
    session: Session,
) -> None:
    event = Event(
        "complaint.opened",
        {"category": "foreign-object", "phone": "13800000000"},
        subject={"case": 1},
        personal=frozenset({"phone"}),
    )
    entry = ledger.append(session, event)
    session.commit()
    envelope = entry.envelope()
    assert b"13800000000" not in entry.data
    assert envelope["payload"] == {"category": "foreign-object"}
    salt = ledger.salts_of(session, [entry.index])[entry.index]
    message = rfc8785.dumps(["phone", "13800000000"])
    expected = hmac.new(salt, message, hashlib.sha256).hexdigest()
    assert envelope["payload_digest"] == {"phone": expected}
    assert ledger.erase_personal_data(session, [entry.index]) == 1
    session.commit()
    assert ledger.salts_of(session, [entry.index]) == {}
    assert ledger.verify(session).ok


def test_a_rolled_back_transaction_leaves_no_entry(engine: Engine) -> None:
    with Session(engine) as session:
        ledger.append(session, Event("test.kept", {}))
        session.commit()
    with Session(engine) as session:
        ledger.append_many(session, [Event("test.lost", {"n": n}) for n in range(3)])
        session.rollback()
    with Session(engine) as session:
        again = ledger.append(session, Event("test.next", {}))
        session.commit()
        assert again.index == 1
        assert [e.type for e in ledger.entries(session, 0, 10)] == ["test.kept", "test.next"]
        assert ledger.verify(session).ok


def test_domain_row_and_entry_commit_together(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE demo_note (id INTEGER PRIMARY KEY, ledger_index BIGINT)")
    with Session(engine) as session:
        entry = ledger.append(session, Event("note.written", {}, subject={"note": 1}))
        session.execute(text("INSERT INTO demo_note VALUES (1, :i)"), {"i": entry.index})
        session.commit()
    with Session(engine) as session:
        entry = ledger.append(session, Event("note.written", {}, subject={"note": 2}))
        with pytest.raises(IntegrityError):  # the domain write fails: the service rolls back
            session.execute(text("INSERT INTO demo_note VALUES (1, :i)"), {"i": entry.index})
        session.rollback()
    with Session(engine) as session:
        assert ledger.tree_size(session) == 1


def test_unknown_index_is_a_lookup_error(session: Session) -> None:
    ledger.append(session, Event("test.one", {}))
    session.commit()
    with pytest.raises(LookupError):
        ledger.entry_at(session, 1)
    assert ledger.entries(session, 5, 10) == []


@pytest.mark.parametrize(
    "event",
    [
        Event("", {}),
        Event("x" * 121, {}),
        Event("test.v", {}, v=0),
        Event("test.actor", {}, actor=""),
        Event("test.naive", {}, ts=datetime(2025, 1, 1)),
        Event("test.personal", {"a": 1}, personal=frozenset({"b"})),
        Event("test.nan", {"x": float("nan")}),
        Event("test.type", {"x": object()}),
        Event("test.bigint", {"x": 2**60}),
        Event("test.surrogate", {"x": "\ud800"}),
        Event("test.subject", {}, subject={"\ud800": 1}),
    ],
    ids=lambda e: e.type[:12],
)
def test_invalid_events_are_refused_before_anything_is_written(
    session: Session, event: Event
) -> None:
    with pytest.raises(ledger.InvalidEvent):
        ledger.append(session, event)
    assert ledger.tree_size(session) == 0


@pytest.mark.parametrize(
    "bad",
    [Event("test.bigint", {"x": -(2**53)}), Event("test.surrogate", {"x": "a\udfff"})],
    ids=lambda e: e.type,
)
def test_one_invalid_event_refuses_its_whole_batch(session: Session, bad: Event) -> None:
    batch = [Event("test.fine", {"n": n}) for n in range(50)]
    with pytest.raises(ledger.InvalidEvent):
        ledger.append_many(session, [*batch[:20], bad, *batch[20:]])
    assert ledger.tree_size(session) == 0


def test_a_mixed_batch_encodes_every_event_canonically(session: Session) -> None:
    at = datetime(2025, 3, 1, 16, 30, 0, 250, tzinfo=timezone(timedelta(hours=8)))
    events = [
        Event("order.placed", {"items": 3, "note": "不要辣", "celsius": 4.5}, subject={"order": 1}),
        Event("order.placed", {"celsius": 4.0, "paid": None}, actor="user:2", v=3),
        Event("order.delivered", {"at": at, "late": False}, subject={"order": 1, "courier": 7}),
        Event("order.rated", {"stars": [5, 4.5]}, ts=at),
        Event("order.noted", {"é": "\U0001f600", "\ue000": 1, "\U0001f600": 2}),
    ]
    entries = ledger.append_many(session, events)
    session.commit()
    now = entries[0].envelope()["ts"]
    expected: list[dict[str, Any]] = [
        {"payload": {"items": 3, "note": "不要辣", "celsius": 4.5}, "subject": {"order": 1}},
        {"payload": {"celsius": 4, "paid": None}, "actor": "user:2", "v": 3},
        {
            "payload": {"at": "2025-03-01T08:30:00.000250Z", "late": False},
            "subject": {"order": 1, "courier": 7},
        },
        {"payload": {"stars": [5, 4.5]}, "ts": "2025-03-01T08:30:00.000250Z"},
        {"payload": {"é": "\U0001f600", "\ue000": 1, "\U0001f600": 2}},
    ]
    assert [e.index for e in entries] == [0, 1, 2, 3, 4]
    for entry, event, fields in zip(entries, events, expected, strict=True):
        envelope = {"type": event.type, "v": 1, "ts": now, "actor": "system", "subject": {}}
        assert entry.type == event.type
        assert entry.data == rfc8785.dumps({**envelope, **fields})
        assert entry.leaf_hash == ref.leaf(entry.data)
        assert ledger.entry_at(session, entry.index) == entry
    assert ledger.verify(session).ok


def test_a_large_batch_keeps_every_type_and_payload(session: Session) -> None:
    events = [Event(f"test.类型{n % 3}", {"n": n, "half": n / 2 + 0.25}) for n in range(150)]
    entries = ledger.append_many(session, events)
    session.commit()
    stored = ledger.entries(session, 0, 150)
    assert stored == entries
    assert [e.type for e in stored] == [e.type for e in events]
    assert [e.envelope()["payload"] for e in stored] == [e.payload for e in events]


def test_append_time_is_used_when_the_event_has_none(session: Session) -> None:
    before = datetime.now(UTC)
    entry = ledger.append(session, Event("test.now", {}))
    stamp = datetime.fromisoformat(entry.envelope()["ts"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= stamp <= datetime.now(UTC)


def test_batch_entry_anchors_its_records_and_proves_one(
    session: Session, signer: ledger.Signer
) -> None:
    readings = [{"device": 9, "seq": i, "celsius": 3.5 + i / 100} for i in range(1000)]
    ledger.append(session, Event("test.before", {}))
    entry = ledger.append_batch(
        session, Event("sensor.readings", {"device": 9}, subject={"device": 9}), readings
    )
    ledger.checkpoint(session, signer)
    session.commit()
    batch = entry.envelope()["payload"]["batch"]
    leaves = [ref.leaf(ledger.record_bytes(r)) for r in readings]
    assert batch["size"] == 1000
    assert batch["root"] == base64.b64encode(ref.mth(leaves)).decode()
    record = ledger.prove_record(readings, 417)
    bundle = ledger.proof_bundle(session, entry.index, signer.public_key, record=record)
    assert json.loads(ledger.record_bytes(readings[417])) == readings[417]
    assert bundle["record"]["index"] == 417
    with pytest.raises(ledger.LedgerError):
        ledger.proof_bundle(
            session, entry.index, signer.public_key, record=ledger.prove_record(readings[:5], 1)
        )


def test_batch_payload_field_is_reserved(session: Session) -> None:
    with pytest.raises(ledger.InvalidEvent):
        ledger.append_batch(session, Event("sensor.readings", {"batch": 1}), [b"r"])
    with pytest.raises(ledger.InvalidEvent):
        ledger.append_batch(session, Event("sensor.readings", {}), [])
