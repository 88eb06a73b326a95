"""The link order line → batch: written by the ordering flow, walked by both trace directions.

`record_allocation` joins the caller's transaction with commit=False, so an order line and its
allocation commit together; `record_allocations` writes many at once (chunks anchored by one
ledger entry each).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

import ledger
from trace.anchoring import insert_rows, next_ids, records_of
from trace.errors import InvalidRecord, InvalidStatusChange, NotFound
from trace.models import BatchAllocation, DishBatch
from trace.problems import chunks, now_utc
from trace.projections import ALLOCATION_COLUMNS, BATCHES_ALLOCATED
from trace.recording import anchor_events, with_indexes


def record_allocation(
    *,
    session: Session,
    order_line_id: int,
    batch_id: int,
    quantity: float,
    actor: str,
    at: datetime | None = None,
    commit: bool = True,
) -> BatchAllocation:
    """Link an order line to a batch that served it (the ordering flow calls this).

    Pass commit=False to write it inside the caller's transaction (the order line's).
    """
    [allocation_id] = record_allocations(
        session=session,
        allocations=[(order_line_id, batch_id, quantity, at)],
        actor=actor,
        commit=commit,
    )
    row = session.get(BatchAllocation, allocation_id)
    assert row is not None
    return row


def record_allocations(
    *,
    session: Session,
    allocations: Sequence[tuple[int, int, float, datetime | None]],
    actor: str,
    commit: bool = True,
) -> list[int]:
    """Link many (order line, batch, quantity, time) at once under anchoring entries; their ids.

    Batches must exist and be active (not held, recalled or disposed).
    """
    if not allocations:
        return []
    batch_ids = sorted({batch for _, batch, _, _ in allocations})
    status: dict[int, tuple[str, str]] = {}
    for part in chunks(batch_ids):
        rows = session.execute(
            select(DishBatch.id, DishBatch.status, DishBatch.batch_code).where(
                DishBatch.id.in_(part)
            )  # type: ignore[union-attr]
        )
        status.update({ident: (state, code) for ident, state, code in rows})
    now = now_utc(None)
    values = []
    for line, batch, quantity, at in allocations:
        if batch not in status:
            raise NotFound(f"no batch {batch}")
        if status[batch][0] != "active":
            code, state = status[batch][1], status[batch][0].replace("_", " ")
            raise InvalidStatusChange(f"batch {code} is {state}", field="batch_id")
        if not (math.isfinite(quantity) and quantity > 0):
            raise InvalidRecord("quantity must be greater than 0", field="quantity")
        values.append(
            {
                "order_line_id": line,
                "batch_id": batch,
                "quantity": float(quantity),
                "allocated_at": now_utc(at) if at else now,
            }
        )
    table = BatchAllocation.__table__  # type: ignore[attr-defined]
    ids = next_ids(session, table, len(values))
    records = records_of(
        [i, *(v[c] for c in ALLOCATION_COLUMNS)] for i, v in zip(ids, values, strict=True)
    )
    events = anchor_events(
        BATCHES_ALLOCATED, actor, ids, records, {}, {"columns": ["id", *ALLOCATION_COLUMNS]}
    )
    rows = [{**v, "id": i} for i, v in zip(ids, values, strict=True)]
    insert_rows(session, table, with_indexes(rows, ledger.append_many(session, events)))
    if commit:
        session.commit()
    return ids
