"""Traceability: suppliers, merchants, products, lots, batches, transformations, uploads.

Revision ID: 0004_trace
Revises: 0003_verification_runs
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_trace"
down_revision = "0003_verification_runs"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", sa.Integer(), primary_key=True)


def _index() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("ledger_index", sa.BigInteger(), nullable=True)


def upgrade() -> None:
    op.create_table(
        "suppliers",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("licence_number", sa.String(80), nullable=False, unique=True),
        sa.Column("identifier", sa.String(200), nullable=True, unique=True),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        _index(),
    )
    op.create_table(
        "supplier_certificates",
        _id(),
        sa.Column("supplier_id", sa.Integer(), sa.ForeignKey("suppliers.id"), nullable=False),
        sa.Column("kind", sa.String(80), nullable=False),
        sa.Column("number", sa.String(80), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        _index(),
    )
    op.create_index(
        "ix_supplier_certificates_supplier_id", "supplier_certificates", ["supplier_id"]
    )
    op.create_index("ix_supplier_certificates_expires_on", "supplier_certificates", ["expires_on"])
    op.create_table(
        "merchants",
        _id(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("licence_number", sa.String(80), nullable=False, unique=True),
        sa.Column("licence_expires_on", sa.Date(), nullable=False),
        sa.Column("location", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("identifier", sa.String(200), nullable=True, unique=True),
        sa.Column("created_at", TZ, nullable=False),
        _index(),
    )
    op.create_index("ix_merchants_licence_expires_on", "merchants", ["licence_expires_on"])
    op.create_table(
        "products",
        _id(),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("code", sa.String(120), nullable=True, unique=True),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        _index(),
    )
    op.create_table(
        "ingredient_lots",
        _id(),
        sa.Column("merchant_id", sa.Integer(), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("tlc", sa.String(200), nullable=False),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("products.id"), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("supplier_id", sa.Integer(), sa.ForeignKey("suppliers.id"), nullable=True),
        sa.Column("tlc_source", sa.String(300), nullable=True),
        sa.Column("tlc_source_reference", sa.String(300), nullable=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("location", sa.String(200), nullable=True),
        sa.Column("reference_document_type", sa.String(80), nullable=True),
        sa.Column("reference_document_number", sa.String(120), nullable=True),
        sa.Column("expiry_date", sa.Date(), nullable=True),
        sa.Column("storage", sa.String(20), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("upload_id", sa.Integer(), nullable=True),
        sa.Column("epcis_event_id", sa.String(300), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        _index(),
        sa.Column("record_index", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("merchant_id", "tlc", name="uq_ingredient_lots_merchant_tlc"),
    )
    for column in ("product_id", "supplier_id"):
        op.create_index(f"ix_ingredient_lots_{column}", "ingredient_lots", [column])
    op.create_index("ix_ingredient_lots_received_at", "ingredient_lots", ["received_at"])
    op.create_table(
        "dish_batches",
        _id(),
        sa.Column("merchant_id", sa.Integer(), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("batch_code", sa.String(200), nullable=False),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("products.id"), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("completed_at", TZ, nullable=False),
        sa.Column("location", sa.String(200), nullable=True),
        sa.Column("reference_document_type", sa.String(80), nullable=True),
        sa.Column("reference_document_number", sa.String(120), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("upload_id", sa.Integer(), nullable=True),
        sa.Column("epcis_event_id", sa.String(300), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        _index(),
        sa.Column("record_index", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("merchant_id", "batch_code", name="uq_dish_batches_merchant_code"),
    )
    op.create_index("ix_dish_batches_product_id", "dish_batches", ["product_id"])
    op.create_index("ix_dish_batches_completed_at", "dish_batches", ["completed_at"])
    op.create_table(
        "transformation_inputs",
        _id(),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("dish_batches.id"), nullable=False),
        sa.Column("lot_id", sa.Integer(), sa.ForeignKey("ingredient_lots.id"), nullable=True),
        sa.Column("input_batch_id", sa.Integer(), sa.ForeignKey("dish_batches.id"), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        _index(),
    )
    for column in ("batch_id", "lot_id", "input_batch_id"):
        op.create_index(f"ix_transformation_inputs_{column}", "transformation_inputs", [column])
    op.create_table(
        "lot_transfers",
        _id(),
        sa.Column("lot_id", sa.Integer(), sa.ForeignKey("ingredient_lots.id"), nullable=False),
        sa.Column("from_merchant_id", sa.Integer(), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("to_merchant_id", sa.Integer(), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("shipped_at", TZ, nullable=False),
        _index(),
    )
    op.create_index("ix_lot_transfers_lot_id", "lot_transfers", ["lot_id"])
    op.create_index("ix_lot_transfers_to_merchant_id", "lot_transfers", ["to_merchant_id"])
    op.create_table(
        "batch_allocations",
        _id(),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("dish_batches.id"), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("allocated_at", TZ, nullable=False),
        _index(),
        sa.Column("record_index", sa.BigInteger(), nullable=True),
    )
    op.create_index(
        "ix_batch_allocations_batch_line", "batch_allocations", ["batch_id", "order_line_id"]
    )
    op.create_index(
        "ix_batch_allocations_line_batch", "batch_allocations", ["order_line_id", "batch_id"]
    )
    op.create_table(
        "trace_status_events",
        _id(),
        sa.Column("lot_id", sa.Integer(), sa.ForeignKey("ingredient_lots.id"), nullable=True),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("dish_batches.id"), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        _index(),
    )
    op.create_index("ix_trace_status_events_lot_id", "trace_status_events", ["lot_id"])
    op.create_index("ix_trace_status_events_batch_id", "trace_status_events", ["batch_id"])
    op.create_table(
        "trace_corrections",
        _id(),
        sa.Column("lot_id", sa.Integer(), sa.ForeignKey("ingredient_lots.id"), nullable=True),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("dish_batches.id"), nullable=True),
        sa.Column("corrects_index", sa.BigInteger(), nullable=False),
        sa.Column("changed", sa.JSON(), nullable=False),
        sa.Column("previous", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        _index(),
    )
    op.create_index("ix_trace_corrections_lot_id", "trace_corrections", ["lot_id"])
    op.create_index("ix_trace_corrections_batch_id", "trace_corrections", ["batch_id"])
    op.create_table(
        "trace_uploads",
        _id(),
        sa.Column("merchant_id", sa.Integer(), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_digest", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("partial", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("uploaded_by", sa.String(80), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        _index(),
        sa.UniqueConstraint(
            "merchant_id", "kind", "content_digest", name="uq_trace_uploads_merchant_digest"
        ),
    )
    op.create_index("ix_trace_uploads_merchant_id", "trace_uploads", ["merchant_id"])
    op.create_table(
        "trace_upload_blobs",
        sa.Column("upload_id", sa.Integer(), sa.ForeignKey("trace_uploads.id"), primary_key=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "epcis_events",
        _id(),
        sa.Column("merchant_id", sa.Integer(), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("event_id", sa.String(300), nullable=False),
        sa.Column("declaration", sa.Boolean(), nullable=False),
        sa.Column("event_type", sa.String(30), nullable=False),
        sa.Column("biz_step", sa.String(80), nullable=True),
        sa.Column("event_time", TZ, nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("sensor_reports", sa.JSON(), nullable=True),
        sa.Column("upload_id", sa.Integer(), nullable=True),
        sa.Column("captured_at", TZ, nullable=False),
        _index(),
        sa.UniqueConstraint("merchant_id", "event_id", "declaration", name="uq_epcis_events_id"),
    )
    op.create_index("ix_epcis_events_merchant_id", "epcis_events", ["merchant_id"])
    op.create_index("ix_epcis_events_upload_id", "epcis_events", ["upload_id"])
    op.create_index("ix_epcis_events_event_time", "epcis_events", ["event_time"])


def downgrade() -> None:
    for table in (
        "epcis_events",
        "trace_upload_blobs",
        "trace_uploads",
        "trace_corrections",
        "trace_status_events",
        "batch_allocations",
        "lot_transfers",
        "transformation_inputs",
        "dish_batches",
        "ingredient_lots",
        "products",
        "merchants",
        "supplier_certificates",
        "suppliers",
    ):
        op.drop_table(table)
