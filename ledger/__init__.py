"""The tamper-evident ledger: every fact appended, proven and verifiable offline.

Callers pass their own SQLModel session; the ledger writes in it and never commits, so a domain
row and its entry commit (or roll back) together. Entries are RFC 8785 JSON envelopes hashed per
RFC 9162; proofs are RFC 9162 with 0-based indexes; checkpoints are C2SP tlog-checkpoint notes
signed with Ed25519. `ledger/verify_proof.py` checks proof bundles with no Foodtrace code.

A service (the transaction boundary):

    entry = ledger.append(session, ledger.Event(
        "complaint.opened", {"category": c, "phone": phone}, actor=f"user:{user.id}",
        subject={"case": case.id}, personal=frozenset({"phone"})))
    case.ledger_index = entry.index
    session.commit()

The rest of the API:
    append_many(session, events) -> list[Entry]          one write, contiguous indexes
    append_batch(session, event, records) -> Entry       anchors an RFC 9162 root of records
    append_batches(session, [(event, records), ...])     several batch entries in one write
    prove_record(records, i) -> RecordProof              record -> batch root
    checkpoint(session, signer) -> Checkpoint            sign (after a consistency proof); commit
    latest_checkpoint(session), all_checkpoints(session)
    tree_size(session), root_at(session, size), entry_at(session, i), entries(session, a, b)
    prove_inclusion(session, index, size), prove_consistency(session, first, second) -> [bytes]
    proof_bundle(session, index, public_key, record=None) -> dict (JSON for verify_proof.py)
    verify(session, public_key=..., projections=[...], progress=cb) -> VerifyReport
    load_or_create_signing_key(path, name=origin) -> Signer
    erase_personal_data(session, indexes), salts_of(session, indexes)
    verify_inclusion(...), verify_consistency(...)       RFC 9162 checks, raise InvalidProof
Errors: LedgerError(ValueError) > InvalidEvent, TamperDetected, UnknownIndex(LookupError) >
NotCheckpointed; InvalidProof(ValueError) comes from verify_proof.py.
"""

from ledger.batches import RecordProof, append_batches, batch_root, prove_record, record_bytes
from ledger.bundles import proof_bundle
from ledger.checkpoints import Checkpoint, all_checkpoints, checkpoint, latest_checkpoint
from ledger.errors import (
    InvalidEvent,
    InvalidProof,
    LedgerError,
    NotCheckpointed,
    TamperDetected,
    UnknownIndex,
)
from ledger.events import Entry, Event, personal_digest
from ledger.keys import Signer, load_or_create_signing_key
from ledger.projections import CurrentRow, Digest, Projection, TableProjection
from ledger.store import (
    append,
    append_batch,
    append_many,
    entries,
    entry_at,
    erase_personal_data,
    salts_of,
)
from ledger.tree import prove_consistency, prove_inclusion, root_at, tree_size
from ledger.verification import Discrepancy, VerifyReport, verify
from ledger.verify_proof import verify_consistency, verify_inclusion

__all__ = [
    "Checkpoint",
    "CurrentRow",
    "Digest",
    "Discrepancy",
    "Entry",
    "Event",
    "InvalidEvent",
    "InvalidProof",
    "LedgerError",
    "NotCheckpointed",
    "Projection",
    "RecordProof",
    "Signer",
    "TableProjection",
    "TamperDetected",
    "UnknownIndex",
    "VerifyReport",
    "all_checkpoints",
    "append",
    "append_batch",
    "append_batches",
    "append_many",
    "batch_root",
    "checkpoint",
    "entries",
    "entry_at",
    "erase_personal_data",
    "latest_checkpoint",
    "load_or_create_signing_key",
    "personal_digest",
    "proof_bundle",
    "prove_consistency",
    "prove_inclusion",
    "prove_record",
    "record_bytes",
    "root_at",
    "salts_of",
    "tree_size",
    "verify",
    "verify_consistency",
    "verify_inclusion",
]
