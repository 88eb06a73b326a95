"""Merchant uploads: CSV/XLSX receiving and production records (and EPCIS documents).

`submit_upload` stores the file and its upload row (idempotent by content digest per merchant
and kind: the same file again answers with the first upload); `process_upload` validates every
row and either writes all records (or, with `partial`, the good ones) in one transaction, or
writes nothing and keeps the error report. Large files are processed by the background task
`trace.import_upload`; progress is saved on the upload row between phases.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import or_, select
from sqlmodel import Session

from columns import utcnow
from trace import masterdata
from trace.access import Viewer
from trace.checks import check_productions, check_receipt_columns
from trace.commands import BatchProduction, InputUse
from trace.errors import InvalidRecord, NotFound, UploadTooLarge
from trace.models import DishBatch, IngredientLot, LotTransfer, Supplier, Upload, UploadBlob
from trace.problems import Problem, chunks, now_utc
from trace.projections import UPLOAD_FINISHED, UPLOAD_RECEIVED
from trace.recording import RECEIPT_FIELDS, insert_batches, insert_lot_columns
from trace.row_validation import validate_receiving, validate_rows
from trace.rules import rules
from trace.service import DEFAULT_TZ, merchant_row
from trace.tabular import DEFAULT_MAX_BYTES, UploadError, content_digest, read_table
from trace.throughput import collector_paused
from trace.upload_records import ProductionRecord, ReceivingColumns, RowError

UPLOAD_KINDS = ("receiving", "production", "epcis")
MAX_STORED_ERRORS = 1000  # the report keeps the first ones; error_count has them all
# Service field names → the template column the user sees the problem in.
FIELD_COLUMNS = {
    "received_at": "received_on",
    "product_id": "product",
    "supplier_id": "supplier",
    "inputs": "input_code",
}
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Submitted:
    """An upload row, and whether it still has to be processed (False: a finished re-upload)."""

    upload: Upload
    pending: bool


def submit_upload(
    *,
    session: Session,
    viewer: Viewer,
    data: bytes,
    filename: str,
    kind: str,
    merchant_id: int | None = None,
    partial: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Submitted:
    """Store an upload; the same file (same bytes, merchant and kind) is not stored twice.

    A re-upload of a file that was rejected is processed again (master data may have changed).
    """
    merchant = merchant_row(session, viewer.merchant_to_write(merchant_id))
    if kind not in UPLOAD_KINDS:
        raise InvalidRecord(f"kind must be one of {', '.join(UPLOAD_KINDS)}", field="kind")
    if len(data) > max_bytes:
        raise UploadTooLarge(
            f"{filename} has {len(data)} bytes; the largest upload accepted is {max_bytes} bytes",
            field="file",
        )
    if not data:
        raise InvalidRecord(f"{filename} is empty", field="file")
    digest = content_digest(data)
    existing = session.execute(
        select(Upload).where(
            Upload.merchant_id == merchant.id, Upload.kind == kind, Upload.content_digest == digest
        )
    ).scalar_one_or_none()
    if existing is not None:
        if existing.outcome != "rejected":
            return Submitted(existing, pending=False)
        existing.status, existing.progress, existing.partial = "queued", 0, partial
        session.add(existing)
        session.commit()
        return Submitted(existing, pending=True)
    upload = Upload(
        merchant_id=merchant.id,  # type: ignore[arg-type]
        kind=kind,
        filename=(filename or "upload")[-255:],
        content_digest=digest,
        size=len(data),
        partial=partial,
        uploaded_by=viewer.actor,
        total_rows=_count_rows(data, kind),
    )
    session.add(upload)
    session.flush()
    assert upload.id is not None
    session.add(UploadBlob(upload_id=upload.id, content=data))
    upload.ledger_index = masterdata.append(
        session,
        UPLOAD_RECEIVED,
        viewer.actor,
        {"upload": upload.id, "merchant": upload.merchant_id},
        {
            "merchant_id": upload.merchant_id,
            "kind": kind,
            "filename": upload.filename,
            "content_digest": digest,
            "partial": partial,
            "outcome": None,
            "created_count": 0,
            "error_count": 0,
        },
    )
    session.commit()
    return Submitted(upload, pending=True)


def _count_rows(data: bytes, kind: str) -> int:
    """Data rows in the file (an estimate for CSV: lines after the header); for sizing only."""
    if kind == "epcis":
        return 0
    if data.startswith(b"PK"):
        return _xlsx_rows(data)
    return max(0, data.count(b"\n") - 1 + (0 if data.endswith(b"\n") else 1))


def _xlsx_rows(data: bytes) -> int:
    """Rows below the header, from the sheet's dimension (not reading the cells)."""
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True)
    except Exception:  # openpyxl raises many types on damaged files; reading reports it later
        return 0
    try:
        return max(0, (workbook.worksheets[0].max_row or 1) - 1)
    finally:
        workbook.close()


def runs_in_background(upload: Upload) -> bool:
    """Whether an upload is large enough to be processed by the background task."""
    return upload.total_rows > rules().background_import_rows


def get_upload(*, session: Session, viewer: Viewer, upload_id: int) -> Upload:
    """An upload the viewer may see."""
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise NotFound(f"no upload {upload_id}")
    viewer.check_can_see(upload.merchant_id)
    return upload


def list_uploads(
    *, session: Session, viewer: Viewer, limit: int = 50, offset: int = 0
) -> list[Upload]:
    """Uploads the viewer may see, newest first."""
    stmt = select(Upload).order_by(Upload.id.desc())  # type: ignore[union-attr]
    own = viewer.visible_merchant()
    if own is not None:
        stmt = stmt.where(Upload.merchant_id == own)
    return list(session.execute(stmt.offset(offset).limit(limit)).scalars())


def _progress(session: Session, upload: Upload, percent: int, status: str = "processing") -> None:
    upload.progress, upload.status = percent, status
    session.add(upload)
    session.commit()


def process_upload(
    *, session: Session, upload_id: int, now: datetime | None = None, tz: str = DEFAULT_TZ
) -> Upload:
    """Validate and write an upload's records (all-or-nothing unless `partial`); idempotent."""
    with collector_paused():
        return _process(session, upload_id, now, tz)


def _process(session: Session, upload_id: int, now: datetime | None, tz: str) -> Upload:
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise NotFound(f"no upload {upload_id}")
    if upload.status == "finished":
        return upload  # a repeated task run: the work is done
    blob = session.get(UploadBlob, upload_id)
    assert blob is not None
    data = bytes(blob.content)
    _progress(session, upload, 5)
    if upload.kind == "epcis":
        from trace.capture import capture_upload  # late: capture imports this module

        return capture_upload(session=session, upload=upload, data=data, now=now_utc(now))
    try:
        frame = read_table(data, upload.filename, kind=upload.kind)  # type: ignore[arg-type]
    except UploadError as exc:
        return _finish_rows(session, upload, [], [RowError(1, "file", str(exc), "UploadError")], {})
    upload.total_rows = len(frame)
    _progress(session, upload, 20)
    when = now_utc(now)
    tolerance = rules().future_tolerance
    if upload.kind == "receiving":
        valid, errors = validate_receiving(frame, now=when, tz=tz, future_tolerance=tolerance)
        _progress(session, upload, 50)
        return _receiving(session, upload, valid, errors, tz)
    known = _known_codes(session, upload.merchant_id, frame)
    validated = validate_rows(
        frame, "production", now=when, known_codes=known, tz=tz, future_tolerance=tolerance
    )
    _progress(session, upload, 50)
    return _production(session, upload, validated.records, list(validated.errors), when, tz)


def _known_codes(session: Session, merchant_id: int, frame: Any) -> set[str]:
    codes = {str(c).strip() for c in frame["input_code"].tolist() if c and str(c).strip()}
    found: set[str] = set()
    transferred = select(LotTransfer.lot_id).where(LotTransfer.to_merchant_id == merchant_id)
    for part in chunks(sorted(codes)):
        found.update(
            session.execute(
                select(IngredientLot.tlc).where(
                    IngredientLot.tlc.in_(part),  # type: ignore[attr-defined]
                    or_(
                        IngredientLot.merchant_id == merchant_id, IngredientLot.id.in_(transferred)
                    ),  # type: ignore[union-attr]
                )
            ).scalars()
        )
        found.update(
            session.execute(
                select(DishBatch.batch_code).where(
                    DishBatch.batch_code.in_(part),
                    DishBatch.merchant_id == merchant_id,  # type: ignore[attr-defined]
                )
            ).scalars()
        )
    return found


def _suppliers(session: Session, texts: set[str]) -> dict[str, int]:
    """Supplier text (licence number, GS1 identifier or exact name) → supplier id."""
    by_text: dict[str, int] = {}
    names: dict[str, list[int]] = {}
    for part in chunks(sorted(texts)):
        rows = session.execute(
            select(Supplier.id, Supplier.licence_number, Supplier.identifier, Supplier.name).where(
                or_(
                    Supplier.licence_number.in_(part),  # type: ignore[attr-defined]
                    Supplier.identifier.in_(part),  # type: ignore[union-attr]
                    Supplier.name.in_(part),  # type: ignore[attr-defined]
                )
            )
        )
        for sid, licence, identifier, name in rows:
            by_text[licence] = sid
            if identifier:
                by_text[identifier] = sid
            names.setdefault(name, []).append(sid)
    for name, ids in names.items():
        if len(ids) == 1:  # a name shared by two suppliers identifies neither
            by_text.setdefault(name, ids[0])
    return by_text


def _row_errors(problems: Sequence[Problem], records: Sequence[ProductionRecord]) -> list[RowError]:
    """Problems of checked commands as errors on the spreadsheet rows they came from."""
    out = []
    for p in problems:
        record = records[p.index]
        row = record.row
        if p.input_index is not None:
            row = record.inputs[p.input_index].row
        out.append(RowError(row, FIELD_COLUMNS.get(p.field, p.field), p.reason, p.error.__name__))
    return out


def _receiving(
    session: Session,
    upload: Upload,
    valid: ReceivingColumns,
    errors: list[RowError],
    tz: str,
) -> Upload:
    """Receiving rows column by column, from validation to the lots' columns: each supplier and
    product text is looked up once, and no object is built per row."""
    merchant = merchant_row(session, upload.merchant_id)
    rows = valid.values
    suppliers = _suppliers(session, set(rows["supplier"]))
    if not suppliers.keys() >= set(rows["supplier"]):
        known = []
        for i, (row, text) in enumerate(zip(rows["row"], rows["supplier"], strict=True)):
            if text in suppliers:
                known.append(i)
            else:
                reason = f"unknown supplier {text!r}: register it first"
                errors.append(RowError(row, "supplier", reason, "UnknownReference"))
        rows = _take(rows, known)
    products = masterdata.products_by_name(
        session, sorted(set(rows["product"])), category="ingredient", actor=upload.uploaded_by
    )
    count = len(rows["row"])
    receipts: dict[str, list[Any]] = {
        name: rows[name] if name in rows else [None] * count for name in RECEIPT_FIELDS
    }
    receipts["product_id"] = list(map(products.__getitem__, rows["product"]))
    receipts["supplier_id"] = list(map(suppliers.__getitem__, rows["supplier"]))
    quantities = {q: float(q) for q in set(rows["quantity"])}  # equal Decimals, equal floats
    receipts["quantity"] = list(map(quantities.__getitem__, rows["quantity"]))
    problems = check_receipt_columns(session, merchant, receipts, tz=tz)
    errors += [
        RowError(
            rows["row"][p.index], FIELD_COLUMNS.get(p.field, p.field), p.reason, p.error.__name__
        )
        for p in problems
    ]
    if errors and not upload.partial:
        session.rollback()  # nothing of a rejected upload stays, not even new products
        return _finish_rows(session, upload, [], errors, {})
    if problems:
        bad = {p.index for p in problems}
        receipts = _take(receipts, [i for i in range(count) if i not in bad])
    ids = insert_lot_columns(
        session, upload.merchant_id, receipts, actor=upload.uploaded_by, upload_id=upload.id
    )
    return _finish_rows(session, upload, ids, errors, {"lot_ids": ids})


def _take(columns: dict[str, list[Any]], positions: list[int]) -> dict[str, list[Any]]:
    """The rows at `positions` of columns."""
    return {name: [values[i] for i in positions] for name, values in columns.items()}


def _production(
    session: Session,
    upload: Upload,
    records: list[ProductionRecord],
    errors: list[RowError],
    now: datetime,
    tz: str,
) -> Upload:
    merchant = merchant_row(session, upload.merchant_id)
    products = masterdata.products_by_name(
        session, [r.product for r in records], category="dish", actor=upload.uploaded_by
    )
    kept = list(records)
    while True:  # drop bad batches, and then those built on them, until the rest is clean
        productions = [_production_of(r, products) for r in kept]
        cleaned, resolved, problems = check_productions(
            session, merchant, productions, now=now, tz=tz
        )
        if not problems or not upload.partial:
            break
        errors += _row_errors(problems, kept)
        bad = {p.index for p in problems}
        kept = [r for i, r in enumerate(kept) if i not in bad]
    if problems:
        errors += _row_errors(problems, kept)
    if errors and not upload.partial:
        session.rollback()
        return _finish_rows(session, upload, [], errors, {})
    ids = insert_batches(
        session,
        upload.merchant_id,
        cleaned,
        resolved,
        actor=upload.uploaded_by,
        upload_id=upload.id,
    )
    return _finish_rows(session, upload, ids, errors, {"batch_ids": ids})


def _production_of(record: ProductionRecord, products: dict[str, int]) -> BatchProduction:
    return BatchProduction(
        batch_code=record.batch_code,
        product_id=products[record.product],
        quantity=float(record.quantity),
        unit=record.unit,
        completed_at=record.completed_at,
        location=record.location,
        reference_document_type=record.reference_document_type,
        reference_document_number=record.reference_document_number,
        inputs=tuple(
            InputUse(quantity=float(i.quantity), unit=i.unit, code=i.code) for i in record.inputs
        ),
    )


def _finish_rows(
    session: Session,
    upload: Upload,
    created: Sequence[int],
    errors: list[RowError],
    result: dict[str, Any],
) -> Upload:
    rows = sorted(set(errors), key=lambda e: (e.row, e.column, e.reason))
    report = [{"row": e.row, "column": e.column, "reason": e.reason, "code": e.code} for e in rows]
    return finish_upload(session, upload, len(created), report, result)


def finish_upload(
    session: Session,
    upload: Upload,
    created: int,
    errors: Sequence[dict[str, Any]],
    result: dict[str, Any],
) -> Upload:
    """Record the outcome of an upload (and its ledger entry) in the open transaction; commit.

    `created` counts the records written; `errors` is the report, one dict per problem.
    """
    outcome = "accepted" if not errors else "partial" if created else "rejected"
    upload.status, upload.outcome, upload.progress = "finished", outcome, 100
    upload.created_count, upload.error_count = created, len(errors)
    upload.errors = list(errors[:MAX_STORED_ERRORS])
    upload.result = {
        k: v[:MAX_STORED_ERRORS] if isinstance(v, list) else v for k, v in result.items()
    }
    upload.finished_at = utcnow()
    assert upload.id is not None
    upload.ledger_index = masterdata.append(
        session,
        UPLOAD_FINISHED,
        upload.uploaded_by,
        {"upload": upload.id, "merchant": upload.merchant_id},
        {
            "partial": upload.partial,
            "outcome": outcome,
            "created_count": upload.created_count,
            "error_count": upload.error_count,
        },
    )
    session.add(upload)
    session.commit()
    return upload
