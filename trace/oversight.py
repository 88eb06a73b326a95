"""Completeness and expiry oversight: per merchant, missing KDEs and licences expiring soon.

Counts come from SQL aggregates (one pass per table, grouped by merchant), so the admin
overview costs the same for 50 or 500,000 records; the records with gaps are listed from a
bounded query and described by the pure `trace.completeness` functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, exists, func, or_, select
from sqlmodel import Session

from trace import completeness as pure
from trace.access import Viewer
from trace.models import (
    DishBatch,
    IngredientLot,
    Merchant,
    Product,
    Supplier,
    SupplierCertificate,
    TransformationInput,
)
from trace.rules import rules


@dataclass(frozen=True, slots=True)
class MerchantOversight:
    """One merchant's completeness and the licences and certificates that need attention."""

    merchant: Merchant
    completeness: pure.Completeness
    expiring: tuple[pure.Expiry, ...]


def _blank(column: Any) -> Any:
    return or_(column.is_(None), func.trim(column) == "")


def _lot_missing() -> Mapping[str, Any]:
    lot = IngredientLot
    return {
        "tlc": _blank(lot.tlc),
        "quantity": _blank(lot.unit),
        "product": lot.product_id.is_(None),  # type: ignore[union-attr]
        "supplier": lot.supplier_id.is_(None),  # type: ignore[union-attr]
        "location": _blank(lot.location),
        "received_at": lot.received_at.is_(None),  # type: ignore[union-attr]
        "tlc_source": _blank(lot.tlc_source) & _blank(lot.tlc_source_reference),
        "reference_document": _blank(lot.reference_document_type)
        | _blank(lot.reference_document_number),
    }


def _batch_missing() -> Mapping[str, Any]:
    batch = DishBatch
    has_inputs = exists().where(TransformationInput.batch_id == batch.id)
    return {
        "inputs": ~has_inputs,
        "batch_code": _blank(batch.batch_code),
        "location": _blank(batch.location),
        "completed_at": batch.completed_at.is_(None),  # type: ignore[union-attr]
        "quantity": _blank(batch.unit),
        "product": batch.product_id.is_(None),  # type: ignore[union-attr]
        "reference_document": _blank(batch.reference_document_type)
        | _blank(batch.reference_document_number),
    }


def _counts(
    session: Session,
    model: Any,
    conditions: Mapping[str, Any],
    keys: Sequence[str],
    merchant: int | None,
) -> dict[int, tuple[int, dict[str, int]]]:
    columns = [func.sum(case((conditions[k], 1), else_=0)) for k in keys]
    stmt = select(model.merchant_id, func.count(), *columns).group_by(model.merchant_id)
    if merchant is not None:
        stmt = stmt.where(model.merchant_id == merchant)
    return {
        row[0]: (int(row[1]), {k: int(v or 0) for k, v in zip(keys, row[2:], strict=True)})
        for row in session.execute(stmt)
    }


def _gaps(
    session: Session, merchant_id: int, limit: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rules_ = rules()
    lot_conditions = [_lot_missing()[k.key] for k in rules_.receiving_kdes]
    lot = IngredientLot
    lots = session.execute(
        select(
            lot.id,
            lot.tlc,
            lot.quantity,
            lot.unit,
            Product.name.label("product"),
            lot.supplier_id,
            lot.location,
            lot.received_at,
            lot.tlc_source,
            lot.tlc_source_reference,
            lot.reference_document_type,
            lot.reference_document_number,
        )
        .join(Product, Product.id == lot.product_id)  # type: ignore[arg-type]
        .where(lot.merchant_id == merchant_id, or_(*lot_conditions))
        .order_by(lot.id)
        .limit(limit)
    ).mappings()
    batch = DishBatch
    inputs = (
        select(func.count())
        .where(TransformationInput.batch_id == batch.id)
        .scalar_subquery()
        .label("inputs")
    )
    batch_conditions = [_batch_missing()[k.key] for k in rules_.transformation_kdes]
    batches = session.execute(
        select(
            batch.id,
            batch.batch_code,
            batch.quantity,
            batch.unit,
            Product.name.label("product"),
            batch.location,
            batch.completed_at,
            batch.reference_document_type,
            batch.reference_document_number,
            inputs,
        )
        .join(Product, Product.id == batch.product_id)  # type: ignore[arg-type]
        .where(batch.merchant_id == merchant_id, or_(*batch_conditions))
        .order_by(batch.id)
        .limit(limit)
    ).mappings()
    return [dict(r) for r in lots], [dict(r) for r in batches]


MERCHANT_LICENCE = "食品经营许可证 food business licence"


def _document(
    kind: str, holder_id: int, holder: str, document: str, number: str, expires_on: date
) -> dict[str, Any]:
    return {
        "holder_kind": kind,
        "holder_id": holder_id,
        "holder": holder,
        "document": document,
        "number": number,
        "expires_on": expires_on,
    }


def _documents(session: Session, merchant: int | None) -> list[dict[str, Any]]:
    """Merchant licences, and certificates of suppliers (of `merchant`'s lots, if given)."""
    stmt = select(Merchant.id, Merchant.name, Merchant.licence_number, Merchant.licence_expires_on)
    if merchant is not None:
        stmt = stmt.where(Merchant.id == merchant)
    docs = [
        _document("merchant", i, n, MERCHANT_LICENCE, no, e)
        for i, n, no, e in session.execute(stmt)
    ]
    certs = select(
        Supplier.id, Supplier.name, SupplierCertificate.kind, SupplierCertificate.number,
        SupplierCertificate.expires_on,
    ).join(Supplier, Supplier.id == SupplierCertificate.supplier_id)  # type: ignore[arg-type]  # fmt: skip
    if merchant is not None:
        used = select(IngredientLot.supplier_id).where(IngredientLot.merchant_id == merchant)
        certs = certs.where(Supplier.id.in_(used))  # type: ignore[union-attr]
    docs += [_document("supplier", *row) for row in session.execute(certs)]
    return docs


def oversight(
    *, session: Session, viewer: Viewer, today: date, merchant_id: int | None = None, gaps: int = 50
) -> list[MerchantOversight]:
    """Completeness and expiring documents per merchant the viewer may see (or just one)."""
    own = viewer.visible_merchant()
    if own is not None:
        viewer.check_can_see(merchant_id if merchant_id is not None else own)
    scope = own if own is not None else merchant_id
    r = rules()
    lot_keys = [k.key for k in r.receiving_kdes]
    batch_keys = [k.key for k in r.transformation_kdes]
    lot_counts = _counts(session, IngredientLot, _lot_missing(), lot_keys, scope)
    batch_counts = _counts(session, DishBatch, _batch_missing(), batch_keys, scope)
    stmt = select(Merchant).order_by(Merchant.id)
    if scope is not None:
        stmt = stmt.where(Merchant.id == scope)
    expiring = pure.expiring(_documents(session, scope), today=today, window=r.licence_warning)
    out = []
    for merchant in session.execute(stmt).scalars():
        assert merchant.id is not None
        lots, lot_missing = lot_counts.get(merchant.id, (0, {}))
        batches, batch_missing = batch_counts.get(merchant.id, (0, {}))
        required = lots * len(lot_keys) + batches * len(batch_keys)
        missing = _merge(lot_missing, batch_missing)
        gap_rows = (
            _gaps(session, merchant.id, gaps)
            if (scope is not None and any(missing.values()))
            else ([], [])
        )
        report = pure.Completeness(
            records=lots + batches,
            required=required,
            present=required - sum(missing.values()),
            missing_by_kde={k: v for k, v in missing.items() if v},
            gaps=_gap_list(gap_rows, r),
        )
        mine = tuple(
            e for e in expiring
            if (e.holder_kind == "merchant" and e.holder_id == merchant.id)
            or (e.holder_kind == "supplier" and scope is not None)
        )  # fmt: skip
        out.append(MerchantOversight(merchant, report, mine))
    return out


def expiring_documents(*, session: Session, today: date) -> list[pure.Expiry]:
    """Every merchant licence and supplier certificate expired or expiring soon (admin view)."""
    return pure.expiring(_documents(session, None), today=today, window=rules().licence_warning)


def _merge(lots: Mapping[str, int], batches: Mapping[str, int]) -> dict[str, int]:
    """Missing counts keyed "lot:<kde>" and "batch:<kde>" (the two lists share names)."""
    return {
        **{f"lot:{k}": v for k, v in lots.items()},
        **{f"batch:{k}": v for k, v in batches.items()},
    }


def _gap_list(
    rows: tuple[list[dict[str, Any]], list[dict[str, Any]]], r: Any
) -> tuple[pure.Gap, ...]:
    lots, batches = rows
    found = pure.completeness(
        lots, batches, receiving=r.receiving_kdes, transformation=r.transformation_kdes
    )
    return found.gaps
