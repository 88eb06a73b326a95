"""Checkpoints: C2SP signed notes, all stored, each proven consistent with the previous one."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Engine
from sqlmodel import Session

import ledger
from ledger import Event
from ledger import verify_proof as vp
from tests.ledger import reference as ref
from tests.ledger.conftest import ORIGIN
from tests.ledger.tampering import tamper


def _grow(session: Session, n: int) -> None:
    ledger.append_many(session, [Event("test.fact", {"n": i}) for i in range(n)])


def test_checkpoint_note_is_a_c2sp_signed_note(session: Session, signer: ledger.Signer) -> None:
    _grow(session, 5)
    cp = ledger.checkpoint(session, signer)
    session.commit()
    leaves = [e.leaf_hash for e in ledger.entries(session, 0, 5)]
    root_b64 = base64.b64encode(ref.mth(leaves)).decode()
    text, _, signature_line = cp.note.rpartition("\n\n")
    assert text + "\n" == f"{ORIGIN}\n5\n{root_b64}\n"
    assert signature_line.startswith(f"\u2014 {ORIGIN} ") and signature_line.endswith("\n")
    blob = base64.b64decode(signature_line.split(" ")[2])
    raw = signer.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert blob[:4] == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4]
    signer.public_key.verify(blob[4:], (text + "\n").encode())  # raises if invalid
    parsed, name = vp.verify_checkpoint(cp.note, signer.public_key)
    assert (parsed.origin, parsed.size, parsed.root, name) == (ORIGIN, 5, cp.root, ORIGIN)
    assert signer.verifier_key().startswith(f"{ORIGIN}+{blob[:4].hex()}+")


def test_every_checkpoint_is_kept_and_unchanged_logs_are_not_resigned(
    session: Session, signer: ledger.Signer
) -> None:
    empty = ledger.checkpoint(session, signer)
    _grow(session, 3)
    second = ledger.checkpoint(session, signer)
    again = ledger.checkpoint(session, signer)
    _grow(session, 4)
    third = ledger.checkpoint(session, signer)
    session.commit()
    assert (empty.seq, empty.size, empty.root) == (0, 0, hashlib.sha256(b"").digest())
    assert again == second
    assert [c.size for c in ledger.all_checkpoints(session)] == [0, 3, 7]
    assert ledger.latest_checkpoint(session) == third
    proof = ledger.prove_consistency(session, 3, 7)
    ledger.verify_consistency(3, 7, second.root, third.root, proof)


def test_checkpoint_refuses_a_log_inconsistent_with_the_previous_one(
    engine: Engine, signer: ledger.Signer
) -> None:
    with Session(engine) as session:
        _grow(session, 6)
        ledger.checkpoint(session, signer)
        session.commit()
    # rewrite entry 2 and every hash above it consistently: only the old checkpoint disagrees
    with Session(engine) as session:
        rows = ledger.entries(session, 0, 6)
    data = [r.data for r in rows]
    data[2] = data[2].replace(b'"n":2', b'"n":9')
    _rewrite(engine, data)
    with Session(engine) as session:
        _grow(session, 2)
        with pytest.raises(ledger.TamperDetected, match="not consistent with checkpoint 0"):
            ledger.checkpoint(session, signer)


def _rewrite(engine: Engine, data: list[bytes]) -> None:
    """Replace the whole log by `data`, recomputing leaves, nodes and head as a thief would."""
    from ledger.tree import frontier_hashes

    leaves = [ref.leaf(d) for d in data]
    for i, d in enumerate(data):
        nodes = b""
        n, width = i + 1, 1
        while not n & 1:
            width *= 2
            nodes += ref.mth(leaves[i + 1 - width : i + 1])
            n >>= 1
        tamper(
            engine,
            "UPDATE ledger_entry SET entry = :d, leaf_hash = :h, nodes = :n WHERE idx = :i",
            d=d,
            h=leaves[i],
            n=nodes,
            i=i,
        )
    tamper(
        engine,
        "UPDATE ledger_head SET frontier = :f",
        f=b"".join(frontier_hashes(leaves)),
    )


def test_checkpoint_refuses_when_the_previous_note_was_altered(
    engine: Engine, signer: ledger.Signer
) -> None:
    with Session(engine) as session:
        _grow(session, 4)
        cp = ledger.checkpoint(session, signer)
        session.commit()
    forged = cp.note.replace("\n4\n", "\n3\n")
    tamper(engine, "UPDATE ledger_checkpoint SET note = :n WHERE seq = 0", n=forged)
    with Session(engine) as session:
        _grow(session, 1)
        with pytest.raises(ledger.TamperDetected, match="checkpoint 0"):
            ledger.checkpoint(session, signer)


def test_proof_bundle_needs_a_covering_checkpoint(session: Session, signer: ledger.Signer) -> None:
    _grow(session, 3)
    with pytest.raises(ledger.NotCheckpointed):
        ledger.proof_bundle(session, 0, signer.public_key)
    ledger.checkpoint(session, signer)
    _grow(session, 1)
    with pytest.raises(ledger.NotCheckpointed):
        ledger.proof_bundle(session, 3, signer.public_key)
    bundle = ledger.proof_bundle(session, 2, signer.public_key)
    assert vp.verify_bundle(bundle, signer.public_key).startswith("OK: entry 2 ")
    with pytest.raises(LookupError):
        ledger.proof_bundle(session, 99, signer.public_key)


def test_signing_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "instance" / "ledger.pem"
    first = ledger.load_or_create_signing_key(path, name=ORIGIN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = ledger.load_or_create_signing_key(path, name=ORIGIN)
    assert first.public_key_pem() == second.public_key_pem()
    assert [p.name for p in path.parent.iterdir()] == ["ledger.pem"]


def test_key_names_follow_signed_note_rules() -> None:
    with pytest.raises(ledger.LedgerError):
        ledger.Signer("bad name+", Ed25519PrivateKey.generate())
