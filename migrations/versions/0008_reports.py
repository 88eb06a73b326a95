"""Investigation reports and reviews.

Revision ID: 0008_reports
Revises: 0007_complaints
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_reports"
down_revision = "0007_complaints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("cluster_id", sa.Integer(), nullable=True),
        sa.Column("case_number", sa.String(24), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("has_complainant_details", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("review_status", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requested_by", sa.String(40), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("request_index", sa.BigInteger(), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.UniqueConstraint(
            "kind", "case_id", "language", "audience", "version", name="uq_report_v"
        ),
        sa.UniqueConstraint("requested_by", "idempotency_key", name="uq_report_idempotency"),
    )
    op.create_index("ix_reports_kind", "reports", ["kind"])
    op.create_index("ix_reports_case_id", "reports", ["case_id"])
    op.create_index("ix_reports_cluster_id", "reports", ["cluster_id"])
    op.create_index("ix_reports_merchant_id", "reports", ["merchant_id"])
    op.create_index("ix_reports_status", "reports", ["status"])
    op.create_index("ix_reports_review_status", "reports", ["review_status"])
    op.create_index("ix_reports_requested_at", "reports", ["requested_at"])
    op.create_table(
        "report_files",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "report_reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("report_id", sa.Integer(), sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_report_reviews_report_id", "report_reviews", ["report_id"])


def downgrade() -> None:
    op.drop_index("ix_report_reviews_report_id", table_name="report_reviews")
    op.drop_table("report_reviews")
    op.drop_table("report_files")
    for name in (
        "requested_at",
        "review_status",
        "status",
        "merchant_id",
        "cluster_id",
        "case_id",
        "kind",
    ):
        op.drop_index(f"ix_reports_{name}", table_name="reports")
    op.drop_table("reports")
