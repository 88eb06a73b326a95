"""Proof bundles: one entry, its inclusion proof, the signed checkpoint and the public key, as
JSON that reports embed and `ledger/verify_proof.py` checks offline."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlmodel import Session

from ledger.batches import BATCH_FIELD, RecordProof
from ledger.checkpoints import latest_checkpoint
from ledger.errors import LedgerError, NotCheckpointed, TamperDetected
from ledger.store import entry_at
from ledger.tree import prove_inclusion
from ledger.verify_proof import BUNDLE_FORMAT, InvalidProof, verify_bundle

HASHING = "RFC 9162 SHA-256: leaf = H(0x00 || entry), node = H(0x01 || left || right); 0-based"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def proof_bundle(
    session: Session,
    index: int,
    public_key: Ed25519PublicKey,
    *,
    record: RecordProof | None = None,
) -> dict[str, Any]:
    """A JSON-able bundle proving entry `index` against the latest signed checkpoint.

    Fields: format, hashing, index, tree_size, entry (base64 bytes), leaf_hash, inclusion_proof
    (base64 hashes, leaf to root), checkpoint (the signed note), public_key (PEM) and, for a
    batch entry, `record` (one record with its proof to the batch root: see batches.prove_record).
    Raises UnknownIndex for a missing entry, NotCheckpointed if no checkpoint covers it yet, and
    TamperDetected if the bundle would not verify.
    """
    entry = entry_at(session, index)
    latest = latest_checkpoint(session)
    if latest is None or latest.size <= index:
        raise NotCheckpointed(f"entry {index} is not covered by a signed checkpoint yet")
    bundle: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "hashing": HASHING,
        "index": index,
        "tree_size": latest.size,
        "entry": _b64(entry.data),
        "leaf_hash": _b64(entry.leaf_hash),
        "inclusion_proof": [_b64(h) for h in prove_inclusion(session, index, latest.size)],
        "checkpoint": latest.note,
        "public_key": public_key.public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii"),
    }
    if record is not None:
        batch = entry.envelope().get("payload", {}).get(BATCH_FIELD)
        if not isinstance(batch, dict) or batch.get("root") != _b64(record.root):
            raise LedgerError(f"entry {index} does not anchor the batch this record belongs to")
        bundle["record"] = record.to_json()
    try:
        verify_bundle(bundle, public_key)
    except InvalidProof as exc:
        raise TamperDetected(f"proof bundle for entry {index} does not verify: {exc}") from exc
    return bundle
