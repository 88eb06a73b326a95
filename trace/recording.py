"""The bulk write path of lots and batches: rows and their anchoring ledger entries.

Used by the single-record services, uploads and EPCIS captures alike, after their checks: ids
are drawn first, each chunk of records is anchored by one entry (trace.anchoring), then the rows
are inserted with their ledger indexes in one executemany. A 20,000-row upload costs a few
statements and twenty entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session

import ledger
from columns import utcnow
from trace.anchoring import (
    anchor,
    chunked,
    insert_columns,
    insert_rows,
    next_ids,
    records_from,
    records_of,
)
from trace.commands import BatchProduction, LotReceipt, ResolvedInput
from trace.models import DishBatch, IngredientLot, TransformationInput
from trace.projections import (
    BATCH_COLUMNS,
    BATCH_RECORD_COLUMNS,
    BATCHES_PRODUCED,
    LOT_COLUMNS,
    LOTS_RECEIVED,
)

RECEIPT_FIELDS = (
    "tlc", "product_id", "quantity", "unit", "supplier_id", "tlc_source", "tlc_source_reference",
    "received_at", "location", "reference_document_type", "reference_document_number",
    "expiry_date", "storage", "epcis_event_id",
)  # fmt: skip


def _lot_columns(
    merchant_id: int, receipts: Mapping[str, Sequence[Any]], upload_id: int | None
) -> dict[str, list[Any]]:
    count = len(receipts["tlc"])
    columns: dict[str, list[Any]] = {name: list(receipts[name]) for name in RECEIPT_FIELDS}
    quantities = {q: float(q) for q in set(columns["quantity"])}  # equal numbers, equal floats
    columns["quantity"] = list(map(quantities.__getitem__, columns["quantity"]))
    columns.update(
        merchant_id=[merchant_id] * count, status=["active"] * count, upload_id=[upload_id] * count
    )
    return columns


def anchor_events(
    kind: str,
    actor: str,
    ids: Sequence[int],
    records: Sequence[bytes],
    subject: dict[str, Any],
    payload: dict[str, Any],
) -> list[ledger.Event]:
    """One anchoring entry per chunk of records (see trace.anchoring)."""
    return [
        ledger.Event(
            type=kind,
            actor=actor,
            subject={"first": ids[part.start], **subject},
            payload={
                **payload,
                "count": len(part),
                "batch": anchor(records[part.start : part.stop]),
            },
        )
        for part in chunked(len(ids))
    ]


def entry_of_each(count: int, entries: Sequence[ledger.Entry]) -> list[int]:
    """The index of the anchoring entry of each of `count` rows, chunk by chunk."""
    return [entry.index for part, entry in zip(chunked(count), entries, strict=True) for _ in part]


def with_indexes(
    rows: list[dict[str, Any]], entries: Sequence[ledger.Entry]
) -> list[dict[str, Any]]:
    for row, index in zip(rows, entry_of_each(len(rows), entries), strict=True):
        row["ledger_index"] = row["record_index"] = index
    return rows


def insert_lots(
    session: Session,
    merchant_id: int,
    receipts: Sequence[LotReceipt],
    *,
    actor: str,
    upload_id: int | None = None,
) -> list[int]:
    """Write checked receipts under `trace.lots_received` anchoring entries (no commit); ids."""
    if not receipts:
        return []
    columns = {name: [getattr(r, name) for r in receipts] for name in RECEIPT_FIELDS}
    return insert_lot_columns(session, merchant_id, columns, actor=actor, upload_id=upload_id)


def insert_lot_columns(
    session: Session,
    merchant_id: int,
    receipts: Mapping[str, Sequence[Any]],
    *,
    actor: str,
    upload_id: int | None = None,
) -> list[int]:
    """`insert_lots` of receipts given column by column: every name of RECEIPT_FIELDS → one
    value per receipt, as the LotReceipt field (uploads build no object per row)."""
    count = len(receipts["tlc"])
    if not count:
        return []
    table = IngredientLot.__table__  # type: ignore[attr-defined]
    ids = next_ids(session, table, count)
    columns = _lot_columns(merchant_id, receipts, upload_id)
    records = records_from([ids, *(columns[c] for c in LOT_COLUMNS)])
    subject = {"merchant": merchant_id, "upload": upload_id}
    layout = {"merchant_id": merchant_id, "upload_id": upload_id, "columns": ["id", *LOT_COLUMNS]}
    entries = ledger.append_many(
        session, anchor_events(LOTS_RECEIVED, actor, ids, records, subject, layout)
    )
    indexes = entry_of_each(len(ids), entries)
    columns.update(id=ids, ledger_index=indexes, record_index=indexes)
    columns["created_at"] = [utcnow()] * len(ids)
    insert_columns(session, table, columns)
    return ids


def insert_batches(
    session: Session,
    merchant_id: int,
    productions: Sequence[BatchProduction],
    resolved: Sequence[Sequence[ResolvedInput]],
    *,
    actor: str,
    upload_id: int | None = None,
) -> list[int]:
    """Write checked productions and their inputs under `trace.batches_produced` anchoring
    entries (no commit); the new ids. Inputs `pending` on a batch of the same list take its id."""
    if not productions:
        return []
    table = DishBatch.__table__  # type: ignore[attr-defined]
    ids = next_ids(session, table, len(productions))
    values, inputs = [], []
    for p, sources in zip(productions, resolved, strict=True):
        values.append(
            {
                "merchant_id": merchant_id, "batch_code": p.batch_code, "product_id": p.product_id,
                "quantity": float(p.quantity), "unit": p.unit, "completed_at": p.completed_at,
                "location": p.location, "reference_document_type": p.reference_document_type,
                "reference_document_number": p.reference_document_number, "status": "active",
                "upload_id": upload_id, "epcis_event_id": p.epcis_event_id,
            }
        )  # fmt: skip
        items = []
        for use, source in zip(p.inputs, sources, strict=True):
            source_id = ids[source.pending] if source.pending is not None else source.id
            assert source_id is not None
            items.append([source.kind, int(source_id), float(use.quantity), use.unit])
        inputs.append(sorted(items))
    records = records_of(
        [i, *(v[c] for c in BATCH_COLUMNS), used]
        for i, v, used in zip(ids, values, inputs, strict=True)
    )
    layout = {"merchant_id": merchant_id, "upload_id": upload_id}
    layout["columns"] = ["id", *BATCH_RECORD_COLUMNS]
    subject = {"merchant": merchant_id, "upload": upload_id}
    events = anchor_events(BATCHES_PRODUCED, actor, ids, records, subject, layout)
    created = utcnow()
    rows = [{**v, "id": i, "created_at": created} for i, v in zip(ids, values, strict=True)]
    rows = with_indexes(rows, ledger.append_many(session, events))
    insert_rows(session, table, rows)
    input_rows = [
        {
            "batch_id": row["id"], "lot_id": ident if kind == "lot" else None,
            "input_batch_id": ident if kind == "batch" else None, "quantity": quantity,
            "unit": unit, "ledger_index": row["ledger_index"],
        }
        for row, used in zip(rows, inputs, strict=True)
        for kind, ident, quantity, unit in used
    ]  # fmt: skip
    insert_rows(session, TransformationInput.__table__, input_rows)  # type: ignore[attr-defined]
    return ids
