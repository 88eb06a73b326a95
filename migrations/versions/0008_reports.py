"""Investigation reports and reviews.

Revision ID: 0008_reports
Revises: 0007_complaints
Create Date: 2026-11-22

(Reserved in the chain so each domain's migration has a fixed place; filled when the domain lands.)
"""

from __future__ import annotations

revision = "0008_reports"
down_revision = "0007_complaints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
