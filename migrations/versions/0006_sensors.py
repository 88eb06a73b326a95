"""Sensors: devices, box bindings, readings, watched deliveries, alerts.

Revision ID: 0006_sensors
Revises: 0005_orders
Create Date: 2026-11-22

Readings are narrow on purpose (times as epoch microseconds, see sensors/models.py); the unique
(device, at) index is also the index every read by device and time uses.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_sensors"
down_revision = "0005_orders"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sensor_devices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("box_id", sa.String(64), nullable=True),
        sa.Column("calibrated_on", sa.Date(), nullable=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_sensor_devices_device_id", "sensor_devices", ["device_id"], unique=True)
    op.create_index("ix_sensor_devices_box_id", "sensor_devices", ["box_id"])
    op.create_index("ix_sensor_devices_user_id", "sensor_devices", ["user_id"])
    op.create_table(
        "sensor_bindings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("device", sa.Integer(), sa.ForeignKey("sensor_devices.id"), nullable=False),
        sa.Column("box_id", sa.String(64), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_sensor_bindings_device", "sensor_bindings", ["device"])
    op.create_index("ix_sensor_bindings_box_bound", "sensor_bindings", ["box_id", "bound_at"])
    op.create_table(
        "sensor_readings",
        sa.Column("id", BIG_ID, sa.Identity(cache=1000), primary_key=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("celsius", sa.Float(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.Column("device", sa.Integer(), nullable=False),  # no FK: see sensors/models.py
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("flags", sa.SmallInteger(), nullable=False),
        sa.UniqueConstraint("device", "at", name="uq_sensor_readings_device_at"),
    )
    op.create_table(
        "sensor_watches",
        sa.Column("delivery_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("box_id", sa.String(64), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=True),
        sa.Column("food_class", sa.String(16), nullable=False),
        sa.Column("pickup_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dropoff_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_sensor_watches_box_id", "sensor_watches", ["box_id"])
    op.create_index("ix_sensor_watches_merchant_id", "sensor_watches", ["merchant_id"])
    op.create_table(
        "sensor_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=True),
        sa.Column("box_id", sa.String(64), nullable=False),
        sa.Column("food_class", sa.String(16), nullable=False),
        sa.Column("profile", sa.String(32), nullable=False),
        sa.Column("excursion_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("peak_c", sa.Float(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("delivery_id", "excursion_start", name="uq_sensor_alerts_excursion"),
    )
    op.create_index("ix_sensor_alerts_delivery_id", "sensor_alerts", ["delivery_id"])
    op.create_index("ix_sensor_alerts_merchant_id", "sensor_alerts", ["merchant_id"])
    op.create_index("ix_sensor_alerts_raised_at", "sensor_alerts", ["raised_at"])


def downgrade() -> None:
    op.drop_table("sensor_alerts")
    op.drop_table("sensor_watches")
    op.drop_table("sensor_readings")
    op.drop_table("sensor_bindings")
    op.drop_table("sensor_devices")
