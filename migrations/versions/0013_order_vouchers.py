"""Compensation vouchers: the vouchers table, and the voucher an order spent.

Revision ID: 0013_order_vouchers
Revises: 0012_open_watch_index
Create Date: 2026-11-24

`orders.voucher_id` has no foreign key: `order_vouchers.source_order_id` already points at
`orders`, and two tables pointing at each other cannot be created or dropped in one order
(`ledger verify` re-derives both columns from the log instead). Existing orders get
`discount_fen` 0: their total was charged in full.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_order_vouchers"
down_revision = "0012_open_watch_index"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
TO_RESTORE = (
    "voucher_id IS NOT NULL AND voucher_restored_at IS NULL AND status IN ('rejected', 'cancelled')"
)


def upgrade() -> None:
    op.create_table(
        "order_vouchers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("balance_fen", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("source_order_id", sa.Integer(), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("issued_by", sa.String(80), nullable=False),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("code", name="uq_order_vouchers_code"),
        sa.UniqueConstraint("idempotency_key", name="uq_order_vouchers_idempotency_key"),
    )
    op.create_index("ix_order_vouchers_user_id", "order_vouchers", ["user_id"])
    op.create_index("ix_order_vouchers_source_order_id", "order_vouchers", ["source_order_id"])
    op.add_column("orders", sa.Column("voucher_id", sa.Integer(), nullable=True))
    op.add_column(
        "orders",
        sa.Column("discount_fen", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column("orders", sa.Column("voucher_restored_at", TZ, nullable=True))
    op.create_index(
        "ix_orders_voucher_to_restore",
        "orders",
        ["id"],
        sqlite_where=sa.text(TO_RESTORE),
        postgresql_where=sa.text(TO_RESTORE),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_voucher_to_restore", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("voucher_restored_at")
        batch.drop_column("discount_fen")
        batch.drop_column("voucher_id")
    op.drop_index("ix_order_vouchers_source_order_id", table_name="order_vouchers")
    op.drop_index("ix_order_vouchers_user_id", table_name="order_vouchers")
    op.drop_table("order_vouchers")
