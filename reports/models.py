"""Investigation report versions, their PDF bytes, and the administrators' review actions.

A report row is one immutable version: once rendered, its PDF (stored by SHA-256 in
`report_files`) never changes, and the `report.generated` ledger entry records that digest.
Re-generating a case's report adds a new row with the next version number. Progress and status
of the rendering are operational columns (not facts); the request, the outcome and every
review action are ledger entries, whose indexes the rows record.

`ledger verify` re-derives the three tables (PROJECTIONS below): a report row from its
`report.requested`, `report.generated` and status-changing `report.reviewed` entries (the row's
ledger index is the newest of `request_index`, `ledger_index` and its status-changing reviews';
each entry's own index is also compared with the column that records it); a review row from its
`report.reviewed` entry (the body as a salted digest); a file row by the SHA-256 of its bytes,
which must be one a `report.generated` entry recorded. `status` before rendering, `progress`,
`error` and `finished_at` are operational and not projected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlmodel import Field, SQLModel

import ledger
from columns import utc_column, utcnow

__all__ = ["PROJECTIONS", "Report", "ReportFile", "ReportReview"]

KINDS = ("case", "cluster", "weekly")
LANGUAGES = ("zh-CN", "en")
AUDIENCES = ("staff", "merchant")
STATUSES = ("queued", "rendering", "ready", "failed")
REVIEW_STATUSES = ("pending", "approved", "sent_back", "signed_off")


class Report(SQLModel, table=True):
    """One generated version of a report (case investigation or weekly summary)."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("kind", "case_id", "language", "audience", "version", name="uq_report_v"),
        UniqueConstraint("requested_by", "idempotency_key", name="uq_report_idempotency"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="case", max_length=16, index=True)
    case_id: int | None = Field(default=None, index=True)
    cluster_id: int | None = Field(default=None, index=True)  # kind "cluster"
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
    # the client's Idempotency-Key (per requester): a replayed POST returns this version
    idempotency_key: str | None = Field(default=None, max_length=200)


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


# --------------------------------------------------------------------------- projections

# review actions that move a report's review status (a comment does not write the report row)
STATUS_ACTIONS = ("approve", "send_back", "sign_off")
# payload fields of report.requested / report.generated that are report columns as they are
_REQUESTED = (
    "kind",
    "case_number",
    "merchant_id",
    "language",
    "audience",
    "has_complainant_details",
    "version",
    "requested_at",
)
_GENERATED = ("kind", "sha256", "size", "pages", "version", "language", "audience")
_WEEKLY = ("period_start", "period_end", "has_complainant_details", "requested_at")


class ReportsProjection:
    """`reports` re-derived from its request, generation and status-changing review entries."""

    table = "reports"
    entry_types = frozenset({"report.requested", "report.generated", "report.reviewed"})
    key_column = "id"
    index_column = "ledger_index"
    columns = (
        *dict.fromkeys((*_REQUESTED, *_GENERATED, *_WEEKLY)),
        "case_id",
        "cluster_id",
        "requested_by",
        "idempotency_key",
        "status",
        "review_status",
        "request_index",
        "ledger_index",
    )

    def row_key(self, envelope: Mapping[str, Any]) -> str | None:
        """The report id; None for a review entry that leaves the status as it was."""
        payload = envelope.get("payload") or {}
        if envelope.get("type") == "report.reviewed" and payload.get("action") not in (
            STATUS_ACTIONS
        ):
            return None
        report = (envelope.get("subject") or {}).get("report")
        return None if report is None else str(report)

    def fields(self, index: int, envelope: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The columns the entry sets, including its own index in the column recording it."""
        payload = envelope.get("payload") or {}
        subject = envelope.get("subject") or {}
        kind = envelope.get("type")
        if kind == "report.reviewed":
            return {"review_status": payload["to"]} if "to" in payload else {}
        out: dict[str, Any] = {}
        if kind == "report.requested":
            out = {c: payload[c] for c in _REQUESTED if c in payload}
            if "idempotency_key" in payload:
                out["idempotency_key"] = payload["idempotency_key"]
            out.update(
                case_id=subject.get("case"),
                cluster_id=subject.get("cluster"),
                requested_by=envelope.get("actor"),
                review_status="pending",
                request_index=index,
            )
            return out
        out = {c: payload[c] for c in (*_GENERATED, *_WEEKLY) if c in payload}
        out.update(status="ready", ledger_index=index)
        if payload.get("kind") == "weekly":  # generated without a request: it is its own
            out.update(
                requested_by=envelope.get("actor"), review_status="pending", request_index=index
            )
        return out

    def current_rows(self, connection: Connection) -> Iterator[ledger.CurrentRow]:
        """Every report with the newest index among its entries' (request, generation and
        status-changing reviews)."""
        table = Table(self.table, MetaData(), autoload_with=connection)
        reviews = Table("report_reviews", MetaData(), autoload_with=connection)
        moved = (
            select(reviews.c.report_id, func.max(reviews.c.ledger_index).label("idx"))
            .where(reviews.c.action.in_(STATUS_ACTIONS))
            .group_by(reviews.c.report_id)
            .subquery()
        )
        stmt = (
            select(table.c.id, moved.c.idx, *(table.c[c] for c in self.columns))
            .outerjoin(moved, moved.c.report_id == table.c.id)
            .execution_options(yield_per=10_000)
        )
        for row in connection.execute(stmt):
            values = dict(zip(self.columns, row[2:], strict=True))
            indexes = [
                int(i)
                for i in (values["request_index"], values["ledger_index"], row[1])
                if i is not None
            ]
            yield ledger.CurrentRow(str(row[0]), max(indexes, default=None), values)


class ReviewsProjection:
    """`report_reviews` re-derived from `report.reviewed` entries (the body as a digest)."""

    table = "report_reviews"
    entry_types = frozenset({"report.reviewed"})
    key_column = "id"
    index_column = "ledger_index"
    columns = ("report_id", "action", "body", "actor", "at")
    _inner = ledger.TableProjection(
        table="report_reviews",
        writes={"report.reviewed"},
        key="subject.review",
        columns=["action", "body", "at"],
    )

    def row_key(self, envelope: Mapping[str, Any]) -> str | None:
        """The review id."""
        return self._inner.row_key(envelope)

    def fields(self, index: int, envelope: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """Action, body digest and time from the payload; report and actor from the envelope."""
        out = dict(self._inner.fields(index, envelope) or {})
        out.update(
            report_id=(envelope.get("subject") or {}).get("report"), actor=envelope.get("actor")
        )
        return out

    def current_rows(self, connection: Connection) -> Iterator[ledger.CurrentRow]:
        """Every review row."""
        rows = ledger.TableProjection(
            table=self.table, writes=self.entry_types, key="subject.review", columns=self.columns
        )
        return rows.current_rows(connection)


class FilesProjection:
    """`report_files`: each stored PDF's bytes hash to its key, a digest some
    `report.generated` entry recorded (the newest such entry is the row's ledger index)."""

    table = "report_files"
    entry_types = frozenset({"report.generated"})

    def row_key(self, envelope: Mapping[str, Any]) -> str | None:
        """The SHA-256 the entry recorded."""
        digest = (envelope.get("payload") or {}).get("sha256")
        return None if digest is None else str(digest)

    def fields(self, index: int, envelope: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The bytes must hash to the recorded digest."""
        return {"content_sha256": envelope["payload"]["sha256"]}

    def current_rows(self, connection: Connection) -> Iterator[ledger.CurrentRow]:
        """Every file, its content hashed, with the newest generation entry naming it."""
        files = Table(self.table, MetaData(), autoload_with=connection)
        reports = Table("reports", MetaData(), autoload_with=connection)
        newest = (
            select(reports.c.sha256, func.max(reports.c.ledger_index).label("idx"))
            .group_by(reports.c.sha256)
            .subquery()
        )
        stmt = (
            select(files.c.sha256, newest.c.idx, files.c.content)
            .outerjoin(newest, newest.c.sha256 == files.c.sha256)
            .execution_options(yield_per=100)
        )
        for key, index, content in connection.execute(stmt):
            yield ledger.CurrentRow(
                str(key),
                None if index is None else int(index),
                {"content_sha256": hashlib.sha256(bytes(content)).hexdigest()},
            )


PROJECTIONS: tuple[ledger.Projection, ...] = (
    ReportsProjection(),
    ReviewsProjection(),
    FilesProjection(),
)
