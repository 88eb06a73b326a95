"""Proving readings: one reading's two-level proof, and re-checking every stored batch.

A reading is not an entry of the log: its batch is. Proof of one reading = its record's RFC
9162 inclusion in the batch root (rebuilt from the stored rows of the batch, in position
order) + the batch entry's inclusion in the log under a signed checkpoint. `verify_batches`
rebuilds every batch root from the rows, so a reading edited, deleted or slipped into the
table behind the ledger's back is found (`flask --app app sensors verify-readings`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

import ledger
from sensors import store
from sensors.ingest import READINGS_ENTRY
from sensors.models import Device, Reading
from sensors.records import batch_records, from_micros, to_micros


class ReadingNotFound(LookupError):
    """No stored reading with that id."""


class BatchMismatch(ValueError):
    """The stored readings of a batch no longer hash to the root its ledger entry carries."""


@dataclass(frozen=True, slots=True)
class ReadingProof:
    """One reading and its proof to its batch root; the batch entry is `ledger_index`."""

    reading_id: int
    device_id: str
    time: datetime
    celsius: float
    ledger_index: int
    record: ledger.RecordProof


@dataclass(frozen=True, slots=True)
class BatchCheck:
    """Outcome of verify_batches: what was checked and the first problem (None: all good)."""

    batches: int
    readings: int
    problem: str | None

    @property
    def ok(self) -> bool:
        """True when every stored reading hashes to the root of the entry anchoring it."""
        return self.problem is None


def prove_reading(*, session: Session, reading_id: int) -> ReadingProof:
    """The first of the two proofs of one reading: its record's inclusion in its batch.

    The second - the batch entry's inclusion in the log - is ``ledger.proof_bundle(session,
    proof.ledger_index, public_key, record=proof.record)`` (see `reading_bundle`), which
    `ledger/verify_proof.py` checks offline. Raises ReadingNotFound, or BatchMismatch when
    the stored batch was altered.
    """
    row = session.get(Reading, reading_id)
    if row is None:
        raise ReadingNotFound(f"no reading {reading_id}")
    device = session.get(Device, row.device)
    assert device is not None
    records, root = _batch_records(session, device, row.ledger_index)
    if not 0 <= row.position < len(records):
        raise BatchMismatch(f"reading {reading_id} has no place in batch {row.ledger_index}")
    proof = ledger.prove_record(records, row.position)
    if base64.b64encode(proof.root).decode() != root:
        raise BatchMismatch(f"readings of batch entry {row.ledger_index} do not hash to its root")
    return ReadingProof(
        reading_id=reading_id,
        device_id=device.device_id,
        time=from_micros(row.at),
        celsius=row.celsius,
        ledger_index=row.ledger_index,
        record=proof,
    )


def reading_bundle(
    *, session: Session, reading_id: int, signer: ledger.Signer, sign: Callable[[], object]
) -> dict[str, Any]:
    """A proof bundle for one reading (``format``, entry, inclusion proof, signed checkpoint,
    public key and ``record``) that `ledger/verify_proof.py` accepts.

    ``sign`` signs a fresh checkpoint (evidence.service.sign_checkpoint) when the latest one
    does not cover the reading's batch yet.
    """
    proof = prove_reading(session=session, reading_id=reading_id)
    latest = ledger.latest_checkpoint(session)
    if latest is None or latest.size <= proof.ledger_index:
        sign()
    return ledger.proof_bundle(session, proof.ledger_index, signer.public_key, record=proof.record)


def verify_batches(
    *, session: Session, progress: Callable[[int, int], None] | None = None, chunk: int = 10_000
) -> BatchCheck:
    """Rebuild every readings batch from its rows and compare with its ledger entry's root;
    also count rows no batch accounts for. Read-only; names the first problem."""
    size = ledger.tree_size(session)
    devices = {d.id: d for d in session.exec(select(Device)).all()}
    batches = readings = 0
    for lo in range(0, size, chunk):
        for entry in ledger.entries(session, lo, min(size, lo + chunk)):
            if entry.type != READINGS_ENTRY:
                continue
            device = devices.get(entry.envelope()["subject"].get("device"))
            if device is None:
                return BatchCheck(batches, readings, f"entry {entry.index}: unknown device")
            try:
                records, root = _batch_records(session, device, entry.index)
            except BatchMismatch as exc:
                return BatchCheck(batches, readings, str(exc))
            if base64.b64encode(ledger.batch_root(records)).decode() != root:
                problem = f"readings of batch entry {entry.index} do not hash to its root"
                return BatchCheck(batches, readings, problem)
            batches += 1
            readings += len(records)
        if progress is not None:
            progress(min(size, lo + chunk), size)
    stored = session.exec(select(func.count()).select_from(Reading)).one()
    if stored != readings:
        problem = f"{stored - readings} stored reading(s) belong to no readings batch entry"
        return BatchCheck(batches, readings, problem)
    return BatchCheck(batches, readings, None)


def _batch_records(session: Session, device: Device, ledger_index: int) -> tuple[list[bytes], str]:
    """The records of a batch rebuilt from its rows, and the root its entry carries."""
    envelope = ledger.entry_at(session, ledger_index).envelope()
    if envelope.get("type") != READINGS_ENTRY:
        raise BatchMismatch(f"ledger entry {ledger_index} is not a readings batch")
    payload = envelope["payload"]
    lo, hi = (to_micros(datetime.fromisoformat(payload[k])) for k in ("first", "last"))
    assert device.id is not None
    rows = store.batch_rows(
        session.connection(), device=device.id, lo=lo, hi=hi, ledger_index=ledger_index
    )
    if [p for _, _, p in rows] != list(range(int(payload["batch"]["size"]))):
        raise BatchMismatch(f"batch entry {ledger_index} has readings missing or added")
    records = batch_records(device.device_id, [a for a, _, _ in rows], [c for _, c, _ in rows])
    return records, str(payload["batch"]["root"])
