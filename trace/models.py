"""Traceability tables: master data, tracking events (FSMA 204 KDEs), uploads, EPCIS captures.

Every row is written by a service together with its ledger entry and records that entry's index;
`PROJECTIONS` (trace/projections.py) tells `ledger verify` how to re-derive each table. Lots,
batches and allocations are recorded in chunks: `record_index` is the entry anchoring the chunk's
records. Rows are the current state: a correction or a status change is a new entry (and a new
history row) that advances the row's `ledger_index`; the original record stays in the log.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from columns import utc_column, utcnow
from trace.projections import PROJECTIONS

__all__ = [
    "PROJECTIONS",
    "BatchAllocation",
    "Correction",
    "DishBatch",
    "EpcisEvent",
    "IngredientLot",
    "LotTransfer",
    "Merchant",
    "Product",
    "StatusEvent",
    "Supplier",
    "SupplierCertificate",
    "TransformationInput",
    "Upload",
    "UploadBlob",
]


def _ledger_index() -> Any:
    return Field(default=None, sa_type=BigInteger)


class Supplier(SQLModel, table=True):
    """An immediate previous source of ingredients (FSMA 204), with its licence."""

    __tablename__ = "suppliers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    licence_number: str = Field(max_length=80, unique=True)
    identifier: str | None = Field(default=None, max_length=200, unique=True)  # GS1 GLN URN
    address: str = Field(default="", max_length=300)
    contact: str = Field(default="", max_length=200)  # personal: digested in the ledger
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    ledger_index: int | None = _ledger_index()


class SupplierCertificate(SQLModel, table=True):
    """A supplier's licence or certificate with its expiry (食品生产许可证, HACCP, …)."""

    __tablename__ = "supplier_certificates"

    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = Field(foreign_key="suppliers.id", index=True)
    kind: str = Field(max_length=80)
    number: str = Field(max_length=80)
    issued_on: date | None = Field(default=None)
    expires_on: date = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    ledger_index: int | None = _ledger_index()


class Merchant(SQLModel, table=True):
    """A canteen stall or shop; its food business licence (食品经营许可证) must be valid."""

    __tablename__ = "merchants"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    licence_number: str = Field(max_length=80, unique=True)
    licence_expires_on: date = Field(index=True)
    location: str = Field(default="", max_length=200)  # canteen / stall
    contact: str = Field(default="", max_length=200)  # personal: digested in the ledger
    identifier: str | None = Field(default=None, max_length=200, unique=True)  # GS1 GLN URN
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    ledger_index: int | None = _ledger_index()


class Product(SQLModel, table=True):
    """An ingredient or a dish; `code` is a GTIN or internal code when there is one."""

    __tablename__ = "products"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    code: str | None = Field(default=None, max_length=120, unique=True)
    category: str = Field(default="ingredient", max_length=20)  # ingredient | dish
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    ledger_index: int | None = _ledger_index()


class IngredientLot(SQLModel, table=True):
    """A receiving event (21 CFR 1.1345): a traceability lot received by a merchant."""

    __tablename__ = "ingredient_lots"
    __table_args__ = (
        UniqueConstraint("merchant_id", "tlc", name="uq_ingredient_lots_merchant_tlc"),
        Index("ix_ingredient_lots_received_at", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchants.id")  # indexed by uq_..._merchant_tlc
    tlc: str = Field(max_length=200)
    product_id: int = Field(foreign_key="products.id", index=True)
    quantity: float
    unit: str = Field(max_length=20)
    supplier_id: int | None = Field(default=None, foreign_key="suppliers.id", index=True)
    tlc_source: str | None = Field(default=None, max_length=300)
    tlc_source_reference: str | None = Field(default=None, max_length=300)
    received_at: datetime = Field(sa_column=utc_column())
    location: str | None = Field(default=None, max_length=200)
    reference_document_type: str | None = Field(default=None, max_length=80)
    reference_document_number: str | None = Field(default=None, max_length=120)
    expiry_date: date | None = Field(default=None)
    storage: str | None = Field(default=None, max_length=20)  # ambient | chilled | frozen
    status: str = Field(default="active", max_length=16)  # active | on_hold | recalled | disposed
    upload_id: int | None = Field(default=None)
    epcis_event_id: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    ledger_index: int | None = _ledger_index()  # the last entry that wrote the row
    record_index: int | None = _ledger_index()  # the entry anchoring its original record


class DishBatch(SQLModel, table=True):
    """A transformation's output (21 CFR 1.1350): a dish or sub-batch (sauce) a merchant made."""

    __tablename__ = "dish_batches"
    __table_args__ = (
        UniqueConstraint("merchant_id", "batch_code", name="uq_dish_batches_merchant_code"),
        Index("ix_dish_batches_completed_at", "completed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchants.id")  # indexed by uq_..._merchant_code
    batch_code: str = Field(max_length=200)
    product_id: int = Field(foreign_key="products.id", index=True)
    quantity: float
    unit: str = Field(max_length=20)
    completed_at: datetime = Field(sa_column=utc_column())
    location: str | None = Field(default=None, max_length=200)
    reference_document_type: str | None = Field(default=None, max_length=80)
    reference_document_number: str | None = Field(default=None, max_length=120)
    status: str = Field(default="active", max_length=16)
    upload_id: int | None = Field(default=None)
    epcis_event_id: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    ledger_index: int | None = _ledger_index()  # the last entry that wrote the row
    record_index: int | None = _ledger_index()  # the entry anchoring its original record


class TransformationInput(SQLModel, table=True):
    """One input of a batch: a lot or another batch (sauce → dish), with the quantity used."""

    __tablename__ = "transformation_inputs"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="dish_batches.id", index=True)
    lot_id: int | None = Field(default=None, foreign_key="ingredient_lots.id", index=True)
    input_batch_id: int | None = Field(default=None, foreign_key="dish_batches.id", index=True)
    quantity: float
    unit: str = Field(max_length=20)
    ledger_index: int | None = _ledger_index()


class LotTransfer(SQLModel, table=True):
    """A shipping event: part of a lot handed to another merchant, who may then use it."""

    __tablename__ = "lot_transfers"

    id: int | None = Field(default=None, primary_key=True)
    lot_id: int = Field(foreign_key="ingredient_lots.id", index=True)
    from_merchant_id: int = Field(foreign_key="merchants.id")
    to_merchant_id: int = Field(foreign_key="merchants.id", index=True)
    quantity: float
    unit: str = Field(max_length=20)
    shipped_at: datetime = Field(sa_column=utc_column())
    ledger_index: int | None = _ledger_index()


class BatchAllocation(SQLModel, table=True):
    """The link order line → batch that served it; written by the ordering flow through
    `trace.service.record_allocation`. `order_line_id` refers to the orders module's rows."""

    __tablename__ = "batch_allocations"
    __table_args__ = (
        Index("ix_batch_allocations_batch_line", "batch_id", "order_line_id"),
        Index("ix_batch_allocations_line_batch", "order_line_id", "batch_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_line_id: int
    batch_id: int = Field(foreign_key="dish_batches.id")
    quantity: float
    allocated_at: datetime = Field(sa_column=utc_column())
    ledger_index: int | None = _ledger_index()  # the last entry that wrote the row
    record_index: int | None = _ledger_index()  # the entry anchoring its original record


class StatusEvent(SQLModel, table=True):
    """A hold, release, recall or disposal of a lot or batch, with its reason."""

    __tablename__ = "trace_status_events"

    id: int | None = Field(default=None, primary_key=True)
    lot_id: int | None = Field(default=None, foreign_key="ingredient_lots.id", index=True)
    batch_id: int | None = Field(default=None, foreign_key="dish_batches.id", index=True)
    action: str = Field(max_length=16)  # hold | release | recall | dispose
    status: str = Field(max_length=16)  # the status it leaves the record in
    reason: str = Field(max_length=500)
    at: datetime = Field(sa_column=utc_column())
    actor: str = Field(max_length=80)
    ledger_index: int | None = _ledger_index()


class Correction(SQLModel, table=True):
    """A correction of a lot or batch: what changed, from what, why, and which entry it fixes."""

    __tablename__ = "trace_corrections"

    id: int | None = Field(default=None, primary_key=True)
    lot_id: int | None = Field(default=None, foreign_key="ingredient_lots.id", index=True)
    batch_id: int | None = Field(default=None, foreign_key="dish_batches.id", index=True)
    corrects_index: int = Field(sa_type=BigInteger)
    changed: list[str] = Field(sa_column=Column(JSON, nullable=False))
    previous: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    reason: str = Field(max_length=500)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    actor: str = Field(max_length=80)
    ledger_index: int | None = _ledger_index()


class Upload(SQLModel, table=True):
    """A merchant upload (CSV/XLSX receiving or production records, or an EPCIS document).

    `status` and `progress` track the work (not ledgered); `outcome` and the counts are facts.
    """

    __tablename__ = "trace_uploads"
    __table_args__ = (
        UniqueConstraint(
            "merchant_id", "kind", "content_digest", name="uq_trace_uploads_merchant_digest"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchants.id", index=True)
    kind: str = Field(max_length=16)  # receiving | production | epcis
    filename: str = Field(max_length=255)
    content_digest: str = Field(max_length=64)
    size: int = Field(default=0)
    partial: bool = Field(default=False)
    status: str = Field(default="queued", max_length=16)  # queued | processing | finished
    outcome: str | None = Field(default=None, max_length=16)  # accepted | partial | rejected
    progress: int = Field(default=0)  # percent
    total_rows: int = Field(default=0)
    created_count: int = Field(default=0)
    error_count: int = Field(default=0)
    errors: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    uploaded_by: str = Field(default="", max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ledger_index: int | None = _ledger_index()


class UploadBlob(SQLModel, table=True):
    """The uploaded bytes, kept apart so listing uploads never reads them."""

    __tablename__ = "trace_upload_blobs"

    upload_id: int = Field(foreign_key="trace_uploads.id", primary_key=True)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class EpcisEvent(SQLModel, table=True):
    """A captured EPCIS 2.0 event as normalised JSON, with its sensor reports."""

    __tablename__ = "epcis_events"
    __table_args__ = (
        UniqueConstraint("merchant_id", "event_id", "declaration", name="uq_epcis_events_id"),
        Index("ix_epcis_events_event_time", "event_time"),
    )

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchants.id", index=True)
    event_id: str = Field(max_length=300)
    declaration: bool = Field(default=False)  # an errorDeclaration of an earlier capture
    event_type: str = Field(max_length=30)
    biz_step: str | None = Field(default=None, max_length=80)
    event_time: datetime = Field(sa_column=utc_column())
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    sensor_reports: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    upload_id: int | None = Field(default=None, index=True)
    captured_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    ledger_index: int | None = _ledger_index()
