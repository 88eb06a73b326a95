"""Affected customers of a suspect lot or batch: the forward trace to every order and customer
that received it, exposure notices (in-app and email outbox, with a symptom survey link;
exactly one per exposed order and source, however often the desk sends), the survey answers,
and the hold that stops the source (and every batch made from it) from being served.

Holds go through the trace module (`trace.amendments.apply_status`: a status change with its
ledger entry); the ordering flow serves only batches whose status is "active", so holding
the lot's downstream batches is what keeps it off plates.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

import ledger
from accounts.models import User
from columns import utcnow
from complaints import records
from complaints.intake import SYMPTOMS
from complaints.models import Message, Notice
from complaints.service import get_case
from orders import tracing as order_tracing
from orders.models import Order
from trace import amendments
from trace import queries as trace_queries
from trace.access import Viewer
from trace.models import DishBatch, IngredientLot

__all__ = [
    "AffectedOrder",
    "NoticeError",
    "NoticeNotFound",
    "SentNotices",
    "affected_orders",
    "answer_notice",
    "hold_source",
    "notices_for",
    "send_notices",
]

SOURCE_KINDS = ("lot", "batch")
NOTICE_TEXT = (
    "Food safety notice: an order you received ({order}) may contain a food that is being "
    "investigated. If you feel unwell, please answer a short symptom survey: {link}"
)


class NoticeError(ValueError):
    """A request about notices or holds that cannot be carried out."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class NoticeNotFound(LookupError):
    """No notice with that token for this customer."""


@dataclass(frozen=True, slots=True)
class AffectedOrder:
    """An order that received the source, and its customer."""

    order_id: int
    user_id: int
    merchant_id: int
    placed_at: datetime
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "customer_id": self.user_id,
            "merchant_id": self.merchant_id,
            "placed_at": self.placed_at.isoformat(),
            "status": self.status,
        }


def _check_kind(kind: str) -> None:
    if kind not in SOURCE_KINDS:
        raise NoticeError("kind is lot or batch", field="kind")


def _forward(session: Session, viewer: Viewer, kind: str, ident: int) -> trace_queries.TraceResult:
    _check_kind(kind)
    order_tracing.register()
    return trace_queries.trace(
        session=session, viewer=viewer, kind=kind, ident=ident, direction="forward"
    )


def affected_orders(
    *, session: Session, viewer: Viewer, kind: str, ident: int
) -> list[AffectedOrder]:
    """Every order (and its customer) the lot or batch reached, oldest first."""
    traced = _forward(session, viewer, kind, ident)
    ids = sorted(int(n.id) for n in traced.nodes if n.kind == "order")
    out: list[AffectedOrder] = []
    for start in range(0, len(ids), 5_000):
        rows = session.exec(
            select(Order.id, Order.user_id, Order.merchant_id, Order.created_at, Order.status)
            .where(col(Order.id).in_(ids[start : start + 5_000]))
        ).all()  # fmt: skip
        out += [AffectedOrder(*row) for row in rows]  # type: ignore[arg-type]
    return sorted(out, key=lambda a: (a.placed_at, a.order_id))


@dataclass(frozen=True, slots=True)
class SentNotices:
    """What a send did: notices written now, and orders already notified before."""

    sent: list[Notice]
    already: int
    affected: int


def send_notices(
    *,
    session: Session,
    viewer: Viewer,
    case_id: int,
    kind: str,
    ident: int,
    survey_url: str,
    now: datetime | None = None,
) -> SentNotices:
    """Notify every exposed order's customer once (in-app + email). Commits.

    ``survey_url`` is the symptom survey's address with ``{token}`` in it.
    """
    now = now or utcnow()
    case = get_case(session=session, case_id=case_id)
    affected = affected_orders(session=session, viewer=viewer, kind=kind, ident=ident)
    done = set(
        session.exec(
            select(Notice.order_id).where(Notice.source_kind == kind, Notice.source_id == ident)
        ).all()
    )
    todo = [a for a in affected if a.order_id not in done]
    emails = dict(
        session.exec(
            select(User.id, User.email).where(col(User.id).in_(sorted({a.user_id for a in todo})))
        ).all()
    )
    sent: list[Notice] = []
    events: list[ledger.Event] = []
    rows: list[Notice | Message] = []
    for a in todo:
        token = secrets.token_urlsafe(24)
        notice = Notice(
            case_id=case_id,
            source_kind=kind,
            source_id=ident,
            order_id=a.order_id,
            user_id=a.user_id,
            token=token,
            sent_at=now,
        )
        session.add(notice)
        session.flush()
        body = NOTICE_TEXT.format(order=f"#{a.order_id}", link=survey_url.format(token=token))
        in_app = records.queue_message(
            session, case, channel="in_app", kind="exposure_notice", at=now,
            recipient_user_id=a.user_id, body=body,
        )  # fmt: skip
        email = records.queue_message(
            session, case, channel="email", kind="exposure_notice", at=now,
            recipient_user_id=a.user_id, recipient_email=emails.get(a.user_id), body=body,
        )  # fmt: skip
        events += [
            ledger.Event(
                type="complaint.notice_sent",
                actor=viewer.actor,
                ts=now,
                subject={"case": case_id, "notice": notice.id, "order": a.order_id},
                payload=_notice_payload(notice),
                personal=frozenset({"token"}),
            ),
            records.message_entry(in_app, actor=viewer.actor),
            records.message_entry(email, actor=viewer.actor),
        ]
        rows += [notice, in_app, email]
        sent.append(notice)
    if events:
        written = ledger.append_many(session, events)
        for row, w in zip(rows, written, strict=True):
            row.ledger_index = w.index
    session.commit()
    return SentNotices(sent, len(affected) - len(todo), len(affected))


def _notice_payload(n: Notice) -> dict[str, Any]:
    return {
        "case_id": n.case_id,
        "source_kind": n.source_kind,
        "source_id": n.source_id,
        "order_id": n.order_id,
        "user_id": n.user_id,
        "token": n.token,
        "sent_at": n.sent_at,
        "answered_at": n.answered_at,
        "answer_ill": n.answer_ill,
        "answer_onset_at": n.answer_onset_at,
        "answer_symptoms": list(n.answer_symptoms),
    }


def notices_for(*, session: Session, user_id: int) -> list[Notice]:
    """A customer's notices, newest first."""
    stmt = select(Notice).where(Notice.user_id == user_id).order_by(col(Notice.id).desc())
    return list(session.exec(stmt).all())


def notice_by_token(*, session: Session, token: str, user_id: int) -> Notice:
    """The customer's notice with this token (another customer's answers NoticeNotFound)."""
    notice = session.exec(select(Notice).where(Notice.token == token)).first()
    if notice is None or notice.user_id != user_id:
        raise NoticeNotFound("no such notice")
    return notice


def answer_notice(
    *,
    session: Session,
    token: str,
    user_id: int,
    ill: bool,
    onset_at: datetime | None,
    symptoms: Sequence[str],
    now: datetime | None = None,
) -> Notice:
    """Record the customer's symptom survey answer (the latest answer counts). Commits."""
    now = now or utcnow()
    notice = notice_by_token(session=session, token=token, user_id=user_id)
    unknown = [s for s in symptoms if s not in SYMPTOMS]
    if unknown:
        raise NoticeError(f"unknown symptom {unknown[0]!r}", field="symptoms")
    if onset_at is not None and (onset_at.tzinfo is None or onset_at > now):
        raise NoticeError("onset needs a time zone and may not be in the future", field="onset_at")
    if ill and onset_at is None:
        raise NoticeError("give the time the illness began", field="onset_at")
    notice.answered_at, notice.answer_ill = now, ill
    notice.answer_onset_at = onset_at if ill else None
    notice.answer_symptoms = sorted(set(symptoms)) if ill else []
    written = ledger.append(
        session,
        ledger.Event(
            type="complaint.notice_answered",
            actor=f"user:{user_id}",
            ts=now,
            subject={"case": notice.case_id, "notice": notice.id},
            payload={
                "answered_at": now,
                "answer_ill": notice.answer_ill,
                "answer_onset_at": notice.answer_onset_at,
                "answer_symptoms": notice.answer_symptoms,
            },
            personal=frozenset({"answer_ill", "answer_onset_at", "answer_symptoms"}),
        ),
    )
    notice.ledger_index = written.index
    session.add(notice)
    session.commit()
    return notice


def hold_source(
    *,
    session: Session,
    viewer: Viewer,
    kind: str,
    ident: int,
    reason: str,
    case_number: str | None = None,
    at: datetime | None = None,
) -> list[tuple[str, int]]:
    """Put the lot or batch, and every active batch made from it, on hold. Commits.

    Returns the (kind, id) records put on hold now (already held ones are left as they are).
    """
    traced = _forward(session, viewer, kind, ident)
    text = reason.strip()
    if case_number:
        text = f"{case_number}: {text}"
    targets: list[IngredientLot | DishBatch] = []
    source = session.get(IngredientLot if kind == "lot" else DishBatch, ident)
    if source is None:
        raise NoticeError(f"no {kind} {ident}", field="id")
    targets.append(source)
    downstream = sorted(
        int(n.id)
        for n in traced.nodes
        if n.kind == "batch" and not (kind == "batch" and n.id == str(ident))
    )
    if downstream:
        targets += list(
            session.exec(select(DishBatch).where(col(DishBatch.id).in_(downstream))).all()
        )
    held = []
    for row in targets:
        if row.status != "active":
            continue
        amendments.apply_status(session, viewer.actor, row, "hold", text[:500], at=at)
        held.append(("lot" if isinstance(row, IngredientLot) else "batch", int(row.id)))  # type: ignore[arg-type]
    session.commit()
    return held
