"""Complaint desk: cases, timeline, outbox, attachments, SLA notifications, compensation,
feedback, surveys.

Revision ID: 0007_complaints
Revises: 0006_sensors
Create Date: 2026-11-22

`case_orders.order_id` has NO foreign key yet: the orders tables (issue 5) are created by an
earlier revision only once the orders module lands; the complaint desk's part 2 adds the key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_complaints"
down_revision = "0006_sensors"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _ledger_index() -> sa.Column:
    return sa.Column("ledger_index", sa.BigInteger(), nullable=True)


def upgrade() -> None:
    op.create_table(
        "complaint_cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("number", sa.String(24), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("symptoms", sa.JSON(), nullable=False),
        _at("onset_at", nullable=True),
        sa.Column("n_party", sa.Integer(), nullable=False),
        sa.Column("n_ill", sa.Integer(), nullable=False),
        sa.Column("n_exposed", sa.Integer(), nullable=True),
        sa.Column("ill_persons", sa.JSON(), nullable=False),
        sa.Column("medical_care", sa.String(16), nullable=False),
        sa.Column("stool_sample", sa.Boolean(), nullable=True),
        sa.Column("leftovers_kept", sa.Boolean(), nullable=True),
        sa.Column("other_ill_contacts", sa.Boolean(), nullable=True),
        sa.Column("food_history", sa.Text(), nullable=False),
        sa.Column("remedy_sought", sa.JSON(), nullable=False),
        sa.Column("consent_share_with_merchant", sa.Boolean(), nullable=False),
        sa.Column("consent_contact_by_phone", sa.Boolean(), nullable=False),
        sa.Column("consent_health_data", sa.Boolean(), nullable=False),
        sa.Column("complainant_user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("complainant_name", sa.String(120), nullable=True),
        sa.Column("complainant_phone", sa.String(32), nullable=True),
        sa.Column("complainant_email", sa.String(254), nullable=True),
        sa.Column("merchant_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("severity_reasons", sa.JSON(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("corrective_action", sa.Text(), nullable=True),
        _at("opened_at"),
        sa.Column("opened_by", sa.String(40), nullable=False),
        _at("closed_at", nullable=True),
        _ledger_index(),
    )
    op.create_index("ix_complaint_cases_number", "complaint_cases", ["number"], unique=True)
    for column in (
        "category",
        "complainant_user_id",
        "merchant_id",
        "status",
        "severity",
        "assignee_id",
        "opened_at",
    ):
        op.create_index(f"ix_complaint_cases_{column}", "complaint_cases", [column])

    op.create_table(
        "case_orders",
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("complaint_cases.id"), primary_key=True),
        sa.Column("order_id", sa.Integer(), primary_key=True, autoincrement=False),
        _ledger_index(),
    )
    op.create_index("ix_case_orders_order_id", "case_orders", ["order_id"])

    op.create_table(
        "complaint_case_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("complaint_cases.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        _at("at"),
        sa.Column("from_status", sa.String(24), nullable=True),
        sa.Column("to_status", sa.String(24), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("visible_to_complainant", sa.Boolean(), nullable=False),
        _ledger_index(),
    )
    op.create_index("ix_complaint_case_events_case_id", "complaint_case_events", ["case_id"])

    op.create_table(
        "complaint_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("complaint_cases.id"), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("recipient_user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("recipient_email", sa.String(254), nullable=True),
        sa.Column("recipient_phone", sa.String(32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        _at("created_at"),
        _at("sent_at", nullable=True),
        _ledger_index(),
    )
    op.create_index("ix_complaint_messages_case_id", "complaint_messages", ["case_id"])
    op.create_index(
        "ix_complaint_messages_recipient_user_id", "complaint_messages", ["recipient_user_id"]
    )

    op.create_table(
        "complaint_attachments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("complaint_cases.id"), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("uploaded_by", sa.String(40), nullable=False),
        _at("uploaded_at"),
        _ledger_index(),
    )
    op.create_index("ix_complaint_attachments_case_id", "complaint_attachments", ["case_id"])

    op.create_table(
        "complaint_sla_notifications",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("complaint_cases.id"), nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _at("due_at"),
        _at("raised_at"),
        _ledger_index(),
        sa.UniqueConstraint("case_id", "target", "kind", name="uq_complaint_sla_notification"),
    )
    op.create_index(
        "ix_complaint_sla_notifications_case_id", "complaint_sla_notifications", ["case_id"]
    )
    op.create_index(
        "ix_complaint_sla_notifications_raised_at", "complaint_sla_notifications", ["raised_at"]
    )

    op.create_table(
        "complaint_compensations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("complaint_cases.id"), nullable=False),
        sa.Column("remedy", sa.String(16), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("price_paid_fen", sa.BigInteger(), nullable=True),
        sa.Column("loss_fen", sa.BigInteger(), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("payout_key", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(40), nullable=False),
        _at("decided_at"),
        _at("paid_at", nullable=True),
        sa.Column("payment_reference", sa.String(120), nullable=True),
        _ledger_index(),
        sa.UniqueConstraint("payout_key"),
    )
    op.create_index("ix_complaint_compensations_case_id", "complaint_compensations", ["case_id"])

    op.create_table(
        "complaint_feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("complaint_cases.id"), nullable=False),
        sa.Column(
            "closure_event_id",
            sa.Integer(),
            sa.ForeignKey("complaint_case_events.id"),
            nullable=False,
        ),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("appeal", sa.Boolean(), nullable=False),
        sa.Column("given_by", sa.String(40), nullable=False),
        _at("given_at"),
        _ledger_index(),
        sa.UniqueConstraint("closure_event_id"),
    )
    op.create_index("ix_complaint_feedback_case_id", "complaint_feedback", ["case_id"])

    op.create_table(
        "complaint_surveys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("complaint_cases.id"), nullable=True),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("n_respondents", sa.Integer(), nullable=False),
        sa.Column("n_missing_illness", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(40), nullable=False),
        _at("uploaded_at"),
        _ledger_index(),
    )
    op.create_index("ix_complaint_surveys_case_id", "complaint_surveys", ["case_id"])

    op.create_table(
        "complaint_clusters",
        sa.Column("id", sa.Integer(), primary_key=True),
        _at("opened_at"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        _at("alerted_at", nullable=True),
        _ledger_index(),
    )
    op.create_table(
        "complaint_cluster_members",
        sa.Column(
            "case_id",
            sa.Integer(),
            sa.ForeignKey("complaint_cases.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column(
            "cluster_id", sa.Integer(), sa.ForeignKey("complaint_clusters.id"), nullable=False
        ),
        sa.Column("shared", sa.JSON(), nullable=False),
        _at("linked_at"),
        _ledger_index(),
    )
    op.create_index(
        "ix_complaint_cluster_members_cluster_id", "complaint_cluster_members", ["cluster_id"]
    )
    op.create_table(
        "complaint_case_exposures",
        sa.Column(
            "case_id",
            sa.Integer(),
            sa.ForeignKey("complaint_cases.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("key", sa.String(40), primary_key=True),
        _at("at"),
    )
    op.create_index("ix_complaint_case_exposures_key_at", "complaint_case_exposures", ["key", "at"])
    op.create_table(
        "complaint_notices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("complaint_cases.id"), nullable=False),
        sa.Column("source_kind", sa.String(8), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        _at("sent_at"),
        _at("answered_at", nullable=True),
        sa.Column("answer_ill", sa.Boolean(), nullable=True),
        _at("answer_onset_at", nullable=True),
        sa.Column("answer_symptoms", sa.JSON(), nullable=False),
        _ledger_index(),
        sa.UniqueConstraint("source_kind", "source_id", "order_id", name="uq_complaint_notice"),
    )
    for column in ("case_id", "order_id", "user_id"):
        op.create_index(f"ix_complaint_notices_{column}", "complaint_notices", [column])

    op.create_table(
        "complaint_case_counters",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last", sa.Integer(), nullable=False),
    )

    op.create_table(
        "complaint_idempotency_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scope", sa.String(40), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("complaint_cases.id"), nullable=True),
        _at("created_at"),
        sa.UniqueConstraint("scope", "key", name="uq_complaint_idempotency"),
    )


def downgrade() -> None:
    op.drop_table("complaint_notices")
    op.drop_table("complaint_case_exposures")
    op.drop_table("complaint_cluster_members")
    op.drop_table("complaint_clusters")
    op.drop_table("complaint_idempotency_keys")
    op.drop_table("complaint_case_counters")
    op.drop_table("complaint_surveys")
    op.drop_table("complaint_feedback")
    op.drop_table("complaint_compensations")
    op.drop_table("complaint_sla_notifications")
    op.drop_table("complaint_attachments")
    op.drop_table("complaint_messages")
    op.drop_table("complaint_case_events")
    op.drop_table("case_orders")
    op.drop_table("complaint_cases")
