"""Request and response shapes of the trace API (pydantic; documented in the OpenAPI file)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from trace.models import DishBatch, IngredientLot, Merchant, Product, Supplier, Upload


class Strict(BaseModel):
    """Request bodies and queries reject unknown fields (a typo is an error); the same
    configuration as web.api.ApiModel, which this non-view module may not import."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Page(Strict):
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class MerchantPage(Page):
    merchant_id: int | None = Field(default=None, ge=1, description="admin/desk: one merchant")


class IdPath(BaseModel):
    id: int = Field(ge=1)


class CertificateIn(Strict):
    kind: str = Field(max_length=80, description="e.g. 食品生产许可证, HACCP")
    number: str = Field(max_length=80)
    expires_on: date
    issued_on: date | None = None


class SupplierIn(Strict):
    name: str = Field(max_length=200)
    licence_number: str = Field(max_length=80)
    identifier: str | None = Field(default=None, max_length=200, description="GS1 GLN as URN")
    address: str = Field(default="", max_length=300)
    contact: str = Field(default="", max_length=200)
    certificates: list[CertificateIn] = Field(default_factory=list, max_length=20)


class MerchantIn(Strict):
    name: str = Field(max_length=200)
    licence_number: str = Field(max_length=80, description="食品经营许可证 number")
    licence_expires_on: date
    location: str = Field(default="", max_length=200)
    contact: str = Field(default="", max_length=200)
    identifier: str | None = Field(default=None, max_length=200)


class ProductIn(Strict):
    name: str = Field(max_length=200)
    code: str | None = Field(default=None, max_length=120, description="GTIN or internal code")
    category: Literal["ingredient", "dish"] = "ingredient"


class LotIn(Strict):
    """A receiving event; give product_id or a product name (new names become products)."""

    merchant_id: int | None = Field(default=None, ge=1, description="admins: for which merchant")
    tlc: str = Field(max_length=200, description="traceability lot code")
    product_id: int | None = Field(default=None, ge=1)
    product: str | None = Field(default=None, max_length=200)
    quantity: float = Field(gt=0, allow_inf_nan=False)
    unit: str = Field(max_length=20)
    received_at: AwareDatetime
    supplier_id: int | None = Field(default=None, ge=1, description="immediate previous source")
    tlc_source: str | None = Field(default=None, max_length=300)
    tlc_source_reference: str | None = Field(default=None, max_length=300)
    location: str | None = Field(default=None, max_length=200)
    reference_document_type: str | None = Field(default=None, max_length=80)
    reference_document_number: str | None = Field(default=None, max_length=120)
    expiry_date: date | None = None
    storage: str | None = Field(default=None, max_length=20, description="ambient|chilled|frozen")


class InputIn(Strict):
    """An input by id (kind + id) or by lot/batch code."""

    kind: Literal["lot", "batch"] | None = None
    id: int | None = Field(default=None, ge=1)
    code: str | None = Field(default=None, max_length=200)
    quantity: float = Field(gt=0, allow_inf_nan=False)
    unit: str = Field(max_length=20)


class BatchIn(Strict):
    merchant_id: int | None = Field(default=None, ge=1)
    batch_code: str = Field(max_length=200)
    product_id: int | None = Field(default=None, ge=1)
    product: str | None = Field(default=None, max_length=200)
    quantity: float = Field(gt=0, allow_inf_nan=False)
    unit: str = Field(max_length=20)
    completed_at: AwareDatetime
    inputs: list[InputIn] = Field(min_length=1, max_length=200)
    location: str | None = Field(default=None, max_length=200)
    reference_document_type: str | None = Field(default=None, max_length=80)
    reference_document_number: str | None = Field(default=None, max_length=120)


class StatusIn(Strict):
    action: Literal["hold", "release", "recall", "dispose"]
    reason: str = Field(min_length=1, max_length=500)


class CorrectionIn(Strict):
    """Fields to correct (as in LotIn/BatchIn; `inputs` replaces a batch's inputs) and why."""

    changes: dict[str, Any] = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=500)


class TransferIn(Strict):
    to_merchant_id: int = Field(ge=1)
    quantity: float = Field(gt=0, allow_inf_nan=False)
    unit: str = Field(max_length=20)
    shipped_at: AwareDatetime


class UploadQuery(Strict):
    merchant_id: int | None = Field(default=None, ge=1)
    partial: bool = Field(default=False, description="store the good rows, report the bad")


class TemplateQuery(Strict):
    lang: Literal["en", "zh-CN"] = "zh-CN"
    format: Literal["csv", "xlsx"] = "xlsx"


class TemplatePath(BaseModel):
    kind: Literal["receiving", "production"]


class BackwardQuery(Strict):
    kind: Literal["order_line", "batch", "lot"]
    id: int = Field(ge=1)


class ForwardQuery(Strict):
    kind: Literal["lot", "batch", "supplier"]
    id: int = Field(ge=1)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class ExportQuery(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    format: Literal["csv", "xlsx", "epcis"] = "csv"
    lot: str | None = Field(default=None, max_length=200, description="traceability lot code")
    product: str | None = Field(default=None, max_length=200, description="name or code")
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    merchant_id: int | None = Field(default=None, ge=1)
    lang: Literal["en", "zh-CN"] = "en"


class CompletenessQuery(Strict):
    merchant_id: int | None = Field(default=None, ge=1)


# ------------------------------------------------------------------ answers


def _dump(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for name in fields:
        value = getattr(row, name)
        out[name] = value.isoformat() if isinstance(value, date | datetime) else value
    return out


def supplier_out(row: Supplier, certificates: list[Any]) -> dict[str, Any]:
    """A supplier with its certificates."""
    out = _dump(row, ("id", "name", "licence_number", "identifier", "address", "ledger_index"))
    out["certificates"] = [
        _dump(c, ("id", "kind", "number", "issued_on", "expires_on", "ledger_index"))
        for c in certificates
    ]
    return out


def merchant_out(row: Merchant) -> dict[str, Any]:
    """A merchant (contact included: only staff and the merchant itself see it)."""
    return _dump(
        row,
        ("id", "name", "licence_number", "licence_expires_on", "location", "contact",
         "identifier", "ledger_index"),
    )  # fmt: skip


def product_out(row: Product) -> dict[str, Any]:
    """A product."""
    return _dump(row, ("id", "name", "code", "category", "ledger_index"))


LOT_FIELDS = (
    "id", "merchant_id", "tlc", "product_id", "quantity", "unit", "supplier_id", "tlc_source",
    "tlc_source_reference", "received_at", "location", "reference_document_type",
    "reference_document_number", "expiry_date", "storage", "status", "upload_id",
    "epcis_event_id", "ledger_index",
)  # fmt: skip
BATCH_FIELDS = (
    "id", "merchant_id", "batch_code", "product_id", "quantity", "unit", "completed_at",
    "location", "reference_document_type", "reference_document_number", "status", "upload_id",
    "epcis_event_id", "ledger_index",
)  # fmt: skip


def lot_out(row: IngredientLot) -> dict[str, Any]:
    """A lot with its receiving KDEs."""
    return _dump(row, LOT_FIELDS)


def batch_out(row: DishBatch, inputs: list[Any] | None = None) -> dict[str, Any]:
    """A batch, with its inputs when given."""
    out = _dump(row, BATCH_FIELDS)
    if inputs is not None:
        out["inputs"] = [
            {
                "kind": "lot" if i.lot_id is not None else "batch",
                "id": i.lot_id if i.lot_id is not None else i.input_batch_id,
                "quantity": i.quantity,
                "unit": i.unit,
            }
            for i in inputs
        ]
    return out


def upload_out(row: Upload) -> dict[str, Any]:
    """An upload's state and outcome, with its error report."""
    out = _dump(
        row,
        ("id", "merchant_id", "kind", "filename", "content_digest", "size", "partial", "status",
         "outcome", "progress", "total_rows", "created_count", "error_count", "created_at",
         "finished_at", "ledger_index"),
    )  # fmt: skip
    out["errors"] = row.errors or []
    out["result"] = row.result or {}
    return out


class Answer(BaseModel):
    """Documentation shape of JSON answers (the fields listed by each endpoint)."""

    model_config = ConfigDict(extra="allow")


class TraceNodeOut(BaseModel):
    kind: str
    id: str
    label: str
    depth: int
    ledger_index: int | None
    merchant_id: int | None
    at: datetime | None
    status: str | None


class NodeRef(BaseModel):
    kind: str
    id: str


class TraceEdgeOut(BaseModel):
    src: NodeRef
    dst: NodeRef
    kind: str
    quantity: float | None
    at: datetime | None


class TraceOut(BaseModel):
    """A trace: every reached node with its hop depth and ledger index, and the edges."""

    start: NodeRef
    direction: str
    since: datetime | None
    until: datetime | None
    nodes: list[TraceNodeOut]
    edges: list[TraceEdgeOut]


class CapturedEvent(BaseModel):
    position: int
    event_id: str
    ledger_index: int | None
    lot_ids: list[int]
    batch_ids: list[int]
    already_captured: bool


class EventProblem(BaseModel):
    position: int | None
    field: str
    reason: str
    code: str


class CaptureOut(BaseModel):
    """What an EPCIS capture stored: event ids → ledger indexes, or every error by position."""

    upload_id: int
    outcome: str | None
    captured: list[CapturedEvent]
    errors: list[EventProblem]
    warnings: list[EventProblem]
