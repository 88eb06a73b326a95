"""Retried writes: a lot or batch sent again with the same code and the same facts.

A client whose answer was lost (a timeout, a dropped connection) sends its receiving or
production record again. The lot code (batch code) is unique per merchant, so the retry can
never create a second record; instead of a conflict it gets the record already written. A
record with the same code but different facts is a real conflict and stays one
(`DuplicateCode`, 409): the merchant must correct the first record, not overwrite it.

Facts are compared after the checks have normalised the new record (units, trimmed text, UTC
times), against the stored row. A record corrected since then no longer matches its original
request, so replaying the original after a correction is a conflict too.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlmodel import Session

from trace.commands import BatchProduction, LotReceipt, ResolvedInput
from trace.models import DishBatch, IngredientLot, TransformationInput
from trace.projections import BATCH_COLUMNS, LOT_COLUMNS, input_key

__all__ = ["BATCH_FACTS", "LOT_FACTS", "recorded_batch", "recorded_lot", "same_batch", "same_lot"]

# The recorded columns that state facts (not who owns the record, its code or its status).
_NOT_FACTS = ("merchant_id", "tlc", "batch_code", "status")
LOT_FACTS = (*(c for c in LOT_COLUMNS if c not in _NOT_FACTS), "epcis_event_id")
BATCH_FACTS = (*(c for c in BATCH_COLUMNS if c not in _NOT_FACTS), "epcis_event_id")


def recorded_lot(session: Session, merchant_id: int, tlc: str) -> IngredientLot | None:
    """The merchant's lot with this code, if any."""
    stmt = select(IngredientLot).where(
        IngredientLot.merchant_id == merchant_id, IngredientLot.tlc == tlc.strip()
    )
    return session.execute(stmt).scalars().first()


def recorded_batch(session: Session, merchant_id: int, batch_code: str) -> DishBatch | None:
    """The merchant's batch with this code, if any."""
    stmt = select(DishBatch).where(
        DishBatch.merchant_id == merchant_id, DishBatch.batch_code == batch_code.strip()
    )
    return session.execute(stmt).scalars().first()


def same_lot(lot: IngredientLot, receipt: LotReceipt) -> bool:
    """Whether the stored lot states exactly the (normalised) receipt's facts."""
    return lot.tlc == receipt.tlc and all(
        getattr(lot, name) == getattr(receipt, name) for name in LOT_FACTS
    )


def same_batch(
    session: Session,
    batch: DishBatch,
    production: BatchProduction,
    resolved: Sequence[ResolvedInput],
) -> bool:
    """Whether the stored batch and its inputs state exactly the production's facts."""
    if batch.batch_code != production.batch_code or any(
        getattr(batch, name) != getattr(production, name) for name in BATCH_FACTS
    ):
        return False
    if any(source.id is None for source in resolved):  # a batch of the same request: new
        return False
    stored = session.execute(
        select(
            TransformationInput.lot_id,
            TransformationInput.input_batch_id,
            TransformationInput.quantity,
            TransformationInput.unit,
        ).where(TransformationInput.batch_id == batch.id)
    ).all()
    have = [
        {"kind": "lot" if lot else "batch", "id": lot or sub, "quantity": q, "unit": u}
        for lot, sub, q, u in stored
    ]
    wanted = [
        {"kind": s.kind, "id": s.id, "quantity": u.quantity, "unit": u.unit}
        for u, s in zip(production.inputs, resolved, strict=True)
    ]
    return sorted(map(input_key, have)) == sorted(map(input_key, wanted))
