"""Tasks parked while the broker was unreachable (relayed by ops.relay_parked_tasks).

Revision ID: 0009_parked_tasks
Revises: 0008_reports
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_parked_tasks"
down_revision = "0008_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parked_tasks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("args", sa.Text(), nullable=False),
        sa.Column("error", sa.String(500), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("parked_tasks")
