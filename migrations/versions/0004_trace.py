"""Traceability: suppliers, merchants, products, lots, batches, transformations, uploads.

Revision ID: 0004_trace
Revises: 0003_verification_runs
Create Date: 2026-11-22

(Reserved in the chain so each domain's migration has a fixed place; filled when the domain lands.)
"""

from __future__ import annotations

revision = "0004_trace"
down_revision = "0003_verification_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
