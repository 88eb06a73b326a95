"""Complaint cases, their timeline, outbox messages, attachments, SLA notifications,
compensation decisions, feedback and food-history surveys.

Every table here but two bookkeeping ones is re-derived by `ledger verify` (PROJECTIONS below).
Personal and health data (the complainant's contact, the description, symptoms, medical care,
free-text notes and replies) enter the ledger only as salted digests; the rows hold the values.
`complaint_case_counters` (next case number per year), `complaint_idempotency_keys`
(replayed POSTs) and `complaint_case_exposures` (the clustering index, derived from orders
and trace records) are bookkeeping, not facts, and are not projected.

`case_orders` links a case to order ids WITHOUT a foreign key: the orders tables (issue 5) do
not exist yet; part 2 adds the key once they do.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    select,
)
from sqlmodel import Field, SQLModel

import ledger
from columns import utc_column, utcnow

__all__ = [
    "PROJECTIONS",
    "Attachment",
    "Case",
    "CaseCounter",
    "CaseEvent",
    "CaseExposure",
    "CaseOrder",
    "Cluster",
    "ClusterMember",
    "Compensation",
    "ExposureDay",
    "ExposureRollupDay",
    "Feedback",
    "IdempotencyKey",
    "Message",
    "Notice",
    "SlaNotification",
    "Survey",
]


def _index() -> Any:
    return Field(default=None, sa_column=Column(BigInteger(), nullable=True))


class Case(SQLModel, table=True):
    """A complaint: what was reported (intake), where it stands, who works it."""

    __tablename__ = "complaint_cases"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=24, unique=True, index=True)
    channel: str = Field(max_length=16)
    category: str = Field(max_length=16, index=True)
    description: str = Field(sa_column=Column(Text(), nullable=False))
    symptoms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    onset_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    n_party: int = Field(default=1)
    n_ill: int = Field(default=0)
    n_exposed: int | None = Field(default=None)
    ill_persons: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    medical_care: str = Field(default="none", max_length=16)
    stool_sample: bool | None = Field(default=None)
    leftovers_kept: bool | None = Field(default=None)
    other_ill_contacts: bool | None = Field(default=None)
    food_history: str = Field(default="", sa_column=Column(Text(), nullable=False))
    remedy_sought: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    consent_share_with_merchant: bool = Field(default=False)
    consent_contact_by_phone: bool = Field(default=False)
    consent_health_data: bool = Field(default=False)
    complainant_user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    complainant_name: str | None = Field(default=None, max_length=120)
    complainant_phone: str | None = Field(default=None, max_length=32)
    complainant_email: str | None = Field(default=None, max_length=254)
    merchant_id: int | None = Field(default=None, index=True)
    status: str = Field(default="new", max_length=24, index=True)
    severity: str = Field(max_length=16, index=True)
    severity_reasons: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    assignee_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    resolution: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    root_cause: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    corrective_action: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    opened_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(index=True))
    opened_by: str = Field(max_length=40)
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ledger_index: int | None = _index()


class CaseOrder(SQLModel, table=True):
    """An order a case concerns (no foreign key until the orders tables exist)."""

    __tablename__ = "case_orders"

    case_id: int = Field(foreign_key="complaint_cases.id", primary_key=True)
    order_id: int = Field(primary_key=True, index=True)
    ledger_index: int | None = _index()


class CaseEvent(SQLModel, table=True):
    """One line of a case's timeline; SLA clocks are computed from these."""

    __tablename__ = "complaint_case_events"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="complaint_cases.id", index=True)
    kind: str = Field(max_length=32)
    actor: str = Field(max_length=40)
    at: datetime = Field(sa_column=utc_column())
    from_status: str | None = Field(default=None, max_length=24)
    to_status: str | None = Field(default=None, max_length=24)
    body: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    visible_to_complainant: bool = Field(default=False)
    ledger_index: int | None = _index()


class Message(SQLModel, table=True):
    """An outbox message to a complainant: in-app (shown on "my cases"), email or SMS.

    Templated kinds (acknowledgement, satisfaction_check) are rendered in the reader's
    language when shown or sent; replies carry the desk's text in ``body``. A sender process
    sets ``sent_at`` (not projected: delivery is not a fact about the case).
    """

    __tablename__ = "complaint_messages"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="complaint_cases.id", index=True)
    channel: str = Field(max_length=8)
    kind: str = Field(max_length=24)
    recipient_user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    recipient_email: str | None = Field(default=None, max_length=254)
    recipient_phone: str | None = Field(default=None, max_length=32)
    body: str = Field(default="", sa_column=Column(Text(), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ledger_index: int | None = _index()


class Attachment(SQLModel, table=True):
    """A photo of a case, stored under instance/attachments/ by its SHA-256."""

    __tablename__ = "complaint_attachments"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="complaint_cases.id", index=True)
    sha256: str = Field(max_length=64)
    media_type: str = Field(max_length=16)
    size: int
    filename: str = Field(default="", max_length=200)
    uploaded_by: str = Field(max_length=40)
    uploaded_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    ledger_index: int | None = _index()


class SlaNotification(SQLModel, table=True):
    """A warning before, or an escalation at, an SLA breach: at most one of each per target."""

    __tablename__ = "complaint_sla_notifications"
    __table_args__ = (
        UniqueConstraint("case_id", "target", "kind", name="uq_complaint_sla_notification"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="complaint_cases.id", index=True)
    target: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    due_at: datetime = Field(sa_column=utc_column())
    raised_at: datetime = Field(sa_column=utc_column(index=True))
    ledger_index: int | None = _index()


class Compensation(SQLModel, table=True):
    """A remedy decided for a case; ``payout_key`` makes its payout happen once."""

    __tablename__ = "complaint_compensations"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="complaint_cases.id", index=True)
    remedy: str = Field(max_length=16)
    order_id: int | None = Field(default=None)
    price_paid_fen: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
    loss_fen: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
    amount_fen: int = Field(sa_column=Column(BigInteger(), nullable=False))
    basis: str = Field(default="", max_length=16)
    payout_key: str = Field(max_length=80, unique=True)
    status: str = Field(default="decided", max_length=16)
    decided_by: str = Field(max_length=40)
    decided_at: datetime = Field(sa_column=utc_column())
    paid_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    payment_reference: str | None = Field(default=None, max_length=120)
    ledger_index: int | None = _index()


class Feedback(SQLModel, table=True):
    """The complainant's satisfaction rating (1-5) after a closure, and an appeal if any."""

    __tablename__ = "complaint_feedback"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="complaint_cases.id", index=True)
    closure_event_id: int = Field(foreign_key="complaint_case_events.id", unique=True)
    rating: int | None = Field(default=None)
    comment: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    appeal: bool = Field(default=False)
    given_by: str = Field(max_length=40)
    given_at: datetime = Field(sa_column=utc_column())
    ledger_index: int | None = _index()


class Survey(SQLModel, table=True):
    """An uploaded food-history questionnaire (the file is under instance/surveys/)."""

    __tablename__ = "complaint_surveys"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="complaint_cases.id", index=True)
    filename: str = Field(max_length=200)
    sha256: str = Field(max_length=64)
    size: int
    mapping: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    n_respondents: int
    n_missing_illness: int
    uploaded_by: str = Field(max_length=40)
    uploaded_at: datetime = Field(sa_column=utc_column())
    ledger_index: int | None = _index()


class Cluster(SQLModel, table=True):
    """Cases linked because they share a merchant, dish, batch, lot, supplier or courier within
    their exposure windows. ``alerted_at``: when it first held >= 2 unrelated cases."""

    __tablename__ = "complaint_clusters"

    id: int | None = Field(default=None, primary_key=True)
    opened_at: datetime = Field(sa_column=utc_column())
    status: str = Field(default="open", max_length=16)  # open | merged
    merged_into: int | None = Field(default=None)
    alerted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ledger_index: int | None = _index()


class ClusterMember(SQLModel, table=True):
    """A case's place in a cluster (one cluster per case) and what it shares with the others."""

    __tablename__ = "complaint_cluster_members"

    case_id: int = Field(
        foreign_key="complaint_cases.id",
        primary_key=True,
        sa_column_kwargs={"autoincrement": False},
    )
    cluster_id: int = Field(foreign_key="complaint_clusters.id", index=True)
    shared: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    linked_at: datetime = Field(sa_column=utc_column())
    ledger_index: int | None = _index()


class Notice(SQLModel, table=True):
    """An exposure notice to the customer of one order that received a suspect lot or batch.

    One per (source, order): re-sending never notifies an order twice. The customer answers
    the symptom survey through ``token`` (the link in the message).
    """

    __tablename__ = "complaint_notices"
    __table_args__ = (
        UniqueConstraint("source_kind", "source_id", "order_id", name="uq_complaint_notice"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="complaint_cases.id", index=True)
    source_kind: str = Field(max_length=8)  # lot | batch
    source_id: int
    order_id: int = Field(index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token: str = Field(max_length=64, unique=True)
    sent_at: datetime = Field(sa_column=utc_column())
    answered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    answer_ill: bool | None = Field(default=None)
    answer_onset_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    answer_symptoms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    ledger_index: int | None = _index()


class CaseExposure(SQLModel, table=True):
    """A "kind:id" exposure of a case's orders inside its exposure window (merchant:3,
    lot:17, ...) at the case's reference time: the index new cases are matched against.

    Derived from the orders and trace records, rewritten whenever the case is (re)linked;
    bookkeeping, not a fact, so not projected (the cluster links it leads to are).
    """

    __tablename__ = "complaint_case_exposures"
    __table_args__ = (Index("ix_complaint_case_exposures_key_at", "key", "at"),)

    case_id: int = Field(
        foreign_key="complaint_cases.id",
        primary_key=True,
        sa_column_kwargs={"autoincrement": False},
    )
    key: str = Field(max_length=40, primary_key=True)
    at: datetime = Field(sa_column=utc_column())


class CaseCounter(SQLModel, table=True):
    """The last case number given out per year (numbers are gap-free per year)."""

    __tablename__ = "complaint_case_counters"

    year: int = Field(sa_column=Column(Integer(), primary_key=True, autoincrement=False))
    last: int = Field(default=0)


class IdempotencyKey(SQLModel, table=True):
    """An Idempotency-Key already used by a caller to open a case, and the case it opened."""

    __tablename__ = "complaint_idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_complaint_idempotency"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=40)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    case_id: int | None = Field(default=None, foreign_key="complaint_cases.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class ExposureDay(SQLModel, table=True):
    """How many distinct eligible orders placed on one UTC day were exposed to a candidate
    (kind in complaints.exposures.KINDS, ref its id): the daily roll-up source ranking sums.

    Derived from the orders and trace records by complaints.exposure_rollups; a cache, not a
    fact, so not projected by `ledger verify` (delete it and the next roll-up rebuilds it).
    """

    __tablename__ = "complaint_exposure_days"
    __table_args__ = (Index("ix_complaint_exposure_days_day", "day"),)

    kind: str = Field(max_length=16, primary_key=True)
    ref: int = Field(sa_column=Column(BigInteger(), primary_key=True, autoincrement=False))
    day: date = Field(primary_key=True)
    orders: int


class ExposureRollupDay(SQLModel, table=True):
    """A UTC day whose exposures are rolled up, with its eligible (not rejected or cancelled)
    order count when computed: a day whose count has changed since is read raw. A cache like
    ExposureDay, not projected."""

    __tablename__ = "complaint_exposure_rollup_days"

    day: date = Field(primary_key=True)
    n_orders: int
    computed_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


# --------------------------------------------------------------------------- projections

# the case columns its ledger entries carry (records.case_payload) and verify re-derives
CASE_FIELDS = (
    "number",
    "channel",
    "category",
    "description",
    "symptoms",
    "onset_at",
    "n_party",
    "n_ill",
    "n_exposed",
    "ill_persons",
    "medical_care",
    "stool_sample",
    "leftovers_kept",
    "other_ill_contacts",
    "food_history",
    "remedy_sought",
    "consent_share_with_merchant",
    "consent_contact_by_phone",
    "consent_health_data",
    "complainant_user_id",
    "complainant_name",
    "complainant_phone",
    "complainant_email",
    "merchant_id",
    "status",
    "severity",
    "severity_reasons",
    "assignee_id",
    "resolution",
    "root_cause",
    "corrective_action",
    "opened_at",
    "opened_by",
    "closed_at",
)

CASE_WRITES = frozenset(
    {
        "complaint.opened",
        "complaint.updated",
        "complaint.transitioned",
        "complaint.assigned",
    }
)
CASES_PROJECTION = ledger.TableProjection(
    table="complaint_cases",
    writes=CASE_WRITES,
    key="subject.case",
    columns=CASE_FIELDS,
)
EVENT_WRITES = frozenset(
    {
        *CASE_WRITES,
        "complaint.note_added",
        "complaint.reply_sent",
        "complaint.attachment_added",
        "complaint.compensation_decided",
        "complaint.compensation_paid",
        "complaint.feedback_given",
    }
)
EVENTS_PROJECTION = ledger.TableProjection(
    table="complaint_case_events",
    writes=EVENT_WRITES,
    key="subject.event",
    columns={
        "case_id": "event_case",
        "kind": "event_kind",
        "actor": "event_actor",
        "at": "event_at",
        "from_status": "from_status",
        "to_status": "to_status",
        "body": "event_body",
        "visible_to_complainant": "event_visible",
    },
)
MESSAGES_PROJECTION = ledger.TableProjection(
    table="complaint_messages",
    writes={"complaint.message_queued"},
    key="subject.message",
    columns=[
        "case_id",
        "channel",
        "kind",
        "recipient_user_id",
        "recipient_email",
        "recipient_phone",
        "body",
        "created_at",
    ],
)
ATTACHMENTS_PROJECTION = ledger.TableProjection(
    table="complaint_attachments",
    writes={"complaint.attachment_added"},
    key="subject.attachment",
    columns={
        "case_id": "event_case",
        "sha256": "sha256",
        "media_type": "media_type",
        "size": "size",
        "filename": "filename",
        "uploaded_at": "event_at",
    },
)
NOTIFICATIONS_PROJECTION = ledger.TableProjection(
    table="complaint_sla_notifications",
    writes={"complaint.sla_warning", "complaint.sla_escalation"},
    key="subject.notification",
    columns=["case_id", "target", "kind", "due_at", "raised_at"],
)
COMPENSATIONS_PROJECTION = ledger.TableProjection(
    table="complaint_compensations",
    writes={"complaint.compensation_decided", "complaint.compensation_paid"},
    key="subject.compensation",
    columns={
        "case_id": "event_case",
        **{
            c: c
            for c in (
                "remedy",
                "order_id",
                "price_paid_fen",
                "loss_fen",
                "amount_fen",
                "basis",
                "payout_key",
                "status",
                "decided_at",
                "paid_at",
                "payment_reference",
            )
        },
    },
)
FEEDBACK_PROJECTION = ledger.TableProjection(
    table="complaint_feedback",
    writes={"complaint.feedback_given"},
    key="subject.feedback",
    columns={
        "case_id": "event_case",
        "closure_event_id": "closure_event_id",
        "rating": "rating",
        "comment": "comment",
        "appeal": "appeal",
        "given_at": "event_at",
    },
)
SURVEYS_PROJECTION = ledger.TableProjection(
    table="complaint_surveys",
    writes={"complaint.survey_uploaded"},
    key="subject.survey",
    columns=["case_id", "filename", "sha256", "size", "mapping", "n_respondents", "uploaded_at"],
)


class CaseOrdersProjection:
    """`case_orders` re-derived per case: the sorted order ids the last entry that set
    ``order_ids`` recorded (an empty list: no rows)."""

    table = "case_orders"
    entry_types = frozenset({"complaint.opened", "complaint.updated"})

    def row_key(self, envelope: Mapping[str, Any]) -> str | None:
        """The case id, for entries that set the case's orders."""
        if "order_ids" not in (envelope.get("payload") or {}):
            return None
        case = (envelope.get("subject") or {}).get("case")
        return None if case is None else str(case)

    def fields(self, index: int, envelope: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """{"order_ids": [...]}, or None (no rows) for an empty list."""
        ids = sorted(envelope["payload"]["order_ids"])
        return {"order_ids": ids} if ids else None

    def current_rows(self, connection: Connection) -> Iterator[ledger.CurrentRow]:
        """One row per case: its order ids, and the newest ledger index among its links."""
        table = Table(self.table, MetaData(), autoload_with=connection)
        stmt = select(table.c.case_id, table.c.order_id, table.c.ledger_index).order_by(
            table.c.case_id, table.c.order_id
        )
        groups: dict[int, tuple[list[int], int | None]] = {}
        for case_id, order_id, index in connection.execute(stmt):
            ids, last = groups.setdefault(case_id, ([], None))
            ids.append(order_id)
            newest = index if last is None or (index is not None and index > last) else last
            groups[case_id] = (ids, newest)
        for case_id, (ids, last) in groups.items():
            yield ledger.CurrentRow(str(case_id), last, {"order_ids": ids})


CLUSTERS_PROJECTION = ledger.TableProjection(
    table="complaint_clusters",
    writes={"complaint.cluster_opened", "complaint.cluster_alert", "complaint.cluster_merged"},
    key="subject.cluster",
    columns=["opened_at", "status", "merged_into", "alerted_at"],
)
MEMBERS_PROJECTION = ledger.TableProjection(
    table="complaint_cluster_members",
    writes={"complaint.cluster_linked"},
    key="subject.member",
    key_column="case_id",
    columns=["cluster_id", "shared", "linked_at"],
)
NOTICES_PROJECTION = ledger.TableProjection(
    table="complaint_notices",
    writes={"complaint.notice_sent", "complaint.notice_answered"},
    key="subject.notice",
    columns=[
        "case_id",
        "source_kind",
        "source_id",
        "order_id",
        "user_id",
        "token",
        "sent_at",
        "answered_at",
        "answer_ill",
        "answer_onset_at",
        "answer_symptoms",
    ],
)

PROJECTIONS: tuple[ledger.Projection, ...] = (
    CASES_PROJECTION,
    CaseOrdersProjection(),
    EVENTS_PROJECTION,
    MESSAGES_PROJECTION,
    ATTACHMENTS_PROJECTION,
    NOTIFICATIONS_PROJECTION,
    COMPENSATIONS_PROJECTION,
    FEEDBACK_PROJECTION,
    SURVEYS_PROJECTION,
    CLUSTERS_PROJECTION,
    MEMBERS_PROJECTION,
    NOTICES_PROJECTION,
)
