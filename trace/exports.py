"""Regulator exports: the FSMA 204 sortable spreadsheet and an EPCIS 2.0 document.

Both are built from the same selection: receiving events (lots) and transformations (batches,
one spreadsheet row per input) of a lot code, a product and/or a date range, limited to the
merchants the caller may see. A lot code selects the lots and batches carrying it and the
transformations that used them. Rows are read with a few joined queries, not per record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from trace import fsma
from trace.access import Viewer
from trace.errors import InvalidRecord
from trace.models import (
    DishBatch,
    IngredientLot,
    Product,
    Supplier,
)
from trace.models import TransformationInput as Inputs
from trace.service import DEFAULT_TZ
from trace.throughput import collector_paused

Format = Literal["csv", "xlsx", "epcis"]


@dataclass(frozen=True, slots=True)
class Selection:
    """What to export: a lot code, a product (name or code), a date range (inclusive)."""

    lot: str | None = None
    product: str | None = None
    since: date | None = None
    until: date | None = None
    merchant_id: int | None = None

    def check(self) -> None:
        """Refuse a selection that cannot be right."""
        if self.since and self.until and self.since > self.until:
            raise InvalidRecord("from is after to", field="from")


def bounds(selection: Selection, tz: str) -> tuple[datetime | None, datetime | None]:
    zone = ZoneInfo(tz)
    start = end = None
    if selection.since:
        start = datetime.combine(selection.since, time(), zone).astimezone(UTC)
    if selection.until:
        end = datetime.combine(selection.until + timedelta(days=1), time(), zone).astimezone(UTC)
    return start, end


def scope(viewer: Viewer, selection: Selection) -> int | None:
    own = viewer.visible_merchant()
    if own is not None and selection.merchant_id not in (None, own):
        viewer.check_can_see(selection.merchant_id)
    return own if own is not None else selection.merchant_id


def _lot_filters(selection: Selection, merchant: int | None, tz: str) -> list[Any]:
    start, end = bounds(selection, tz)
    conditions: list[Any] = []
    if merchant is not None:
        conditions.append(IngredientLot.merchant_id == merchant)
    if start is not None:
        conditions.append(IngredientLot.received_at >= start)
    if end is not None:
        conditions.append(IngredientLot.received_at < end)
    if selection.lot:
        conditions.append(IngredientLot.tlc == selection.lot)
    if selection.product:
        conditions.append(or_(Product.name == selection.product, Product.code == selection.product))
    return conditions


def _batch_filters(selection: Selection, merchant: int | None, tz: str) -> list[Any]:
    start, end = bounds(selection, tz)
    conditions: list[Any] = []
    if merchant is not None:
        conditions.append(DishBatch.merchant_id == merchant)
    if start is not None:
        conditions.append(DishBatch.completed_at >= start)
    if end is not None:
        conditions.append(DishBatch.completed_at < end)
    if selection.product:
        conditions.append(or_(Product.name == selection.product, Product.code == selection.product))
    if selection.lot:
        used_lot = select(Inputs.batch_id).join(IngredientLot, IngredientLot.id == Inputs.lot_id)  # type: ignore[arg-type]
        used_lot = used_lot.where(IngredientLot.tlc == selection.lot)
        source = aliased(DishBatch)
        used_batch = select(Inputs.batch_id).join(source, source.id == Inputs.input_batch_id)  # type: ignore[arg-type]
        used_batch = used_batch.where(source.batch_code == selection.lot)
        conditions.append(
            or_(
                DishBatch.batch_code == selection.lot,
                DishBatch.id.in_(used_lot),  # type: ignore[union-attr]
                DishBatch.id.in_(used_batch),  # type: ignore[union-attr]
            )
        )
    return conditions


def receiving_rows(
    session: Session, selection: Selection, merchant: int | None, tz: str
) -> list[Any]:
    """The selected lots joined with product and supplier names."""
    stmt = (
        select(
            IngredientLot.id,
            IngredientLot.tlc,
            Product.name,
            IngredientLot.quantity,
            IngredientLot.unit,
            Supplier.name,
            Supplier.licence_number,
            Supplier.identifier,
            IngredientLot.tlc_source,
            IngredientLot.tlc_source_reference,
            IngredientLot.location,
            IngredientLot.received_at,
            IngredientLot.reference_document_type,
            IngredientLot.reference_document_number,
            IngredientLot.ledger_index,
            IngredientLot.expiry_date,
            IngredientLot.merchant_id,
            IngredientLot.epcis_event_id,
            IngredientLot.status,
            Product.code,
        )
        .join(Product, Product.id == IngredientLot.product_id)  # type: ignore[arg-type]
        .outerjoin(Supplier, Supplier.id == IngredientLot.supplier_id)  # type: ignore[arg-type]
        .where(*_lot_filters(selection, merchant, tz))
    )
    return list(session.execute(stmt))


def transformation_rows(
    session: Session, selection: Selection, merchant: int | None, tz: str
) -> tuple[list[Any], dict[int, list[Any]]]:
    """The selected batches, and each one's inputs (code, product, quantity, unit, kind)."""
    stmt = (
        select(
            DishBatch.id,
            DishBatch.batch_code,
            Product.name,
            DishBatch.quantity,
            DishBatch.unit,
            DishBatch.location,
            DishBatch.completed_at,
            DishBatch.reference_document_type,
            DishBatch.reference_document_number,
            DishBatch.ledger_index,
            DishBatch.merchant_id,
            DishBatch.status,
            Product.code,
            DishBatch.epcis_event_id,
        )
        .join(Product, Product.id == DishBatch.product_id)  # type: ignore[arg-type]
        .where(*_batch_filters(selection, merchant, tz))
    )
    batches = list(session.execute(stmt))
    lot, source = aliased(IngredientLot), aliased(DishBatch)
    lot_product, batch_product = aliased(Product), aliased(Product)
    selected = select(DishBatch.id).join(Product, Product.id == DishBatch.product_id)  # type: ignore[arg-type]
    selected = selected.where(*_batch_filters(selection, merchant, tz))
    inputs_stmt = (
        select(
            Inputs.batch_id,
            func.coalesce(lot.tlc, source.batch_code),
            func.coalesce(lot_product.name, batch_product.name),
            Inputs.quantity,
            Inputs.unit,
            Inputs.lot_id,
        )
        .outerjoin(lot, lot.id == Inputs.lot_id)  # type: ignore[arg-type]
        .outerjoin(lot_product, lot_product.id == lot.product_id)
        .outerjoin(source, source.id == Inputs.input_batch_id)  # type: ignore[arg-type]
        .outerjoin(batch_product, batch_product.id == source.product_id)
        .where(Inputs.batch_id.in_(selected))  # type: ignore[attr-defined]
        .order_by(Inputs.batch_id, Inputs.id)
    )
    inputs: dict[int, list[Any]] = {}
    for row in session.execute(inputs_stmt):
        inputs.setdefault(row[0], []).append(row)
    return batches, inputs


def fsma_events(
    *, session: Session, viewer: Viewer, selection: Selection, tz: str = DEFAULT_TZ
) -> list[fsma.ReceivingKde | fsma.TransformationKde]:
    """The FSMA 204 key data elements of the selected events."""
    selection.check()
    merchant = scope(viewer, selection)
    zone = ZoneInfo(tz)
    events: list[fsma.ReceivingKde | fsma.TransformationKde] = []
    for r in receiving_rows(session, selection, merchant, tz):
        supplier = f"{r[5]} ({r[6]})" if r[5] else ""
        events.append(
            fsma.ReceivingKde(
                tlc=r[1],
                product=r[2],
                quantity=r[3],
                unit=r[4],
                immediate_previous_source=supplier,
                tlc_source=r[8] or r[9] or "",
                location=r[10] or "",
                received_on=r[11].astimezone(zone).date(),
                reference_document_type=r[12] or "",
                reference_document_number=r[13] or "",
                ledger_index=r[14],
            )
        )
    batches, inputs = transformation_rows(session, selection, merchant, tz)
    for b in batches:
        used = tuple(
            fsma.TransformationInput(tlc=i[1], product=i[2], quantity=i[3], unit=i[4])
            for i in inputs.get(b[0], [])
        )
        events.append(
            fsma.TransformationKde(
                tlc=b[1],
                product=b[2],
                quantity=b[3],
                unit=b[4],
                location=b[5] or "",
                completed_on=b[6].astimezone(zone).date(),
                inputs=used,
                reference_document_type=b[7],
                reference_document_number=b[8],
                ledger_index=b[9],
            )
        )
    return events


def fsma_file(
    *,
    session: Session,
    viewer: Viewer,
    selection: Selection,
    fmt: Literal["csv", "xlsx"],
    lang: fsma.Lang = "en",
    tz: str = DEFAULT_TZ,
) -> bytes:
    """The sortable spreadsheet as CSV or XLSX bytes."""
    with collector_paused():
        return _fsma_file(session, viewer, selection, fmt, lang, tz)


def _fsma_file(
    session: Session, viewer: Viewer, selection: Selection, fmt: str, lang: fsma.Lang, tz: str
) -> bytes:
    frame = fsma.build_sheet(
        fsma_events(session=session, viewer=viewer, selection=selection, tz=tz), lang=lang
    )
    return fsma.to_csv(frame) if fmt == "csv" else fsma.to_xlsx(frame)
