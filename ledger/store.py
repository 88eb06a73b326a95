"""Appending to the log and reading entries back, inside the caller's transaction.

The sequencer: every append locks the head row (PostgreSQL: SELECT ... FOR UPDATE; SQLite: the
BEGIN IMMEDIATE that app.make_engine issues already holds the database write lock), reads the
size, writes the new rows and the new head. Indexes therefore come out contiguous across threads
and processes; the lock is held until the caller commits or rolls back, so append late in the
transaction and commit soon. The ledger never commits: a rolled-back transaction leaves no entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlmodel import Session

from ledger.batches import BATCH_FIELD, batch_summary
from ledger.canonical import rfc3339
from ledger.errors import InvalidEvent, UnknownIndex
from ledger.events import EncodedEvents, Entry, Event, encode_many, entries_of
from ledger.tree import LedgerTree

_read_entry = text("SELECT idx, type, entry, leaf_hash FROM ledger_entry WHERE idx = :idx")
_read_range = text(
    "SELECT idx, type, entry, leaf_hash FROM ledger_entry "
    "WHERE idx >= :lo AND idx < :hi ORDER BY idx"
)
_insert_salt = text("INSERT INTO ledger_salt (idx, salt) VALUES (:idx, :salt)")
_erase_salts = text("DELETE FROM ledger_salt WHERE idx IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
_read_salts = text("SELECT idx, salt FROM ledger_salt WHERE idx IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


def append(session: Session, event: Event) -> Entry:
    """Append one event in the session's transaction and return its entry (index is final once
    the caller commits). Raises InvalidEvent if the event cannot be encoded."""
    return append_many(session, [event])[0]


def append_many(session: Session, events: Iterable[Event]) -> list[Entry]:
    """Append events in order, with contiguous indexes, in one write; returns their entries."""
    now = rfc3339(datetime.now(UTC))
    encoded = encode_many(events, ts=now)  # before the lock: keep the critical section short
    return _append_encoded(session, encoded)


def append_batch(
    session: Session, event: Event, records: Sequence[bytes | Mapping[str, Any]]
) -> Entry:
    """Append one entry anchoring a batch of small records (e.g. 1,000 temperature readings).

    The entry's payload gains `batch: {"size": n, "root": base64 RFC 9162 root}` over the records
    (bytes as given; mappings as canonical JSON of their json_value). Keep the records and their
    order: `batches.prove_record(records, i)` proves record i against this root.
    """
    if BATCH_FIELD in event.payload:
        raise InvalidEvent(f"payload field {BATCH_FIELD!r} is reserved for the batch root")
    payload = {**event.payload, BATCH_FIELD: batch_summary(records)}
    return append(session, replace(event, payload=payload))


def _append_encoded(session: Session, encoded: EncodedEvents) -> list[Entry]:
    if not len(encoded):
        return []
    conn = session.connection()
    tree = LedgerTree.open(conn, lock=True)
    first = tree.append_leaves(encoded.types, encoded.datas, encoded.leaves)
    if any(encoded.salts):
        salts = [
            {"idx": index, "salt": salt}
            for index, salt in enumerate(encoded.salts, first)
            if salt is not None
        ]
        conn.execute(_insert_salt, salts)
    tree.save_head()
    return entries_of(first, encoded)


def entry_at(session: Session, index: int) -> Entry:
    """The entry at 0-based `index`; raises UnknownIndex if there is none."""
    row = session.connection().execute(_read_entry, {"idx": index}).first()
    if row is None:
        raise UnknownIndex(f"no ledger entry {index}")
    return Entry(int(row[0]), row[1], bytes(row[2]), bytes(row[3]))


def entries(session: Session, start: int, stop: int) -> list[Entry]:
    """Entries with start <= index < stop, in index order (for listings; page with small ranges)."""
    rows = session.connection().execute(_read_range, {"lo": start, "hi": stop})
    return [Entry(int(r[0]), r[1], bytes(r[2]), bytes(r[3])) for r in rows]


def salts_of(session: Session, indexes: Iterable[int]) -> dict[int, bytes]:
    """The personal-data salts still held for the given entries (erased ones are absent)."""
    ids = sorted(set(indexes))
    if not ids:
        return {}
    rows = session.connection().execute(_read_salts, {"ids": ids})
    return {int(idx): bytes(salt) for idx, salt in rows}


def erase_personal_data(session: Session, indexes: Iterable[int]) -> int:
    """Delete the salts of these entries so their personal digests can no longer be linked to
    anyone; erase the clear values in the domain rows in the same transaction. Returns how many
    salts were deleted. The entries themselves stay, and the log still verifies."""
    ids = sorted(set(indexes))
    if not ids:
        return 0
    return session.connection().execute(_erase_salts, {"ids": ids}).rowcount
