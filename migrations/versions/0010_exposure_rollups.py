"""Daily exposure roll-ups for source ranking (complaints).

Revision ID: 0010_exposure_rollups
Revises: 0009_parked_tasks
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_exposure_rollups"
down_revision = "0009_parked_tasks"
branch_labels = None
depends_on = None


NOT_EATEN = "status IN ('rejected', 'cancelled')"  # complaints.exposures.NOT_EATEN


def upgrade() -> None:
    # Roll-up freshness checks count a day's not-eaten orders from this small partial index
    # instead of reading every order row of the window (docs/decisions/0008).
    op.create_index(
        "ix_orders_not_eaten_created_at",
        "orders",
        ["created_at"],
        sqlite_where=sa.text(NOT_EATEN),
        postgresql_where=sa.text(NOT_EATEN),
    )
    op.create_table(
        "complaint_exposure_days",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("ref", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("orders", sa.Integer(), nullable=False),
    )
    op.create_index("ix_complaint_exposure_days_day", "complaint_exposure_days", ["day"])
    op.create_table(
        "complaint_exposure_rollup_days",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("n_orders", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("complaint_exposure_rollup_days")
    op.drop_index("ix_complaint_exposure_days_day", table_name="complaint_exposure_days")
    op.drop_table("complaint_exposure_days")
    op.drop_index("ix_orders_not_eaten_created_at", table_name="orders")
