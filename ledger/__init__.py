"""The tamper-evident ledger: every fact appended, proven and verifiable offline.

Callers pass their own SQLModel session; the ledger writes in it and never commits, so a domain
row and its entry commit (or roll back) together. Entries are RFC 8785 JSON envelopes hashed per
RFC 9162; proofs are RFC 9162 with 0-based indexes; checkpoints are C2SP tlog-checkpoint notes
signed with Ed25519. `ledger/verify_proof.py` checks proof bundles with no Foodtrace code.
"""

from ledger.batches import RecordProof, batch_root, prove_record, record_bytes
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
