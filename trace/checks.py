"""Checking receipts and productions before they are written, many at a time.

One pass collects every problem (with the position of the record and the field) so uploads can
report them all; single-record services raise the first. Database look-ups are batched: a
10,000-row upload costs a handful of queries, not 10,000.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import Session

from trace.columns import storage_class_for, unit_for
from trace.commands import BatchProduction, InputUse, LotReceipt, ResolvedInput
from trace.errors import (
    CycleRefused,
    DuplicateCode,
    FutureTime,
    InvalidRecord,
    InvalidStatusChange,
    LicenceExpired,
    MerchantMismatch,
    TraceError,
    UnknownReference,
)
from trace.models import (
    DishBatch,
    IngredientLot,
    Merchant,
    Product,
    Supplier,
    SupplierCertificate,
)
from trace.problems import BIG_CHUNK, Problem, chunks, local_date
from trace.rules import rules
from trace.sources import SourceLookup

Ref = tuple[str, int]  # ("lot" | "batch", id)
LOT_TEXT_LIMITS = {
    "tlc": 200,
    "tlc_source": 300,
    "tlc_source_reference": 300,
    "location": 200,
    "reference_document_type": 80,
    "reference_document_number": 120,
}
BATCH_TEXT_LIMITS = {
    "batch_code": 200,
    "location": 200,
    "reference_document_type": 80,
    "reference_document_number": 120,
}


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(
        self,
        index: int,
        field: str,
        reason: str,
        error: type[TraceError] = InvalidRecord,
        input_index: int | None = None,
    ) -> None:
        self.problems.append(Problem(index, field, reason, error, input_index))


def _texts(
    record: Any, limits: dict[str, int], required: set[str], index: int, out: _Collector
) -> dict[str, str | None]:
    cleaned: dict[str, str | None] = {}
    for name, limit in limits.items():
        value = getattr(record, name)
        text = value.strip() if isinstance(value, str) else None
        if not text:
            if name in required:
                out.add(index, name, f"{name} is required")
            cleaned[name] = None
        elif len(text) > limit:
            out.add(index, name, f"{name} is longer than {limit} characters")
            cleaned[name] = text
        else:
            cleaned[name] = text
    return cleaned


def _quantity_unit(
    quantity: float,
    unit: str,
    index: int,
    out: _Collector,
    *,
    prefix: str = "",
    sub: int | None = None,
) -> str:
    if not (isinstance(quantity, int | float) and math.isfinite(quantity) and quantity > 0):
        out.add(
            index, f"{prefix}quantity", "quantity must be a number greater than 0", input_index=sub
        )
    found = unit_for(unit or "")
    if found is None:
        out.add(index, f"{prefix}unit", f"unknown unit {unit!r}", input_index=sub)
        return unit
    return found.code


def _when(moment: datetime, field: str, index: int, now: datetime, out: _Collector) -> bool:
    if moment.tzinfo is None:
        out.add(index, field, f"{field} needs a time zone")
        return False
    if moment > now + rules().future_tolerance:
        out.add(index, field, f"{field} {moment.isoformat()} is in the future", FutureTime)
        return False
    return True


def _licence(merchant: Merchant, day: date, index: int, field: str, out: _Collector) -> None:
    if merchant.licence_expires_on < day:
        out.add(
            index,
            field,
            f"the merchant's food business licence {merchant.licence_number} expired on "
            f"{merchant.licence_expires_on.isoformat()}",
            LicenceExpired,
        )


def _licences(
    merchant: Merchant, moments: Sequence[datetime], field: str, tz: str, out: _Collector
) -> None:
    # Distinct moments only: an upload's receive times repeat down the file.
    if not moments or max(local_date(m, tz) for m in set(moments)) <= merchant.licence_expires_on:
        return  # the common case: the licence covers every record
    for i, moment in enumerate(moments):
        _licence(merchant, local_date(moment, tz), i, field, out)


def _existing(
    session: Session, column: Any, key: Any, values: Iterable[Any], *where: Any
) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    stmt = select(key, column).where(key.in_(bindparam("keys", expanding=True)), *where)
    for part in chunks(sorted(set(values)), BIG_CHUNK):
        out.update(dict(session.execute(stmt, {"keys": part}).all()))
    return out


_CODES_OF = {
    "lot": (IngredientLot.__tablename__, "tlc"),
    "batch": (DishBatch.__tablename__, "batch_code"),
}


def _codes_in(session: Session, kind: str, merchant_id: int, codes: list[str]) -> list[Any]:
    """(code, id) of the merchant's lots or batches among `codes`, by the driver directly: a
    20,000-code expanding IN through the SQL expression layer costs ~10 µs a value to compile,
    more than the query. PostgreSQL takes the codes as one parameter: one text of lines, split
    by the server (a text[] parameter costs the driver ~2 µs a code to write), or a text[]
    when a code is empty or spans lines."""
    table, key = _CODES_OF[kind]
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        lines = "\n".join(codes)
        if "" in codes or lines.count("\n") != len(codes) - 1:
            sql = f"SELECT {key}, id FROM {table} WHERE merchant_id = %s AND {key} = ANY(%s)"  # noqa: S608
            return list(conn.exec_driver_sql(sql, (merchant_id, codes)).fetchall())
        sql = (
            f"SELECT t.{key}, t.id FROM unnest(string_to_array(%s, E'\\n')) AS c(code) "  # noqa: S608
            f"JOIN {table} t ON t.merchant_id = %s AND t.{key} = c.code"
        )
        return list(conn.exec_driver_sql(sql, (lines, merchant_id)).fetchall())
    rows: list[Any] = []
    for start in range(0, len(codes), BIG_CHUNK):
        part = codes[start : start + BIG_CHUNK]
        marks = ",".join("?" * len(part))
        sql = f"SELECT {key}, id FROM {table} WHERE merchant_id = ? AND {key} IN ({marks})"  # noqa: S608
        rows += conn.exec_driver_sql(sql, (merchant_id, *part)).fetchall()
    return rows


def taken_codes(
    session: Session, merchant_id: int, codes: Iterable[str], *, exclude: Ref | None = None
) -> dict[str, str]:
    """Codes already used by the merchant's lots or batches (other than `exclude`) → the user."""
    wanted = sorted({str(code) for code in codes})
    used: dict[str, str] = {}
    if not wanted:
        return used
    for kind in ("lot", "batch"):
        for code, row_id in _codes_in(session, kind, merchant_id, wanted):
            if (kind, row_id) != exclude:
                used.setdefault(code, f"{kind} {row_id}")
    return used


def check_receipts(
    session: Session,
    merchant: Merchant,
    receipts: Sequence[LotReceipt],
    *,
    now: datetime,
    tz: str,
    exclude: Ref | None = None,
    trusted: bool = False,
) -> tuple[list[LotReceipt], list[Problem]]:
    """Normalised receipts (units, storage classes, trimmed text) and every problem found.

    `exclude` is the lot being corrected: its own code does not count as taken. `trusted`
    receipts come from `row_validation`, which already checked and normalised every field and
    repeated codes: only the merchant's licence and the database references are checked.
    """
    assert merchant.id is not None
    if trusted:
        columns = {name: [getattr(r, name) for r in receipts] for name in REFERENCE_FIELDS}
        return list(receipts), check_receipt_columns(
            session, merchant, columns, tz=tz, exclude=exclude
        )
    out = _Collector()
    cleaned: list[LotReceipt] = []
    first_row: dict[str, int] = {}
    for i, r in enumerate(receipts):
        texts = _texts(r, LOT_TEXT_LIMITS, {"tlc"}, i, out)
        unit = _quantity_unit(r.quantity, r.unit, i, out)
        storage = r.storage
        if storage is not None:
            storage = storage_class_for(storage)
            if storage is None:
                out.add(i, "storage", f"{r.storage!r} is not ambient, chilled or frozen")
        if _when(r.received_at, "received_at", i, now, out):
            day = local_date(r.received_at, tz)
            _licence(merchant, day, i, "received_at", out)
            if r.expiry_date is not None and r.expiry_date < day:
                out.add(
                    i, "expiry_date", f"the lot expired on {r.expiry_date} before it was received"
                )
        tlc = texts["tlc"]
        if tlc is not None:
            if tlc in first_row:
                out.add(i, "tlc", f"lot code {tlc!r} is given twice", DuplicateCode)
            first_row.setdefault(tlc, i)
        cleaned.append(replace(r, unit=unit, storage=storage, **texts))  # type: ignore[arg-type]
    columns = {name: [getattr(r, name) for r in cleaned] for name in REFERENCE_FIELDS}
    _check_lot_references(session, merchant.id, columns, out, tz, exclude)
    return cleaned, out.problems


# The receipt fields the database checks read.
REFERENCE_FIELDS = ("tlc", "product_id", "supplier_id", "received_at")


def check_receipt_columns(
    session: Session,
    merchant: Merchant,
    receipts: Mapping[str, Sequence[Any]],
    *,
    tz: str,
    exclude: Ref | None = None,
) -> list[Problem]:
    """The problems `check_receipts` finds in trusted receipts, given column by column
    (REFERENCE_FIELDS → one value per receipt): the merchant's licence and the references."""
    assert merchant.id is not None
    out = _Collector()
    _licences(merchant, receipts["received_at"], "received_at", tz, out)
    _check_lot_references(session, merchant.id, receipts, out, tz, exclude)
    return out.problems


def _check_lot_references(
    session: Session,
    merchant_id: int,
    receipts: Mapping[str, Sequence[Any]],
    out: _Collector,
    tz: str,
    exclude: Ref | None,
) -> None:
    product_ids, supplier_ids = receipts["product_id"], receipts["supplier_id"]
    moments, tlcs = receipts["received_at"], receipts["tlc"]
    products = _existing(session, Product.id, Product.id, product_ids)
    suppliers = _existing(session, Supplier.name, Supplier.id, (s for s in supplier_ids if s))
    certificates: dict[int, list[tuple[date, str]]] = {}
    for part in chunks(suppliers):
        rows = session.execute(
            select(
                SupplierCertificate.supplier_id,
                SupplierCertificate.expires_on,
                SupplierCertificate.kind,
            ).where(SupplierCertificate.supplier_id.in_(part))  # type: ignore[attr-defined]
        )
        for sid, expires, kind in rows:
            certificates.setdefault(sid, []).append((expires, kind))
    used = taken_codes(session, merchant_id, (t for t in tlcs if t), exclude=exclude)
    # The latest expiry per supplier: a supplier can supply on a day if it is not earlier.
    latest = {sid: max(expires for expires, _ in held) for sid, held in certificates.items()}
    days: dict[datetime, date] = {}
    if not _may_fail(product_ids, products, supplier_ids, suppliers, latest, moments, used, tz):
        return  # the common case, told by a few passes over distinct values: nothing to report
    for i, (product, supplier, moment, tlc) in enumerate(
        zip(product_ids, supplier_ids, moments, tlcs, strict=True)
    ):
        if product not in products:
            out.add(i, "product", f"no product {product}", UnknownReference)
        if supplier is not None:
            if supplier not in suppliers:
                out.add(i, "supplier", f"no supplier {supplier}", UnknownReference)
            elif supplier in latest and moment.tzinfo is not None:
                day = days.get(moment)
                if day is None:
                    day = days[moment] = local_date(moment, tz)
                if latest[supplier] < day:
                    out.add(
                        i,
                        "supplier",
                        f"every certificate of supplier {suppliers[supplier]} had expired "
                        f"(latest on {latest[supplier].isoformat()})",
                        LicenceExpired,
                    )
        if tlc in used:
            out.add(i, "tlc", f"lot code {tlc!r} is already recorded ({used[tlc]})", DuplicateCode)


def _may_fail(
    product_ids: Sequence[Any],
    products: Mapping[Any, Any],
    supplier_ids: Sequence[Any],
    suppliers: Mapping[Any, Any],
    latest: Mapping[int, date],
    moments: Sequence[datetime],
    used: Mapping[str, str],
    tz: str,
) -> bool:
    """Whether any receipt may have a reference problem (False: none has)."""
    if used or not products.keys() >= set(product_ids):
        return True
    named = set(supplier_ids) - {None}
    if not suppliers.keys() >= named:
        return True
    certified = named & latest.keys()
    if not certified:
        return False
    aware = {m for m in set(moments) if m.tzinfo is not None}
    if not aware:
        return False
    last_day = max(local_date(m, tz) for m in aware)
    return min(latest[s] for s in certified) < last_day


def check_productions(
    session: Session,
    merchant: Merchant,
    productions: Sequence[BatchProduction],
    *,
    now: datetime,
    tz: str,
    exclude: Ref | None = None,
) -> tuple[list[BatchProduction], list[list[ResolvedInput]], list[Problem]]:
    """Normalised productions, their resolved inputs, and every problem found.

    An input may name (by code) a batch made earlier in the same list: it comes back `pending`.
    `exclude` is the batch being corrected: its own code does not count as taken.
    """
    assert merchant.id is not None
    out = _Collector()
    cleaned: list[BatchProduction] = []
    positions: dict[str, int] = {}
    for i, p in enumerate(productions):
        texts = _texts(p, BATCH_TEXT_LIMITS, {"batch_code"}, i, out)
        unit = _quantity_unit(p.quantity, p.unit, i, out)
        if _when(p.completed_at, "completed_at", i, now, out):
            _licence(merchant, local_date(p.completed_at, tz), i, "completed_at", out)
        if not p.inputs:
            out.add(i, "inputs", "a batch needs at least one input lot or batch")
        inputs = []
        for j, use in enumerate(p.inputs):
            input_unit = _quantity_unit(use.quantity, use.unit, i, out, prefix="input_", sub=j)
            inputs.append(
                replace(use, unit=input_unit, code=use.code.strip() if use.code else None)
            )
        code = texts["batch_code"]
        if code is not None:
            if code in positions:
                out.add(i, "batch_code", f"batch code {code!r} is given twice", DuplicateCode)
            positions.setdefault(code, i)
        cleaned.append(replace(p, unit=unit, inputs=tuple(inputs), **texts))  # type: ignore[arg-type]
    products = _existing(session, Product.id, Product.id, (p.product_id for p in cleaned))
    used = taken_codes(
        session, merchant.id, (p.batch_code for p in cleaned if p.batch_code), exclude=exclude
    )
    for i, p in enumerate(cleaned):
        if p.product_id not in products:
            out.add(i, "product", f"no product {p.product_id}", UnknownReference)
        if p.batch_code in used:
            out.add(
                i,
                "batch_code",
                f"batch code {p.batch_code!r} is already recorded ({used[p.batch_code]})",
                DuplicateCode,
            )
    resolved = _resolve_all(session, merchant.id, cleaned, positions, out, tz)
    return cleaned, resolved, out.problems


def _resolve_all(
    session: Session,
    merchant_id: int,
    productions: list[BatchProduction],
    positions: dict[str, int],
    out: _Collector,
    tz: str,
) -> list[list[ResolvedInput]]:
    uses = [use for p in productions for use in p.inputs]
    lookup = SourceLookup(session, merchant_id, uses, exclude_codes=positions.keys())
    resolved: list[list[ResolvedInput]] = []
    for i, p in enumerate(productions):
        found: list[ResolvedInput] = []
        seen: dict[tuple[str, Any], int] = {}
        for j, use in enumerate(p.inputs):
            source = _source(use, i, productions, positions, lookup)
            if isinstance(source, Problem):
                out.problems.append(replace(source, index=i, input_index=j))
                continue
            key = (source.kind, source.id if source.pending is None else f"#{source.pending}")
            if key in seen:
                out.add(i, "input_code", f"input {use.label()} is listed twice", InvalidRecord, j)
                continue
            seen[key] = j
            _check_input(source, use, p, merchant_id, i, j, out, tz)
            found.append(source)
        resolved.append(found)
    return resolved


def _source(
    use: InputUse,
    i: int,
    productions: list[BatchProduction],
    positions: dict[str, int],
    lookup: SourceLookup,
) -> ResolvedInput | Problem:
    code = use.code
    if code is not None and code == productions[i].batch_code:
        return Problem(i, "input_code", "a batch cannot be its own input", CycleRefused)
    if code is not None and code in positions:
        at = positions[code]
        if at > i:
            return Problem(
                i, "input_code", f"batch {code!r} is made later in this submission", InvalidRecord
            )
        made = productions[at]
        return ResolvedInput("batch", None, -1, "active", made.completed_at, pending=at, code=code)
    return lookup.find(use, i)


def _check_input(
    source: ResolvedInput,
    use: InputUse,
    p: BatchProduction,
    merchant_id: int,
    i: int,
    j: int,
    out: _Collector,
    tz: str,
) -> None:
    label = f"{source.kind} {source.code or source.id}"
    mine = source.pending is not None or source.merchant_id == merchant_id
    if not mine and merchant_id not in source.transferred_to:
        out.add(
            i,
            "input_code",
            f"{label} belongs to another merchant and was not transferred to this one",
            MerchantMismatch,
            j,
        )
    if source.status != "active":
        out.add(
            i, "input_code", f"{label} is {source.status.replace('_', ' ')}", InvalidStatusChange, j
        )
    if p.completed_at.tzinfo is not None and source.at > p.completed_at:
        out.add(
            i, "input_code", f"{label} was recorded after the batch was completed", InvalidRecord, j
        )
    if (
        source.expiry_date is not None
        and p.completed_at.tzinfo is not None
        and source.expiry_date < local_date(p.completed_at, tz)
    ):
        out.add(
            i,
            "input_code",
            f"{label} expired on {source.expiry_date.isoformat()}",
            InvalidRecord,
            j,
        )
