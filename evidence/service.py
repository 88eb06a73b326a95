"""Use cases around the ledger for people and regulators: proofs, checkpoints, verification.

The ledger itself (`ledger/`) knows nothing of settings or domains; this service binds it to the
deployment's signing key and to every domain's projections.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlmodel import Session, select

import ledger
from columns import utcnow
from evidence.models import VerificationRun


class RunNotFound(LookupError):
    """No verification run with that id."""


class BadRange(ValueError):
    """A consistency request with sizes out of range."""


@dataclass(frozen=True, slots=True)
class LedgerKey:
    """Where the deployment's signing key lives and the log's origin (its key name)."""

    path: Path
    origin: str

    def signer(self) -> ledger.Signer:
        return ledger.load_or_create_signing_key(self.path, name=self.origin)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def public_key_pem(key: LedgerKey) -> str:
    return (
        key.signer()
        .public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def sign_checkpoint(*, session: Session, key: LedgerKey) -> ledger.Checkpoint:
    """Sign a checkpoint of the current tree (after proving it consistent with the last)."""
    latest = ledger.latest_checkpoint(session)
    if latest is not None and latest.size == ledger.tree_size(session):
        return latest  # nothing new to sign
    cp = ledger.checkpoint(session, key.signer())
    session.commit()
    return cp


def latest_checkpoint(*, session: Session, key: LedgerKey) -> ledger.Checkpoint:
    """The latest signed checkpoint, signing the first one if there is none."""
    return ledger.latest_checkpoint(session) or sign_checkpoint(session=session, key=key)


def entry_with_proof(*, session: Session, key: LedgerKey, index: int) -> dict[str, Any]:
    """An entry, its leaf hash and its inclusion proof to the latest checkpoint (signing one if
    the entry is newer than the last checkpoint)."""
    if index < 0:
        raise ledger.UnknownIndex(f"ledger index must be 0 or more, got {index}")
    cp = ledger.latest_checkpoint(session)
    if cp is None or cp.size <= index:
        ledger.entry_at(session, index)  # raises UnknownIndex for an index past the end
        cp = sign_checkpoint(session=session, key=key)
    entry = ledger.entry_at(session, index)
    return {
        "index": index,
        "type": entry.type,
        "entry": b64(entry.data),
        "envelope": entry.envelope(),
        "leaf_hash": b64(entry.leaf_hash),
        "tree_size": cp.size,
        "inclusion_proof": [b64(h) for h in ledger.prove_inclusion(session, index, cp.size)],
        "checkpoint": cp.note,
    }


def consistency(*, session: Session, first: int, second: int) -> dict[str, Any]:
    """An RFC 9162 consistency proof between two tree sizes with both roots."""
    size = ledger.tree_size(session)
    if not 0 < first <= second <= size:
        raise BadRange(f"need 0 < first <= second <= {size} (the tree size); got {first}, {second}")
    return {
        "first": first,
        "second": second,
        "first_root": b64(ledger.root_at(session, first)),
        "second_root": b64(ledger.root_at(session, second)),
        "proof": [b64(h) for h in ledger.prove_consistency(session, first, second)],
    }


def recent_entries(*, session: Session, limit: int = 20) -> list[ledger.Entry]:
    size = ledger.tree_size(session)
    return list(reversed(ledger.entries(session, max(0, size - limit), size)))


def overview(*, session: Session, limit: int = 20) -> dict[str, Any]:
    """What the admin ledger page shows."""
    runs = session.exec(
        select(VerificationRun).order_by(VerificationRun.id.desc()).limit(5)  # type: ignore[union-attr]
    ).all()
    return {
        "size": ledger.tree_size(session),
        "checkpoint": ledger.latest_checkpoint(session),
        "checkpoints": len(ledger.all_checkpoints(session)),
        "entries": recent_entries(session=session, limit=limit),
        "runs": runs,
    }


def start_verification(*, session: Session, user_id: int | None) -> VerificationRun:
    run = VerificationRun(requested_by=user_id, total=ledger.tree_size(session))
    session.add(run)
    session.commit()
    return run


def get_run(*, session: Session, run_id: int) -> VerificationRun:
    run = session.get(VerificationRun, run_id)
    if run is None:
        raise RunNotFound(f"no verification run {run_id}")
    return run


def verify(
    *,
    session: Session,
    key: LedgerKey,
    projections: Iterable[ledger.Projection],
    progress: Callable[[int, int], None] | None = None,
) -> ledger.VerifyReport:
    """Recompute the whole ledger and re-derive every registered domain table."""
    return ledger.verify(
        session, public_key=key.signer().public_key, projections=projections, progress=progress
    )


def run_verification(
    *,
    session: Session,
    progress_session: Session,
    run_id: int,
    key: LedgerKey,
    projections: Iterable[ledger.Projection],
) -> VerificationRun:
    """Carry out a queued run: `session` reads a snapshot (a read-only engine, so writers are
    never blocked), `progress_session` records progress as it goes."""
    run = get_run(session=progress_session, run_id=run_id)
    run.status = "running"
    progress_session.add(run)
    progress_session.commit()

    def progress(done: int, total: int) -> None:
        run.done, run.total = done, total
        progress_session.add(run)
        progress_session.commit()

    try:
        report = verify(session=session, key=key, projections=projections, progress=progress)
        session.rollback()
        run.status = "ok" if report.ok else "tampered"
        run.result = (
            str(report.problem)
            if report.problem is not None
            else (
                f"{report.entries_checked} entries, {report.checkpoints_checked} checkpoints and "
                f"{report.rows_checked} domain rows verified"
            )
        )
    except Exception as exc:  # the outcome must be recorded, whatever it was
        session.rollback()
        run.status, run.result = "failed", f"{type(exc).__name__}: {exc}"
    run.finished_at = utcnow()
    progress_session.add(run)
    progress_session.commit()
    return run
