"""Complaint desk: cases, clusters, notices, compensation.

Revision ID: 0007_complaints
Revises: 0006_sensors
Create Date: 2026-11-22

(Reserved in the chain so each domain's migration has a fixed place; filled when the domain lands.)
"""

from __future__ import annotations

revision = "0007_complaints"
down_revision = "0006_sensors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
