"""Runs of the full ledger verification started from the admin page (progress and outcome)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from columns import utc_column, utcnow


class VerificationRun(SQLModel, table=True):
    """One `verify` pass: who asked, how far it got, and what it found."""

    __tablename__ = "ledger_verification_runs"

    id: int | None = Field(default=None, primary_key=True)
    requested_by: int | None = Field(default=None)
    status: str = Field(default="queued", max_length=16)  # queued, running, ok, tampered, failed
    done: int = Field(default=0)
    total: int = Field(default=0)
    result: str = Field(default="")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
