"""Batches of small records anchored by one entry: the batch's own RFC 9162 tree (pymerkle).

A record is bytes, or a mapping encoded as canonical JSON of its json_value. The batch entry's
payload carries {"batch": {"size": n, "root": base64 root}}; one record is then proven by two
RFC 9162 inclusion proofs: record -> batch root (RecordProof) and batch entry -> log.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pymerkle import InmemoryTree

from ledger.canonical import NotCanonicalisable, canonical_json, json_value
from ledger.errors import InvalidEvent, UnknownIndex
from ledger.verify_proof import leaf_hash, verify_inclusion

BATCH_FIELD = "batch"

Record = bytes | Mapping[str, Any]


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


def _tree(records: Sequence[Record]) -> InmemoryTree:
    if not records:
        raise InvalidEvent("a batch needs at least one record")
    return InmemoryTree.init_from_entries([record_bytes(r) for r in records])


def batch_root(records: Sequence[Record]) -> bytes:
    """RFC 9162 root hash over the records in order."""
    return _tree(records).get_root()


def batch_summary(records: Sequence[Record]) -> dict[str, Any]:
    """The {"size", "root"} object a batch entry's payload carries."""
    return {"size": len(records), "root": base64.b64encode(batch_root(records)).decode()}


def prove_record(records: Sequence[Record], index: int) -> RecordProof:
    """Inclusion proof of records[index] in the batch (the records as appended, same order)."""
    if not 0 <= index < len(records):
        raise UnknownIndex(f"record {index} is not in a batch of {len(records)}")
    tree = _tree(records)
    proof = tree.prove_inclusion(index + 1)  # pymerkle counts leaves from 1
    return RecordProof(
        record=record_bytes(records[index]),
        index=index,
        size=len(records),
        path=list(proof.path[1:]),  # pymerkle's path starts with the leaf itself
        root=tree.get_root(),
    )
