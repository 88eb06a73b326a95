"""Signed checkpoints: C2SP tlog-checkpoint notes over the log's size and root, all kept.

    foodtrace.campus.example/ledger        <- origin (the signer's key name)
    1000                                   <- tree size
    1YQ8P9ILlzAkX1iCgXkWRbG1ZJDpZ6xOR0UqRVpSP2E=   <- base64 RFC 9162 root hash

    — foodtrace.campus.example/ledger <base64(4-byte key ID || Ed25519 signature)>

A new checkpoint is signed only after its consistency with the previous stored one has been proven
from the stored tree and verified (RFC 9162), and the previous note's signature checked.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlmodel import Session

from ledger.errors import TamperDetected
from ledger.keys import Signer
from ledger.models import checkpoint_table
from ledger.tree import LedgerTree
from ledger.verify_proof import (
    InvalidProof,
    parse_checkpoint,
    verify_checkpoint,
    verify_consistency,
)

EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162: the hash of an empty tree

_c = checkpoint_table.c
_select = select(_c.seq, _c.size, _c.root, _c.note, _c.created_at)
_latest = _select.order_by(_c.seq.desc()).limit(1)
_all = _select.order_by(_c.seq)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A stored signed checkpoint: its number, tree size, root hash and the full signed note."""

    seq: int
    size: int
    root: bytes
    note: str
    created_at: datetime

    @property
    def origin(self) -> str:
        """The log origin named on the note's first line."""
        return self.note.split("\n", 1)[0]


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """The tlog-checkpoint note text (the part that is signed)."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def _row(row: tuple) -> Checkpoint:
    seq, size, root, note, created_at = row
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    return Checkpoint(int(seq), int(size), bytes(root), note, created_at)


def latest_checkpoint(session: Session) -> Checkpoint | None:
    """The most recent stored checkpoint, or None before the first one."""
    row = session.connection().execute(_latest).first()
    return _row(tuple(row)) if row is not None else None


def all_checkpoints(session: Session) -> list[Checkpoint]:
    """Every stored checkpoint, oldest first."""
    return [_row(tuple(r)) for r in session.connection().execute(_all)]


def _check_previous(prev: Checkpoint, signer: Signer) -> None:
    try:
        parsed, _ = verify_checkpoint(prev.note, signer.public_key)
    except InvalidProof as exc:
        raise TamperDetected(
            f"checkpoint {prev.seq} does not verify under this key (tampered, or the key changed)"
        ) from exc
    if (parsed.size, parsed.root) != (prev.size, prev.root):
        raise TamperDetected(f"checkpoint {prev.seq}: stored size/root differ from its note")


def checkpoint(session: Session, signer: Signer) -> Checkpoint:
    """Sign and store a checkpoint of the current log (the caller commits).

    Returns the latest checkpoint unchanged if the log has not grown since. Raises TamperDetected
    if the stored tree disagrees with itself or cannot be proven consistent with the previous
    checkpoint. Holds the sequencer lock, so no entry is appended meanwhile.
    """
    conn = session.connection()
    tree = LedgerTree.open(conn, lock=True)
    size = tree.size
    root = tree.root(size)
    if root != tree.frontier_root():
        raise TamperDetected("the stored tree nodes disagree with the ledger head")
    prev = latest_checkpoint(session)
    if prev is not None:
        _check_previous(prev, signer)
        if prev.size > size:
            raise TamperDetected(
                f"checkpoint {prev.seq} covers {prev.size} entries; log has {size}"
            )
        if prev.size == size:
            if prev.root != root:
                raise TamperDetected(f"checkpoint {prev.seq} root differs from the stored tree")
            return prev
        if prev.size == 0:
            if prev.root != EMPTY_ROOT:
                raise TamperDetected(f"checkpoint {prev.seq} of the empty log has a wrong root")
        else:
            proof = tree.consistency_proof(prev.size, size)
            try:
                verify_consistency(prev.size, size, prev.root, root, proof)
            except InvalidProof as exc:
                raise TamperDetected(
                    f"the log of size {size} is not consistent with checkpoint {prev.seq}: {exc}"
                ) from exc
    made = Checkpoint(
        seq=0 if prev is None else prev.seq + 1,
        size=size,
        root=root,
        note=signer.sign_note(checkpoint_text(signer.name, size, root)),
        created_at=datetime.now(UTC),
    )
    conn.execute(
        insert(checkpoint_table),
        {
            "seq": made.seq,
            "size": made.size,
            "root": made.root,
            "note": made.note,
            "created_at": made.created_at,
        },
    )
    return made


__all__ = [
    "EMPTY_ROOT",
    "Checkpoint",
    "all_checkpoints",
    "checkpoint",
    "checkpoint_text",
    "latest_checkpoint",
    "parse_checkpoint",
]
