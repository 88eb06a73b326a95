"""Trace use cases: receive lots, produce batches, transfer lots, allocate batches to order lines.

Each use case checks its input (trace.checks), writes the rows and their ledger entries in one
transaction and commits once. `insert_lots` / `insert_batches` are the shared write path of the
single-record services and of uploads and EPCIS captures: Core inserts, one `append_many` call,
then the rows get their ledger indexes, so a 20,000-row upload costs a few statements.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

import ledger
from trace import replays
from trace.access import Viewer
from trace.allocations import record_allocation, record_allocations
from trace.checks import check_productions, check_receipts
from trace.columns import unit_for
from trace.commands import BatchProduction, LotReceipt
from trace.errors import (
    ForeignRecord,
    FutureTime,
    InvalidRecord,
    InvalidStatusChange,
    LicenceExpired,
    NotFound,
)
from trace.models import (
    DishBatch,
    IngredientLot,
    LotTransfer,
    Merchant,
    TransformationInput,
)
from trace.problems import first_problem, local_date, now_utc
from trace.projections import (
    LOT_TRANSFERRED,
)
from trace.recording import insert_batches, insert_lots
from trace.rules import rules

DEFAULT_TZ = "Asia/Shanghai"
# The ordering flow's entry points live in trace.allocations; they are named here too, the
# module the ordering flow is told to call.
__all__ = ["record_allocation", "record_allocations"]


def merchant_row(session: Session, merchant_id: int) -> Merchant:
    """The merchant, or NotFound."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(f"no merchant {merchant_id}")
    return merchant


def receive_lot(
    *,
    session: Session,
    viewer: Viewer,
    receipt: LotReceipt,
    merchant_id: int | None = None,
    now: datetime | None = None,
    tz: str = DEFAULT_TZ,
) -> IngredientLot:
    """Record a receiving event: a lot a merchant received from its immediate previous source."""
    lot, _replayed = record_lot(
        session=session, viewer=viewer, receipt=receipt, merchant_id=merchant_id, now=now, tz=tz
    )
    return lot


def record_lot(
    *,
    session: Session,
    viewer: Viewer,
    receipt: LotReceipt,
    merchant_id: int | None = None,
    now: datetime | None = None,
    tz: str = DEFAULT_TZ,
) -> tuple[IngredientLot, bool]:
    """`receive_lot`, telling whether the request was a retry (trace.replays): the same lot
    code with the same facts gives the recorded lot and True, writing nothing."""
    merchant = merchant_row(session, viewer.merchant_to_write(merchant_id))
    assert merchant.id is not None
    earlier = replays.recorded_lot(session, merchant.id, receipt.tlc) if receipt.tlc else None
    if earlier is not None:
        assert earlier.id is not None
        cleaned, problems = check_receipts(
            session, merchant, [receipt], now=now_utc(now), tz=tz, exclude=("lot", earlier.id)
        )
        if not problems and replays.same_lot(earlier, cleaned[0]):
            lot_id = earlier.id
            session.rollback()  # end the read
            return get_lot(session=session, viewer=viewer, lot_id=lot_id), True
    cleaned, problems = check_receipts(session, merchant, [receipt], now=now_utc(now), tz=tz)
    first_problem(problems)
    [lot_id] = insert_lots(session, merchant.id, cleaned, actor=viewer.actor)
    session.commit()
    return get_lot(session=session, viewer=viewer, lot_id=lot_id), False


def produce_batch(
    *,
    session: Session,
    viewer: Viewer,
    production: BatchProduction,
    merchant_id: int | None = None,
    now: datetime | None = None,
    tz: str = DEFAULT_TZ,
) -> DishBatch:
    """Record a transformation: input lots/batches used and the new batch made from them."""
    batch, _replayed = record_batch(
        session=session,
        viewer=viewer,
        production=production,
        merchant_id=merchant_id,
        now=now,
        tz=tz,
    )
    return batch


def record_batch(
    *,
    session: Session,
    viewer: Viewer,
    production: BatchProduction,
    merchant_id: int | None = None,
    now: datetime | None = None,
    tz: str = DEFAULT_TZ,
) -> tuple[DishBatch, bool]:
    """`produce_batch`, telling whether the request was a retry (trace.replays): the same batch
    code with the same facts and inputs gives the recorded batch and True, writing nothing."""
    merchant = merchant_row(session, viewer.merchant_to_write(merchant_id))
    assert merchant.id is not None
    earlier = (
        replays.recorded_batch(session, merchant.id, production.batch_code)
        if production.batch_code
        else None
    )
    if earlier is not None:
        assert earlier.id is not None
        cleaned, resolved, problems = check_productions(
            session,
            merchant,
            [production],
            now=now_utc(now),
            tz=tz,
            exclude=("batch", earlier.id),
        )
        if not problems and replays.same_batch(session, earlier, cleaned[0], resolved[0]):
            batch_id = earlier.id
            session.rollback()  # end the read
            return get_batch(session=session, viewer=viewer, batch_id=batch_id), True
    cleaned, resolved, problems = check_productions(
        session, merchant, [production], now=now_utc(now), tz=tz
    )
    first_problem(problems)
    [batch_id] = insert_batches(session, merchant.id, cleaned, resolved, actor=viewer.actor)
    session.commit()
    return get_batch(session=session, viewer=viewer, batch_id=batch_id), False


def receive_lots(
    *,
    session: Session,
    viewer: Viewer,
    receipts: list[LotReceipt],
    merchant_id: int | None = None,
    now: datetime | None = None,
    tz: str = DEFAULT_TZ,
) -> list[int]:
    """`receive_lot` for many receipts of one merchant at once: checked together, all or
    nothing, written under one anchoring entry and one commit (as an upload is); the new lot
    ids in order. For callers holding many records (the semester generator); there is no replay
    here: a code already recorded is a DuplicateCode problem."""
    merchant = merchant_row(session, viewer.merchant_to_write(merchant_id))
    assert merchant.id is not None
    cleaned, problems = check_receipts(session, merchant, receipts, now=now_utc(now), tz=tz)
    first_problem(problems)
    ids = insert_lots(session, merchant.id, cleaned, actor=viewer.actor)
    session.commit()
    return ids


def produce_batches(
    *,
    session: Session,
    viewer: Viewer,
    productions: list[BatchProduction],
    merchant_id: int | None = None,
    now: datetime | None = None,
    tz: str = DEFAULT_TZ,
) -> list[int]:
    """`produce_batch` for many productions of one merchant at once (all or nothing, one
    anchoring entry, one commit); the new batch ids in order. No replay (see receive_lots)."""
    merchant = merchant_row(session, viewer.merchant_to_write(merchant_id))
    assert merchant.id is not None
    cleaned, resolved, problems = check_productions(
        session, merchant, productions, now=now_utc(now), tz=tz
    )
    first_problem(problems)
    ids = insert_batches(session, merchant.id, cleaned, resolved, actor=viewer.actor)
    session.commit()
    return ids


def transfer_lot(
    *,
    session: Session,
    viewer: Viewer,
    lot_id: int,
    to_merchant_id: int,
    quantity: float,
    unit: str,
    shipped_at: datetime,
    now: datetime | None = None,
    tz: str = DEFAULT_TZ,
) -> LotTransfer:
    """Record a shipping event: part of a lot handed to another merchant, who may then use it."""
    lot = session.get(IngredientLot, lot_id)
    if lot is None:
        raise NotFound(f"no lot {lot_id}")
    viewer.merchant_to_write(lot.merchant_id)
    target = merchant_row(session, to_merchant_id)
    if to_merchant_id == lot.merchant_id:
        raise InvalidRecord(
            "a lot cannot be transferred to its own merchant", field="to_merchant_id"
        )
    if lot.status != "active":
        raise InvalidStatusChange(f"lot {lot.tlc} is {lot.status.replace('_', ' ')}")
    found = unit_for(unit)
    if found is None:
        raise InvalidRecord(f"unknown unit {unit!r}", field="unit")
    if not (math.isfinite(quantity) and quantity > 0):
        raise InvalidRecord("quantity must be greater than 0", field="quantity")
    if shipped_at.tzinfo is None or shipped_at < lot.received_at:
        raise InvalidRecord("the lot cannot ship before it was received", field="shipped_at")
    if shipped_at > now_utc(now) + rules().future_tolerance:
        raise FutureTime("shipped_at is in the future", field="shipped_at")
    if target.licence_expires_on < local_date(shipped_at, tz):
        raise LicenceExpired(f"merchant {target.name}'s food business licence has expired")
    row = LotTransfer(
        lot_id=lot_id,
        from_merchant_id=lot.merchant_id,
        to_merchant_id=to_merchant_id,
        quantity=float(quantity),
        unit=found.code,
        shipped_at=shipped_at,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    row.ledger_index = ledger.append(
        session,
        ledger.Event(
            type=LOT_TRANSFERRED,
            actor=viewer.actor,
            subject={"transfer": row.id, "lot": lot_id, "merchant": lot.merchant_id},
            payload={
                "lot_id": lot_id,
                "from_merchant_id": row.from_merchant_id,
                "to_merchant_id": to_merchant_id,
                "quantity": row.quantity,
                "unit": row.unit,
                "shipped_at": shipped_at,
            },
        ),
    ).index
    session.commit()
    return row


def _transferred_to(session: Session, lot_id: int) -> set[int]:
    rows = session.execute(select(LotTransfer.to_merchant_id).where(LotTransfer.lot_id == lot_id))
    return {merchant for (merchant,) in rows}


def get_lot(*, session: Session, viewer: Viewer, lot_id: int) -> IngredientLot:
    """A lot the viewer may see (its merchant's, or transferred to the viewer's merchant)."""
    lot = session.get(IngredientLot, lot_id)
    if lot is None:
        raise NotFound(f"no lot {lot_id}")
    try:
        viewer.check_can_see(lot.merchant_id)
    except ForeignRecord:
        if viewer.merchant_id not in _transferred_to(session, lot_id):
            raise
    return lot


def get_batch(*, session: Session, viewer: Viewer, batch_id: int) -> DishBatch:
    """A batch the viewer may see."""
    batch = session.get(DishBatch, batch_id)
    if batch is None:
        raise NotFound(f"no batch {batch_id}")
    viewer.check_can_see(batch.merchant_id)
    return batch


def batch_inputs(*, session: Session, batch_id: int) -> list[TransformationInput]:
    """The inputs of a batch, in the order recorded."""
    stmt = (
        select(TransformationInput)
        .where(TransformationInput.batch_id == batch_id)
        .order_by(TransformationInput.id)  # type: ignore[arg-type]
    )
    return list(session.execute(stmt).scalars())


def list_lots(
    *,
    session: Session,
    viewer: Viewer,
    merchant_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[IngredientLot]:
    """Lots the viewer may see, newest first."""
    stmt = select(IngredientLot).order_by(IngredientLot.received_at.desc(), IngredientLot.id.desc())  # type: ignore[attr-defined,union-attr]
    scope = viewer.visible_merchant() or merchant_id
    if scope is not None:
        stmt = stmt.where(IngredientLot.merchant_id == scope)
    return list(session.execute(stmt.offset(offset).limit(limit)).scalars())


def list_batches(
    *,
    session: Session,
    viewer: Viewer,
    merchant_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[DishBatch]:
    """Batches the viewer may see, newest first."""
    stmt = select(DishBatch).order_by(DishBatch.completed_at.desc(), DishBatch.id.desc())  # type: ignore[attr-defined,union-attr]
    scope = viewer.visible_merchant() or merchant_id
    if scope is not None:
        stmt = stmt.where(DishBatch.merchant_id == scope)
    return list(session.execute(stmt.offset(offset).limit(limit)).scalars())
