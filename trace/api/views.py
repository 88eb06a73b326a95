"""The trace JSON API under /api/v1/trace (registered by trace.views.init_app)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from flask import jsonify, url_for
from flask_openapi3 import FileStorage, RawModel
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from accounts.models import Role
from columns import utcnow
from trace import (
    amendments,
    epcis_documents,
    errors,
    exports,
    imports,
    masterdata,
    oversight,
    queries,
    schemas,
    service,
)
from trace.commands import BatchProduction, InputUse, LotReceipt
from trace.masterdata import CertificateData
from trace.models import Upload
from trace.views import (
    XLSX,
    file_response,
    max_upload_bytes,
    run_upload,
    template_file,
    today,
    tz,
    viewer,
)
from web.api import api_blueprint
from web.auth import roles_required
from web.db import get_session
from web.errors import ApiError, register_error

api = api_blueprint(
    "trace_api",
    __name__,
    tag="trace",
    description="Suppliers, merchants, lots and batches; uploads and EPCIS capture; traces; "
    "FSMA 204 and EPCIS exports",
)
READERS = (Role.ADMIN, Role.DESK, Role.MERCHANT)
WRITERS = (Role.ADMIN, Role.MERCHANT)
JSON = schemas.Answer


# ------------------------------------------------------------------ master data API


@api.get("/trace/suppliers", responses={200: JSON}, summary="Suppliers with certificates")
@roles_required(*READERS)
def api_suppliers(query: schemas.Page):  # type: ignore[no-untyped-def]
    session = get_session()
    rows = masterdata.list_suppliers(session=session, limit=query.limit, offset=query.offset)
    certs = masterdata.certificates_of(session=session, supplier_ids=[r.id for r in rows])  # type: ignore[misc]
    return {"suppliers": [schemas.supplier_out(r, certs[r.id]) for r in rows]}  # type: ignore[index]


@api.post("/trace/suppliers", responses={201: JSON}, summary="Register a supplier")
@roles_required(*WRITERS)
def api_create_supplier(body: schemas.SupplierIn):  # type: ignore[no-untyped-def]
    data = body.model_dump(exclude={"certificates"})
    certificates = [CertificateData(**c.model_dump()) for c in body.certificates]
    row = masterdata.register_supplier(
        session=get_session(), viewer=viewer(), certificates=certificates, **data
    )
    certs = masterdata.certificates_of(session=get_session(), supplier_ids=[row.id])  # type: ignore[list-item]
    return schemas.supplier_out(row, certs[row.id]), 201  # type: ignore[index]


@api.post(
    "/trace/suppliers/<int:id>/certificates", responses={201: JSON}, summary="Add a certificate"
)
@roles_required(*WRITERS)
def api_add_certificate(path: schemas.IdPath, body: schemas.CertificateIn):  # type: ignore[no-untyped-def]
    row = masterdata.add_certificate(
        session=get_session(),
        viewer=viewer(),
        supplier_id=path.id,
        certificate=CertificateData(**body.model_dump()),
    )
    return {"id": row.id, "supplier_id": row.supplier_id, "ledger_index": row.ledger_index}, 201


@api.get("/trace/merchants", responses={200: JSON}, summary="Merchants (a merchant: itself)")
@roles_required(*READERS)
def api_merchants(query: schemas.Page):  # type: ignore[no-untyped-def]
    rows = masterdata.list_merchants(
        session=get_session(), viewer=viewer(), limit=query.limit, offset=query.offset
    )
    return {"merchants": [schemas.merchant_out(r) for r in rows]}


@api.post("/trace/merchants", responses={201: JSON}, summary="Register a merchant (admins)")
@roles_required(Role.ADMIN)
def api_create_merchant(body: schemas.MerchantIn):  # type: ignore[no-untyped-def]
    row = masterdata.register_merchant(session=get_session(), viewer=viewer(), **body.model_dump())
    return schemas.merchant_out(row), 201


@api.get("/trace/products", responses={200: JSON}, summary="Products")
@roles_required(*READERS)
def api_products(query: schemas.Page):  # type: ignore[no-untyped-def]
    rows = masterdata.list_products(session=get_session(), limit=query.limit, offset=query.offset)
    return {"products": [schemas.product_out(r) for r in rows]}


@api.post("/trace/products", responses={201: JSON}, summary="Register a product")
@roles_required(*WRITERS)
def api_create_product(body: schemas.ProductIn):  # type: ignore[no-untyped-def]
    row = masterdata.register_product(session=get_session(), viewer=viewer(), **body.model_dump())
    return schemas.product_out(row), 201


# ------------------------------------------------------------------ lots and batches API


@api.get("/trace/lots", responses={200: JSON}, summary="Lots received (newest first)")
@roles_required(*READERS)
def api_lots(query: schemas.MerchantPage):  # type: ignore[no-untyped-def]
    rows = service.list_lots(session=get_session(), viewer=viewer(), **query.model_dump())
    return {"lots": [schemas.lot_out(r) for r in rows]}


def _created(body: dict[str, Any], replayed: bool) -> tuple[dict[str, Any], int, dict[str, str]]:
    """201 for a new record; 200 with `Idempotent-Replayed: true` for a retry (trace.replays)."""
    if replayed:
        return body, 200, {"Idempotent-Replayed": "true"}
    return body, 201, {}


@api.post(
    "/trace/lots",
    responses={201: JSON, 200: JSON},
    summary="Record a receiving event (a lot)",
    description="Retrying with the same lot code and the same facts answers 200 with the lot "
    "already recorded (header `Idempotent-Replayed: true`); the same code with other facts is 409.",
)
@roles_required(*WRITERS)
def api_receive_lot(body: schemas.LotIn):  # type: ignore[no-untyped-def]
    session, who = get_session(), viewer()
    data = body.model_dump(exclude={"merchant_id", "product", "product_id"})
    product = masterdata.resolve_product(
        session, who.actor, product_id=body.product_id, name=body.product, category="ingredient"
    )
    lot, replayed = service.record_lot(
        session=session,
        viewer=who,
        receipt=LotReceipt(product_id=product, **data),
        merchant_id=body.merchant_id,
        tz=tz(),
    )
    return _created(schemas.lot_out(lot), replayed)


@api.get("/trace/lots/<int:id>", responses={200: JSON}, summary="One lot")
@roles_required(*READERS)
def api_lot(path: schemas.IdPath):  # type: ignore[no-untyped-def]
    return schemas.lot_out(service.get_lot(session=get_session(), viewer=viewer(), lot_id=path.id))


@api.get("/trace/batches", responses={200: JSON}, summary="Batches produced (newest first)")
@roles_required(*READERS)
def api_batches(query: schemas.MerchantPage):  # type: ignore[no-untyped-def]
    rows = service.list_batches(session=get_session(), viewer=viewer(), **query.model_dump())
    return {"batches": [schemas.batch_out(r) for r in rows]}


@api.post(
    "/trace/batches",
    responses={201: JSON, 200: JSON},
    summary="Record a transformation (a batch)",
    description="Retrying with the same batch code, facts and inputs answers 200 with the batch "
    "already recorded (header `Idempotent-Replayed: true`); the same code otherwise is 409.",
)
@roles_required(*WRITERS)
def api_produce_batch(body: schemas.BatchIn):  # type: ignore[no-untyped-def]
    session, who = get_session(), viewer()
    data = body.model_dump(exclude={"merchant_id", "product", "product_id", "inputs"})
    product = masterdata.resolve_product(
        session, who.actor, product_id=body.product_id, name=body.product, category="dish"
    )
    inputs = tuple(InputUse(**i.model_dump()) for i in body.inputs)
    batch, replayed = service.record_batch(
        session=session,
        viewer=who,
        production=BatchProduction(product_id=product, inputs=inputs, **data),
        merchant_id=body.merchant_id,
        tz=tz(),
    )
    used = service.batch_inputs(session=session, batch_id=batch.id)  # type: ignore[arg-type]
    return _created(schemas.batch_out(batch, used), replayed)


@api.get("/trace/batches/<int:id>", responses={200: JSON}, summary="One batch with its inputs")
@roles_required(*READERS)
def api_batch(path: schemas.IdPath):  # type: ignore[no-untyped-def]
    session = get_session()
    batch = service.get_batch(session=session, viewer=viewer(), batch_id=path.id)
    return schemas.batch_out(batch, service.batch_inputs(session=session, batch_id=path.id))


def _status(kind: str, ident: int, body: schemas.StatusIn) -> tuple[dict[str, Any], int]:
    event = amendments.change_status(
        session=get_session(), viewer=viewer(), kind=kind, ident=ident, **body.model_dump()
    )
    return {"id": event.id, "status": event.status, "ledger_index": event.ledger_index}, 201


@api.post(
    "/trace/lots/<int:id>/status", responses={201: JSON}, summary="Hold/release/recall/dispose"
)
@roles_required(*READERS)
def api_lot_status(path: schemas.IdPath, body: schemas.StatusIn):  # type: ignore[no-untyped-def]
    return _status("lot", path.id, body)


@api.post(
    "/trace/batches/<int:id>/status", responses={201: JSON}, summary="Hold/release/recall/dispose"
)
@roles_required(*READERS)
def api_batch_status(path: schemas.IdPath, body: schemas.StatusIn):  # type: ignore[no-untyped-def]
    return _status("batch", path.id, body)


def _parse_changes(changes: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """Changed fields validated as the create body would validate them."""
    fields = model.model_fields
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise errors.InvalidRecord(f"unknown fields: {', '.join(unknown)}", field=unknown[0])
    out: dict[str, Any] = {}
    for name, value in changes.items():
        adapter = fields[name].annotation
        out[name] = _validated(adapter, value, name)
    if "inputs" in out:
        out["inputs"] = tuple(
            InputUse(**schemas.InputIn.model_validate(i).model_dump()) for i in changes["inputs"]
        )
    return out


def _validated(annotation: Any, value: Any, name: str) -> Any:
    try:
        return TypeAdapter(annotation).validate_python(value)
    except ValidationError as exc:
        raise errors.InvalidRecord(f"{name}: {exc.errors()[0]['msg']}", field=name) from exc


@api.post("/trace/lots/<int:id>/corrections", responses={201: JSON}, summary="Correct a lot")
@roles_required(*WRITERS)
def api_correct_lot(path: schemas.IdPath, body: schemas.CorrectionIn):  # type: ignore[no-untyped-def]
    changes = _parse_changes(body.changes, schemas.LotIn)
    row = amendments.correct_lot(
        session=get_session(),
        viewer=viewer(),
        lot_id=path.id,
        changes=changes,
        reason=body.reason,
        tz=tz(),
    )
    return {
        "id": row.id,
        "changed": row.changed,
        "corrects_index": row.corrects_index,
        "ledger_index": row.ledger_index,
    }, 201


@api.post("/trace/batches/<int:id>/corrections", responses={201: JSON}, summary="Correct a batch")
@roles_required(*WRITERS)
def api_correct_batch(path: schemas.IdPath, body: schemas.CorrectionIn):  # type: ignore[no-untyped-def]
    changes = _parse_changes(body.changes, schemas.BatchIn)
    row = amendments.correct_batch(
        session=get_session(),
        viewer=viewer(),
        batch_id=path.id,
        changes=changes,
        reason=body.reason,
        tz=tz(),
    )
    return {
        "id": row.id,
        "changed": row.changed,
        "corrects_index": row.corrects_index,
        "ledger_index": row.ledger_index,
    }, 201


@api.post("/trace/lots/<int:id>/transfers", responses={201: JSON}, summary="Transfer part of a lot")
@roles_required(*WRITERS)
def api_transfer_lot(path: schemas.IdPath, body: schemas.TransferIn):  # type: ignore[no-untyped-def]
    row = service.transfer_lot(
        session=get_session(), viewer=viewer(), lot_id=path.id, tz=tz(), **body.model_dump()
    )
    return {
        "id": row.id,
        "lot_id": row.lot_id,
        "to_merchant_id": row.to_merchant_id,
        "ledger_index": row.ledger_index,
    }, 201


# ------------------------------------------------------------------ uploads and EPCIS API


class UploadForm(BaseModel):
    file: FileStorage
    kind: Literal["receiving", "production", "epcis"]
    merchant_id: int | None = Field(default=None, ge=1)
    partial: bool = False


def _upload_answer(upload: Upload, repeated: bool) -> tuple[dict[str, Any], int, dict[str, str]]:
    location = {"Location": url_for("trace_api.api_upload", id=upload.id)}
    if upload.outcome == "rejected":
        raise ApiError(
            422,
            "upload_rejected",
            f"{upload.filename}: {upload.error_count} problem(s); nothing was stored",
            upload.errors,
        )
    status = 200 if repeated else (202 if upload.status != "finished" else 201)
    return schemas.upload_out(upload), status, location


@api.post(
    "/trace/uploads",
    responses={201: JSON, 202: JSON, 413: schemas.Answer},
    summary="Upload CSV/XLSX receiving or production records, or an EPCIS document",
)
@roles_required(*WRITERS)
def api_upload_file(form: UploadForm):  # type: ignore[no-untyped-def]
    data = form.file.read(max_upload_bytes() + 1)
    form.file.close()  # a spooled temporary file goes at once
    submitted = imports.submit_upload(
        session=get_session(),
        viewer=viewer(),
        data=data,
        filename=form.file.filename or "upload",
        kind=form.kind,
        merchant_id=form.merchant_id,
        partial=form.partial,
        max_bytes=max_upload_bytes(),
    )
    upload = run_upload(submitted)
    return _upload_answer(upload, repeated=not submitted.pending)


@api.get("/trace/uploads", responses={200: JSON}, summary="Uploads (a merchant: its own)")
@roles_required(*READERS)
def api_uploads(query: schemas.Page):  # type: ignore[no-untyped-def]
    rows = imports.list_uploads(
        session=get_session(), viewer=viewer(), limit=query.limit, offset=query.offset
    )
    return {"uploads": [schemas.upload_out(r) for r in rows]}


@api.get(
    "/trace/uploads/<int:id>",
    responses={200: JSON},
    summary="An upload's progress and error report",
)
@roles_required(*READERS)
def api_upload(path: schemas.IdPath):  # type: ignore[no-untyped-def]
    return schemas.upload_out(
        imports.get_upload(session=get_session(), viewer=viewer(), upload_id=path.id)
    )


class EpcisRaw(RawModel):
    """The EPCIS document as the raw request body (JSON or JSON-LD)."""

    mimetypes: ClassVar[list[str]] = ["application/json", "application/ld+json"]


@api.post(
    "/trace/epcis",
    responses={200: schemas.CaptureOut, 201: schemas.CaptureOut},
    summary="Capture an EPCIS 2.0 JSON/JSON-LD document (the request body)",
    description="Answers with each captured event's ledger index, or 422 with every error and "
    "its position in eventList. The same document again captures nothing new (200).",
)
@roles_required(*WRITERS)
def api_capture_epcis(query: schemas.UploadQuery, raw: EpcisRaw):  # type: ignore[no-untyped-def]
    submitted = imports.submit_upload(
        session=get_session(),
        viewer=viewer(),
        data=raw.get_data(),
        filename="epcis.jsonld",
        kind="epcis",
        merchant_id=query.merchant_id,
        partial=query.partial,
        max_bytes=max_upload_bytes(),
    )
    upload = run_upload(submitted)
    result = upload.result or {}
    if upload.outcome == "rejected":
        raise ApiError(
            422,
            "epcis_rejected",
            f"{upload.error_count} problem(s); nothing was captured",
            upload.errors,
        )
    body = schemas.CaptureOut(
        upload_id=upload.id,
        outcome=upload.outcome,
        captured=result.get("captured", []),  # type: ignore[arg-type]
        errors=upload.errors or [],
        warnings=result.get("warnings", []),  # type: ignore[arg-type]
    )
    return body.model_dump(), 200 if not submitted.pending else 201


@api.get(
    "/trace/templates/<kind>", summary="Upload template (CSV or XLSX, zh-CN or English headers)"
)
@roles_required(*READERS)
def api_template(path: schemas.TemplatePath, query: schemas.TemplateQuery):  # type: ignore[no-untyped-def]
    return template_file(path.kind, query.lang, query.format)


# ------------------------------------------------------------------ traces and exports API


@api.get(
    "/trace/backward",
    responses={200: schemas.TraceOut},
    summary="Trace upstream: batches, lots, suppliers",
)
@roles_required(*READERS)
def api_backward(query: schemas.BackwardQuery):  # type: ignore[no-untyped-def]
    result = queries.trace(
        session=get_session(),
        viewer=viewer(),
        kind=query.kind,
        ident=query.id,
        direction="backward",
    )
    return result.as_dict()


@api.get(
    "/trace/forward",
    responses={200: schemas.TraceOut},
    summary="Trace downstream: batches, order lines (since/until bound the links)",
)
@roles_required(*READERS)
def api_forward(query: schemas.ForwardQuery):  # type: ignore[no-untyped-def]
    result = queries.trace(
        session=get_session(),
        viewer=viewer(),
        kind=query.kind,
        ident=query.id,
        direction="forward",
        since=query.since,
        until=query.until,
    )
    return result.as_dict()


@api.get("/trace/export", summary="FSMA 204 sortable spreadsheet (csv, xlsx) or EPCIS 2.0 JSON-LD")
@roles_required(*READERS)
def api_export(query: schemas.ExportQuery):  # type: ignore[no-untyped-def]
    selection = exports.Selection(
        query.lot, query.product, query.from_, query.to, query.merchant_id
    )
    session, who = get_session(), viewer()
    if query.format == "epcis":
        doc = epcis_documents.epcis_document(
            session=session, viewer=who, selection=selection, now=utcnow(), tz=tz()
        )
        answer = jsonify(doc)
        answer.mimetype = "application/ld+json"
        return answer
    data = exports.fsma_file(
        session=session, viewer=who, selection=selection, fmt=query.format, lang=query.lang, tz=tz()
    )
    mimetype = "text/csv; charset=utf-8" if query.format == "csv" else XLSX
    return file_response(data, mimetype, f"fsma204-{utcnow():%Y%m%d}.{query.format}")


@api.get(
    "/trace/completeness",
    responses={200: JSON},
    summary="Missing KDEs and expiring licences per merchant",
)
@roles_required(*READERS)
def api_completeness(query: schemas.CompletenessQuery):  # type: ignore[no-untyped-def]
    reports = oversight.oversight(
        session=get_session(), viewer=viewer(), today=today(), merchant_id=query.merchant_id
    )
    return {"merchants": [_oversight_out(r) for r in reports]}


def _oversight_out(report: oversight.MerchantOversight) -> dict[str, Any]:
    c = report.completeness
    return {
        "merchant_id": report.merchant.id,
        "merchant": report.merchant.name,
        "records": c.records,
        "score": round(c.score, 4),
        "missing": c.missing_by_kde,
        "gaps": [
            {"kind": g.kind, "id": g.id, "code": g.code, "missing": list(g.missing)} for g in c.gaps
        ],
        "expiring": [
            {
                "holder_kind": e.holder_kind,
                "holder_id": e.holder_id,
                "holder": e.holder,
                "document": e.document,
                "number": e.number,
                "expires_on": e.expires_on.isoformat(),
                "days_left": e.days_left,
                "expired": e.expired,
            }
            for e in report.expiring
        ],
    }


def register_errors() -> None:
    """Map the domain errors to HTTP statuses and codes (once, for pages and API alike)."""
    for error, status, code in (
        (errors.UploadTooLarge, 413, "upload_too_large"),
        (errors.DuplicateCode, 409, "duplicate"),
        (errors.InvalidStatusChange, 409, "invalid_status_change"),
        (errors.UnknownReference, 422, "unknown_reference"),
        (errors.LicenceExpired, 422, "licence_expired"),
        (errors.MerchantMismatch, 422, "merchant_mismatch"),
        (errors.CycleRefused, 422, "cycle"),
        (errors.FutureTime, 422, "future_time"),
        (errors.TraceTooLarge, 422, "trace_too_large"),
        (errors.TraceError, 422, "invalid_record"),
        (errors.NotFound, 404, "not_found"),
        (errors.ForeignRecord, 403, "not_your_merchant"),
    ):
        register_error(error, status, code)
