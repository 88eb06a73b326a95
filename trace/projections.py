"""How `ledger verify` re-derives the trace tables from the entries that wrote them.

Each entry type below is appended by the trace services in the same transaction as the rows it
describes. Lots, batches (with their inputs) and allocations are recorded in chunks anchored by
one entry each (`AnchoredProjection`, trace/anchoring.py); master data, status changes,
corrections, uploads and EPCIS captures have one entry per row (`ledger.TableProjection`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, MetaData, Table, select

import ledger
from trace.anchoring import anchor, record_bytes

# Entry types (the `type` of each ledger entry this domain appends).
SUPPLIER_REGISTERED = "trace.supplier_registered"
CERTIFICATE_ADDED = "trace.certificate_added"
MERCHANT_REGISTERED = "trace.merchant_registered"
PRODUCT_REGISTERED = "trace.product_registered"
LOTS_RECEIVED = "trace.lots_received"
LOT_CORRECTED = "trace.lot_corrected"
LOT_TRANSFERRED = "trace.lot_transferred"
BATCHES_PRODUCED = "trace.batches_produced"
BATCH_CORRECTED = "trace.batch_corrected"
STATUS_CHANGED = "trace.status_changed"
BATCHES_ALLOCATED = "trace.batches_allocated"
UPLOAD_RECEIVED = "trace.upload_received"
UPLOAD_FINISHED = "trace.upload_finished"
EPCIS_CAPTURED = "trace.epcis_captured"

LOT_COLUMNS = (
    "merchant_id",
    "tlc",
    "product_id",
    "quantity",
    "unit",
    "supplier_id",
    "tlc_source",
    "tlc_source_reference",
    "received_at",
    "location",
    "reference_document_type",
    "reference_document_number",
    "expiry_date",
    "storage",
    "status",
)
BATCH_COLUMNS = (
    "merchant_id",
    "batch_code",
    "product_id",
    "quantity",
    "unit",
    "completed_at",
    "location",
    "reference_document_type",
    "reference_document_number",
    "status",
)
BATCH_RECORD_COLUMNS = (*BATCH_COLUMNS, "inputs")  # a batch's record includes its inputs
ALLOCATION_COLUMNS = ("order_line_id", "batch_id", "quantity", "allocated_at")


def input_key(item: Mapping[str, Any]) -> list[Any]:
    """One input in comparable form: [kind, id, quantity, unit]."""
    return [item["kind"], int(item["id"]), float(item["quantity"]), item["unit"]]


Originals = Callable[[Connection], dict[int, dict[str, Any]]]
Extras = Callable[[Connection], Iterator[tuple[int, dict[str, Any]]]]


class AnchoredProjection:
    """Rows recorded in chunks, each chunk anchored by one entry (trace.anchoring), and changed
    later by per-row entries (corrections, status changes).

    Keys: "anchor:<first row id>" for a chunk, whose root is recomputed from the rows' records
    (their original values: a column changed later takes the value the first later entry
    replaced, from `originals`); "<subject>:<id>" for a row changed later, compared column by
    column with the entries that changed it. A row edited behind the ledger's back changes its
    chunk's root, or differs from its last entry.
    """

    def __init__(
        self,
        table: str,
        *,
        anchor_type: str,
        subject: str,
        later: Iterable[str],
        columns: Sequence[str],
        originals: Originals,
        extras: Extras | None = None,
    ) -> None:
        self.table = table
        self.anchor_type = anchor_type
        self.subject = subject
        self.later = frozenset(later)
        self.columns = tuple(columns)
        self.originals = originals
        self.extras = extras  # derived columns (a batch's inputs), streamed in row order

    @property
    def entry_types(self) -> frozenset[str]:
        """The anchoring type and the per-row types."""
        return self.later | {self.anchor_type}

    def row_key(self, envelope: Mapping[str, Any]) -> str | None:
        """ "anchor:<first id>" or "<subject>:<id>"."""
        subject = envelope.get("subject") or {}
        if envelope.get("type") == self.anchor_type:
            return f"anchor:{subject['first']}"
        ident = subject.get(self.subject)
        return None if ident is None else f"{self.subject}:{ident}"

    def fields(self, index: int, envelope: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The chunk's root and size, or the columns a later entry sets."""
        payload = envelope.get("payload") or {}
        if envelope.get("type") == self.anchor_type:
            batch = payload.get("batch") or {}
            return {"root": batch.get("root"), "size": batch.get("size")}
        return {c: payload[c] for c in self.columns if c in payload}

    def current_rows(self, connection: Connection) -> Iterator[ledger.CurrentRow]:
        """Chunk roots recomputed from the stored rows, and the rows changed later."""
        table = Table(self.table, MetaData(), autoload_with=connection)
        stored = [c for c in self.columns if c in table.c]
        originals = self.originals(connection)
        extras = self.extras(connection) if self.extras else iter(())
        pending = next(extras, None)
        stmt = (
            select(
                table.c.id,
                table.c.record_index,
                table.c.ledger_index,
                *(table.c[c] for c in stored),
            )
            .order_by(table.c.record_index, table.c.id)
            .execution_options(yield_per=10_000)
        )
        group: Any = None
        first: int | None = None
        records: list[bytes] = []
        for row in connection.execute(stmt):
            ident, record_index, index = row[0], row[1], row[2]
            current = dict(zip(stored, row[3:], strict=True))
            if pending is not None and pending[0] == ident:
                current.update(pending[1])
                pending = next(extras, None)
            if record_index != group and records:
                yield _anchor_row(first, group, records)
                records = []
            if not records:
                group, first = record_index, ident
            changed = originals.get(ident, {})
            values = [changed[c] if c in changed else current.get(c) for c in self.columns]
            records.append(record_bytes([ident, *values]))
            if index != record_index or changed:
                yield ledger.CurrentRow(
                    key=f"{self.subject}:{ident}",
                    ledger_index=None if index is None else int(index),
                    values=current,
                )
        if records:
            yield _anchor_row(first, group, records)


def _anchor_row(first: Any, record_index: Any, records: list[bytes]) -> ledger.CurrentRow:
    summary = anchor(records)
    index = None if record_index is None else int(record_index)
    return ledger.CurrentRow(key=f"anchor:{first}", ledger_index=index, values=summary)


def _originals(column: str) -> Originals:
    """Values rows had before later entries: the first correction's `previous` per field, and
    "active" for rows whose status changed (every row starts active)."""

    def load(connection: Connection) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        corrections = Table("trace_corrections", MetaData(), autoload_with=connection)
        owner = corrections.c[column]
        rows = connection.execute(
            select(owner, corrections.c.changed, corrections.c.previous)
            .where(owner.is_not(None))
            .order_by(corrections.c.id)
        )
        for ident, changed, previous in rows:
            known = out.setdefault(int(ident), {})
            for name in changed or []:
                if name not in known and name in (previous or {}):
                    known[name] = previous[name]
        statuses = Table("trace_status_events", MetaData(), autoload_with=connection)
        owner = statuses.c[column]
        for (ident,) in connection.execute(select(owner).where(owner.is_not(None)).distinct()):
            out.setdefault(int(ident), {}).setdefault("status", "active")
        return out

    return load


def _batch_inputs(connection: Connection) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each batch's inputs as a sorted [kind, id, quantity, unit] list, in (record_index, id)
    order of the batches."""
    inputs = Table("transformation_inputs", MetaData(), autoload_with=connection)
    batches = Table("dish_batches", MetaData(), autoload_with=connection)
    stmt = (
        select(
            inputs.c.batch_id,
            inputs.c.lot_id,
            inputs.c.input_batch_id,
            inputs.c.quantity,
            inputs.c.unit,
        )
        .join(batches, batches.c.id == inputs.c.batch_id)
        .order_by(batches.c.record_index, batches.c.id, inputs.c.id)
        .execution_options(yield_per=10_000)
    )
    current: Any = None
    items: list[list[Any]] = []
    for batch_id, lot_id, input_batch_id, quantity, unit in connection.execute(stmt):
        if batch_id != current and current is not None:
            yield int(current), {"inputs": sorted(items)}
            items = []
        current = batch_id
        kind, ident = ("lot", lot_id) if lot_id is not None else ("batch", input_batch_id)
        items.append(input_key({"kind": kind, "id": ident, "quantity": quantity, "unit": unit}))
    if current is not None:
        yield int(current), {"inputs": sorted(items)}


PROJECTIONS: tuple[ledger.Projection, ...] = (
    ledger.TableProjection(
        "suppliers",
        {SUPPLIER_REGISTERED},
        "subject.supplier",
        ["name", "licence_number", "identifier", "address", "contact"],
    ),
    ledger.TableProjection(
        "supplier_certificates",
        {CERTIFICATE_ADDED},
        "subject.certificate",
        ["supplier_id", "kind", "number", "issued_on", "expires_on"],
    ),
    ledger.TableProjection(
        "merchants",
        {MERCHANT_REGISTERED},
        "subject.merchant",
        ["name", "licence_number", "licence_expires_on", "location", "contact", "identifier"],
    ),
    ledger.TableProjection(
        "products", {PRODUCT_REGISTERED}, "subject.product", ["name", "code", "category"]
    ),
    AnchoredProjection(
        "ingredient_lots",
        anchor_type=LOTS_RECEIVED,
        subject="lot",
        later={LOT_CORRECTED, STATUS_CHANGED},
        columns=LOT_COLUMNS,
        originals=_originals("lot_id"),
    ),
    AnchoredProjection(
        "dish_batches",
        anchor_type=BATCHES_PRODUCED,
        subject="batch",
        later={BATCH_CORRECTED, STATUS_CHANGED},
        columns=BATCH_RECORD_COLUMNS,
        originals=_originals("batch_id"),
        extras=_batch_inputs,
    ),
    ledger.TableProjection(
        "lot_transfers",
        {LOT_TRANSFERRED},
        "subject.transfer",
        ["lot_id", "from_merchant_id", "to_merchant_id", "quantity", "unit", "shipped_at"],
    ),
    AnchoredProjection(
        "batch_allocations",
        anchor_type=BATCHES_ALLOCATED,
        subject="allocation",
        later=(),
        columns=ALLOCATION_COLUMNS,
        originals=lambda _connection: {},
    ),
    ledger.TableProjection(
        "trace_status_events",
        {STATUS_CHANGED},
        "subject.status_event",
        ["lot_id", "batch_id", "action", "status", "reason", "at"],
    ),
    ledger.TableProjection(
        "trace_corrections",
        {LOT_CORRECTED, BATCH_CORRECTED},
        "subject.correction",
        {
            "lot_id": "lot_id",
            "batch_id": "batch_id",
            "corrects_index": "corrects",
            "changed": "changed",
            "previous": "previous",
            "reason": "reason",
        },
    ),
    ledger.TableProjection(
        "trace_uploads",
        {UPLOAD_RECEIVED, UPLOAD_FINISHED},
        "subject.upload",
        [
            "merchant_id",
            "kind",
            "filename",
            "content_digest",
            "partial",
            "outcome",
            "created_count",
            "error_count",
        ],
    ),
    ledger.TableProjection(
        "epcis_events",
        {EPCIS_CAPTURED},
        "subject.epcis_event",
        [
            "merchant_id",
            "event_id",
            "declaration",
            "event_type",
            "biz_step",
            "event_time",
            "document",
        ],
    ),
)
