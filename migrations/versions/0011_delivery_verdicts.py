"""Stored cold-chain verdicts of finished deliveries (sensors).

Revision ID: 0011_delivery_verdicts
Revises: 0010_exposure_rollups
Create Date: 2026-11-23

A derived cache written by sensors.verdicts (see sensors/models.py StoredVerdict); `ledger
verify` does not project it. Indexes: per-merchant and per-courier verdict counts over an
order period (the dashboard), stale rows (re-judging), and a box's windows (late readings).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_delivery_verdicts"
down_revision = "0010_exposure_rollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_verdicts",
        sa.Column("delivery_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("profile", sa.String(32), nullable=False),
        sa.Column("verdict", sa.String(24), nullable=False),
        sa.Column("n_readings", sa.Integer(), nullable=False),
        sa.Column("min_c", sa.Float(), nullable=True),
        sa.Column("max_c", sa.Float(), nullable=True),
        sa.Column("mean_c", sa.Float(), nullable=True),
        sa.Column("minutes_outside", sa.Float(), nullable=False),
        sa.Column("n_excursions", sa.Integer(), nullable=False),
        sa.Column("n_gaps", sa.Integer(), nullable=False),
        sa.Column("exceeds_time_limit", sa.Boolean(), nullable=False),
        sa.Column("box_id", sa.String(64), nullable=False),
        sa.Column("window_lo", sa.BigInteger(), nullable=False),
        sa.Column("window_hi", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("courier_id", sa.Integer(), nullable=False),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("judged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", "profile"),
    )
    op.create_index(
        "ix_delivery_verdicts_merchant",
        "delivery_verdicts",
        ["profile", "merchant_id", "verdict", "ordered_at"],
    )
    op.create_index(
        "ix_delivery_verdicts_courier",
        "delivery_verdicts",
        ["profile", "courier_id", "verdict", "ordered_at"],
    )
    op.create_index(
        "ix_delivery_verdicts_verdict", "delivery_verdicts", ["verdict", "profile", "ordered_at"]
    )
    op.create_index("ix_delivery_verdicts_box_window", "delivery_verdicts", ["box_id", "window_hi"])


def downgrade() -> None:
    op.drop_table("delivery_verdicts")
