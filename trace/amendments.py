"""Status changes (hold, release, recall, dispose) and corrections of lots and batches.

Nothing is edited silently: each is a new ledger entry and a new history row
(`trace_status_events`, `trace_corrections`) that names what it changes; the lot or batch row
then shows the current state and records the latest entry's index. A correction names the
entry it corrects and keeps the previous values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlmodel import Session

import ledger
from ledger.canonical import json_value
from trace.access import Viewer
from trace.checks import check_productions, check_receipts
from trace.commands import BatchProduction, InputUse, LotReceipt, StatusAction
from trace.errors import CycleRefused, InvalidRecord, InvalidStatusChange, NotFound
from trace.graph import CycleError, Edge, TraceGraph, would_create_cycle
from trace.models import Correction, DishBatch, IngredientLot, StatusEvent, TransformationInput
from trace.neighbourhood import batch_descendants
from trace.problems import first_problem, now_utc
from trace.projections import BATCH_CORRECTED, LOT_CORRECTED, STATUS_CHANGED
from trace.service import DEFAULT_TZ, merchant_row

# action → (statuses it applies to, status it leaves)
TRANSITIONS: Mapping[str, tuple[frozenset[str], str]] = {
    "hold": (frozenset({"active"}), "on_hold"),
    "release": (frozenset({"on_hold"}), "active"),
    "recall": (frozenset({"active", "on_hold"}), "recalled"),
    "dispose": (frozenset({"active", "on_hold", "recalled"}), "disposed"),
}
LOT_FIELDS = (
    "tlc", "product_id", "quantity", "unit", "supplier_id", "tlc_source", "tlc_source_reference",
    "received_at", "location", "reference_document_type", "reference_document_number",
    "expiry_date", "storage",
)  # fmt: skip
BATCH_FIELDS = (
    "batch_code", "product_id", "quantity", "unit", "completed_at", "location",
    "reference_document_type", "reference_document_number",
)  # fmt: skip


def _target(session: Session, kind: str, ident: int) -> IngredientLot | DishBatch:
    model: Any = {"lot": IngredientLot, "batch": DishBatch}.get(kind)
    if model is None:
        raise InvalidRecord("kind must be lot or batch", field="kind")
    row = session.get(model, ident)
    if row is None:
        raise NotFound(f"no {kind} {ident}")
    return row  # type: ignore[no-any-return]


def change_status(
    *,
    session: Session,
    viewer: Viewer,
    kind: str,
    ident: int,
    action: StatusAction,
    reason: str,
    at: datetime | None = None,
) -> StatusEvent:
    """Hold, release, recall or dispose of a lot or batch, with a reason."""
    row = _target(session, kind, ident)
    if viewer.role == "merchant":  # admin and desk may hold anything they investigate
        viewer.merchant_to_write(row.merchant_id)
    event = apply_status(session, viewer.actor, row, action, reason, at=at)
    session.commit()
    return event


def apply_status(
    session: Session,
    actor: str,
    row: IngredientLot | DishBatch,
    action: str,
    reason: str,
    *,
    at: datetime | None = None,
) -> StatusEvent:
    """Write a status change of a lot or batch and its entry in the open transaction."""
    kind = "lot" if isinstance(row, IngredientLot) else "batch"
    if action not in TRANSITIONS:
        raise InvalidRecord(f"unknown action {action!r}", field="action")
    allowed, status = TRANSITIONS[action]
    if row.status not in allowed:
        raise InvalidStatusChange(
            f"cannot {action} a {kind} that is {row.status.replace('_', ' ')}", field="action"
        )
    text = (reason or "").strip()
    if not text or len(text) > 500:
        raise InvalidRecord("give a reason (at most 500 characters)", field="reason")
    when = now_utc(at)
    assert row.id is not None
    event = StatusEvent(
        lot_id=row.id if kind == "lot" else None,
        batch_id=row.id if kind == "batch" else None,
        action=action,
        status=status,
        reason=text,
        at=when,
        actor=actor,
    )
    session.add(event)
    session.flush()
    assert event.id is not None
    entry = ledger.append(
        session,
        ledger.Event(
            type=STATUS_CHANGED,
            actor=actor,
            subject={kind: row.id, "status_event": event.id, "merchant": row.merchant_id},
            payload={
                "lot_id": event.lot_id,
                "batch_id": event.batch_id,
                "action": action,
                "status": status,
                "reason": text,
                "at": when,
            },
        ),
    )
    event.ledger_index = row.ledger_index = entry.index
    row.status = status
    session.add(row)
    return event


def correct_lot(
    *,
    session: Session,
    viewer: Viewer,
    lot_id: int,
    changes: Mapping[str, Any],
    reason: str,
    now: datetime | None = None,
    tz: str = DEFAULT_TZ,
) -> Correction:
    """Correct fields of a received lot; the same checks as receiving apply to the result."""
    lot = _target(session, "lot", lot_id)
    assert isinstance(lot, IngredientLot)
    viewer.merchant_to_write(lot.merchant_id)
    changed = _changed(changes, LOT_FIELDS, lot)
    merchant = merchant_row(session, lot.merchant_id)
    current = LotReceipt(**{name: getattr(lot, name) for name in LOT_FIELDS})
    proposed = replace(current, **{k: changes[k] for k in changed})
    cleaned, problems = check_receipts(
        session, merchant, [proposed], now=now_utc(now), tz=tz, exclude=("lot", lot_id)
    )
    first_problem(problems)
    values = {k: getattr(cleaned[0], k) for k in changed}
    return _record_correction(session, viewer, lot, "lot", LOT_CORRECTED, values, reason, {})


def correct_batch(
    *,
    session: Session,
    viewer: Viewer,
    batch_id: int,
    changes: Mapping[str, Any],
    reason: str,
    now: datetime | None = None,
    tz: str = DEFAULT_TZ,
) -> Correction:
    """Correct fields of a batch, or replace its inputs (`inputs`: InputUse list).

    New inputs that would make the batch (indirectly) an input of itself are refused.
    """
    batch = _target(session, "batch", batch_id)
    assert isinstance(batch, DishBatch) and batch.id is not None
    viewer.merchant_to_write(batch.merchant_id)
    changed = _changed(changes, (*BATCH_FIELDS, "inputs"), batch)
    merchant = merchant_row(session, batch.merchant_id)
    old_inputs = _inputs_of(session, batch.id)
    inputs = tuple(changes["inputs"]) if "inputs" in changed else old_inputs
    current = BatchProduction(
        **{name: getattr(batch, name) for name in BATCH_FIELDS}, inputs=inputs
    )
    proposed = replace(current, **{k: changes[k] for k in changed if k != "inputs"})
    cleaned, resolved, problems = check_productions(
        session, merchant, [proposed], now=now_utc(now), tz=tz, exclude=("batch", batch_id)
    )
    if "inputs" not in changed:  # inputs held or recalled since do not block other corrections
        problems = [p for p in problems if p.error is not InvalidStatusChange]
    first_problem(problems)
    values: dict[str, Any] = {k: getattr(cleaned[0], k) for k in changed if k != "inputs"}
    extra: dict[str, Any] = {}
    if "inputs" in changed:
        sources = resolved[0]
        _refuse_cycle(session, batch.id, [(s.kind, s.id) for s in sources])
        values["inputs"] = sorted(
            [s.kind, s.id, float(u.quantity), u.unit]
            for s, u in zip(sources, cleaned[0].inputs, strict=True)
        )
        extra["inputs"] = sorted([u.kind, u.id, float(u.quantity), u.unit] for u in old_inputs)
    return _record_correction(
        session, viewer, batch, "batch", BATCH_CORRECTED, values, reason, extra
    )


def _changed(changes: Mapping[str, Any], allowed: tuple[str, ...], row: Any) -> list[str]:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise InvalidRecord(
            f"these fields cannot be corrected: {', '.join(unknown)}", field=unknown[0]
        )
    changed = [
        k for k in allowed if k in changes and (k == "inputs" or changes[k] != getattr(row, k))
    ]
    if not changed:
        raise InvalidRecord("the correction changes nothing")
    return changed


def _inputs_of(session: Session, batch_id: int) -> tuple[InputUse, ...]:
    rows = session.execute(
        select(TransformationInput).where(TransformationInput.batch_id == batch_id)
    ).scalars()
    return tuple(
        InputUse(
            quantity=r.quantity,
            unit=r.unit,
            kind="lot" if r.lot_id is not None else "batch",
            id=r.lot_id if r.lot_id is not None else r.input_batch_id,
        )
        for r in rows
    )


def _refuse_cycle(session: Session, batch_id: int, sources: list[tuple[str, int | None]]) -> None:
    downstream = batch_descendants(session.connection(), batch_id)
    edges = [Edge(("batch", str(a)), ("batch", str(b)), "input") for a, b in downstream]
    try:
        graph = TraceGraph.from_edges(edges)
    except CycleError as exc:  # pragma: no cover - the stored graph is acyclic by construction
        raise CycleRefused(str(exc)) from exc
    inputs = [(kind, str(ident)) for kind, ident in sources]
    if would_create_cycle(graph, inputs, ("batch", str(batch_id))):
        raise CycleRefused(
            "these inputs would make the batch an input of itself (through a batch made from it)",
            field="inputs",
        )


def _record_correction(
    session: Session,
    viewer: Viewer,
    row: IngredientLot | DishBatch,
    kind: str,
    entry_type: str,
    values: dict[str, Any],
    reason: str,
    extra: dict[str, Any],
) -> Correction:
    text = (reason or "").strip()
    if not text or len(text) > 500:
        raise InvalidRecord("give a reason (at most 500 characters)", field="reason")
    assert row.id is not None and row.ledger_index is not None
    changed = sorted(values)
    previous = {k: json_value(getattr(row, k)) for k in changed if k != "inputs"}
    previous.update(extra)
    correction = Correction(
        lot_id=row.id if kind == "lot" else None,
        batch_id=row.id if kind == "batch" else None,
        corrects_index=row.ledger_index,
        changed=changed,
        previous=previous,
        reason=text,
        actor=viewer.actor,
    )
    session.add(correction)
    session.flush()
    assert correction.id is not None
    entry = ledger.append(
        session,
        ledger.Event(
            type=entry_type,
            actor=viewer.actor,
            subject={kind: row.id, "correction": correction.id, "merchant": row.merchant_id},
            payload={
                **values,
                "lot_id": correction.lot_id,
                "batch_id": correction.batch_id,
                "corrects": row.ledger_index,
                "changed": changed,
                "previous": previous,
                "reason": text,
            },
        ),
    )
    for name, value in values.items():
        if name != "inputs":
            setattr(row, name, value)
    if "inputs" in values:
        session.execute(delete(TransformationInput).where(TransformationInput.batch_id == row.id))  # type: ignore[arg-type]
        session.execute(
            insert(TransformationInput.__table__),  # type: ignore[attr-defined]
            [
                {
                    "batch_id": row.id,
                    "lot_id": ident if kind == "lot" else None,
                    "input_batch_id": ident if kind == "batch" else None,
                    "quantity": quantity,
                    "unit": unit,
                    "ledger_index": entry.index,
                }
                for kind, ident, quantity, unit in values["inputs"]
            ],
        )
    correction.ledger_index = row.ledger_index = entry.index
    session.add(row)
    session.commit()
    return correction
