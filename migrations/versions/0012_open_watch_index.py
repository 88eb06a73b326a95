"""Partial index of deliveries still on the road per box (every sensor ingest asks for them).

Revision ID: 0012_open_watch_index
Revises: 0011_delivery_verdicts
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_open_watch_index"
down_revision = "0011_delivery_verdicts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_sensor_watches_open_box",
        "sensor_watches",
        ["box_id"],
        sqlite_where=sa.text("dropoff_at IS NULL"),
        postgresql_where=sa.text("dropoff_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_sensor_watches_open_box", table_name="sensor_watches")
