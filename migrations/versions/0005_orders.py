"""Ordering: menus, orders, payments, deliveries.

Revision ID: 0005_orders
Revises: 0004_trace
Create Date: 2026-11-22

(Reserved in the chain so each domain's migration has a fixed place; filled when the domain lands.)
"""

from __future__ import annotations

revision = "0005_orders"
down_revision = "0004_trace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
