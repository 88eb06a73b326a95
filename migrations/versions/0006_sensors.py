"""Sensors: devices, readings, alerts.

Revision ID: 0006_sensors
Revises: 0005_orders
Create Date: 2026-11-22

(Reserved in the chain so each domain's migration has a fixed place; filled when the domain lands.)
"""

from __future__ import annotations

revision = "0006_sensors"
down_revision = "0005_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
