"""Payouts beside refunds: order_refunds.kind ("refund" | "payout").

Statutory damages are paid to an order's payer through the gateway's payout, recorded in the
same table as refunds (same idempotency key space, retry schedule and reconciliation).

Revision ID: 0014_refund_kind
Revises: 0013_order_vouchers
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_refund_kind"
down_revision = "0013_order_vouchers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_refunds") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=10), nullable=False, server_default="refund")
        )


def downgrade() -> None:
    with op.batch_alter_table("order_refunds") as batch:
        batch.drop_column("kind")
