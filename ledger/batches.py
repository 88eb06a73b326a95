"""Batches of small records anchored by one entry: the batch's own RFC 9162 tree.

A record is bytes, or a mapping encoded as canonical JSON of its json_value. The batch entry's
payload carries {"batch": {"size": n, "root": base64 root}}; one record is then proven by two
RFC 9162 inclusion proofs: record -> batch root (RecordProof) and batch entry -> log.

The batch tree is hashed here with hashlib (leaf = SHA-256(0x00 || d), node = SHA-256(0x01 ||
left || right)), level by level: pairing neighbours and carrying a level's odd last node up
unchanged builds exactly the RFC 9162 tree (whose left subtree is the largest power of two below
n), with a fraction of pymerkle's per-leaf cost. tests/ledger/test_batches.py holds it to
pymerkle and to the RFC 9162 / RFC 6962 test vectors.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ledger.canonical import NotCanonicalisable, canonical_json, json_value
from ledger.errors import InvalidEvent, UnknownIndex
from ledger.verify_proof import leaf_hash, verify_inclusion

if TYPE_CHECKING:
    from sqlmodel import Session

    from ledger.events import Entry, Event

BATCH_FIELD = "batch"

Record = bytes | Mapping[str, Any]

_sha256 = hashlib.sha256
_LEAF, _NODE = b"\x00", b"\x01"  # RFC 9162 2.1.1 domain separation


@dataclass(frozen=True, slots=True)
class RecordProof:
    """Inclusion of record `index` (0-based) in a batch of `size` records with root `root`."""

    record: bytes
    index: int
    size: int
    path: list[bytes]
    root: bytes

    def verify(self) -> None:
        """Raise InvalidProof unless the record is included under `root`."""
        verify_inclusion(leaf_hash(self.record), self.index, self.size, self.path, self.root)

    def to_json(self) -> dict[str, Any]:
        """The `record` part of a proof bundle (base64 hashes)."""
        b64 = base64.b64encode
        return {
            "data": b64(self.record).decode(),
            "index": self.index,
            "batch_size": self.size,
            "batch_root": b64(self.root).decode(),
            "inclusion_proof": [b64(h).decode() for h in self.path],
        }


def record_bytes(record: Record) -> bytes:
    """The bytes a record is hashed as: itself if bytes, else its canonical JSON."""
    if isinstance(record, bytes):
        return record
    try:
        return canonical_json(json_value(record))
    except NotCanonicalisable as exc:
        raise InvalidEvent(f"batch record has no canonical JSON form: {exc}") from exc


def _leaf_hashes(records: Sequence[Record]) -> list[bytes]:
    if not records:
        raise InvalidEvent("a batch needs at least one record")
    leaf = _LEAF
    return [_sha256(leaf + record_bytes(r)).digest() for r in records]


def _parents(level: list[bytes]) -> list[bytes]:
    """The level above: neighbours hashed in pairs, an odd last node carried up as it is."""
    node = _NODE
    parents = [
        _sha256(node + left + right).digest()
        for left, right in zip(level[::2], level[1::2], strict=False)
    ]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


def _levels(records: Sequence[Record]) -> list[list[bytes]]:
    """Every level of the batch tree, leaf hashes first, the root's one-element level last."""
    levels = [_leaf_hashes(records)]
    while len(levels[-1]) > 1:
        levels.append(_parents(levels[-1]))
    return levels


def batch_root(records: Sequence[Record]) -> bytes:
    """RFC 9162 root hash over the records in order."""
    level = _leaf_hashes(records)
    while len(level) > 1:
        level = _parents(level)
    return level[0]


def batch_summary(records: Sequence[Record]) -> dict[str, Any]:
    """The {"size", "root"} object a batch entry's payload carries."""
    return {"size": len(records), "root": base64.b64encode(batch_root(records)).decode()}


def prove_record(records: Sequence[Record], index: int) -> RecordProof:
    """Inclusion proof of records[index] in the batch (the records as appended, same order)."""
    if not 0 <= index < len(records):
        raise UnknownIndex(f"record {index} is not in a batch of {len(records)}")
    levels = _levels(records)
    path = []
    position = index
    for level in levels[:-1]:
        sibling = position ^ 1
        if sibling < len(level):  # a carried-up last node has no sibling on this level
            path.append(level[sibling])
        position >>= 1
    return RecordProof(
        record=record_bytes(records[index]),
        index=index,
        size=len(records),
        path=path,
        root=levels[-1][0],
    )


def batch_event(event: Event, records: Sequence[Record]) -> Event:
    """`event` with `batch: {"size", "root"}` over the records added to its payload."""
    if BATCH_FIELD in event.payload:
        raise InvalidEvent(f"payload field {BATCH_FIELD!r} is reserved for the batch root")
    return replace(event, payload={**event.payload, BATCH_FIELD: batch_summary(records)})


def append_batches(
    session: Session, batches: Sequence[tuple[Event, Sequence[Record]]]
) -> list[Entry]:
    """Append one batch entry per (event, records), in order, in ONE ledger write (one head
    lock): each entry is the one `append_batch(session, event, records)` would write (same
    payload and batch root), with contiguous indexes. Raises InvalidEvent, appending nothing,
    if a payload already has a `batch` field or a batch is empty."""
    from ledger.store import append_many  # late: ledger.store imports this module

    return append_many(session, [batch_event(event, records) for event, records in batches])
