"""Investigation report versions, their PDF bytes, and the administrators' review actions.

A report row is one immutable version: once rendered, its PDF (stored by SHA-256 in
`report_files`) never changes, and the `report.generated` ledger entry records that digest.
Re-generating a case's report adds a new row with the next version number. Progress and status
of the rendering are operational columns (not facts); the request, the outcome and every
review action are ledger entries, whose indexes the rows record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from columns import utc_column, utcnow

__all__ = ["Report", "ReportFile", "ReportReview"]

KINDS = ("case", "weekly")
LANGUAGES = ("zh-CN", "en")
AUDIENCES = ("staff", "merchant")
STATUSES = ("queued", "rendering", "ready", "failed")
REVIEW_STATUSES = ("pending", "approved", "sent_back", "signed_off")


class Report(SQLModel, table=True):
    """One generated version of a report (case investigation or weekly summary)."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("kind", "case_id", "language", "audience", "version", name="uq_report_v"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="case", max_length=16, index=True)
    case_id: int | None = Field(default=None, index=True)
    case_number: str = Field(default="", max_length=24)
    merchant_id: int | None = Field(default=None, index=True)
    language: str = Field(default="zh-CN", max_length=8)
    audience: str = Field(default="staff", max_length=16)
    # True when the PDF names the complainant (staff editions): merchants never get these.
    has_complainant_details: bool = Field(default=False)
    version: int = Field(default=1)
    status: str = Field(default="queued", max_length=16, index=True)
    progress: int = Field(default=0)
    error: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    review_status: str = Field(default="pending", max_length=16, index=True)
    sha256: str | None = Field(default=None, max_length=64)
    size: int | None = Field(default=None)
    pages: int | None = Field(default=None)
    period_start: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    period_end: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    requested_by: str = Field(max_length=40)
    requested_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(index=True))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    request_index: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
    ledger_index: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))


class ReportFile(SQLModel, table=True):
    """The bytes of a rendered PDF, by content hash (in the database, so every worker and web
    process on any machine reads the same file)."""

    __tablename__ = "report_files"

    sha256: str = Field(primary_key=True, max_length=64)
    content: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))


class ReportReview(SQLModel, table=True):
    """One review action on a report version: comment, approve, send back or sign off."""

    __tablename__ = "report_reviews"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="reports.id", index=True)
    action: str = Field(max_length=16)
    body: str = Field(default="", sa_column=Column(Text(), nullable=False))
    actor: str = Field(max_length=40)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    ledger_index: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
