"""Working a case: transitions, assignment, internal notes, replies, satisfaction and appeals.

Every action is one ledger entry naming the actor, written with its timeline line in the same
transaction; each function commits once. Transitions follow complaints.workflow; closing a
case queues the satisfaction check; an appeal within the window reopens it (reason "appeal").
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

import ledger
from accounts.models import Role, User
from columns import utcnow
from complaints import records
from complaints.models import Case, CaseEvent, Feedback
from complaints.service import get_case
from complaints.workflow import check_transition

__all__ = [
    "AppealWindowClosed",
    "FeedbackConflict",
    "FeedbackError",
    "InvalidAssignee",
    "TextError",
    "add_note",
    "assign_case",
    "give_feedback",
    "send_reply",
    "transition_case",
]

MAX_TEXT = 4000
APPEAL_REASON = "appeal"


class InvalidAssignee(ValueError):
    """Cases are assigned to active desk or admin users only."""

    field = "user_id"


class TextError(ValueError):
    """A note, reply or closure text that is empty or too long."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class FeedbackError(ValueError):
    """Feedback that cannot be taken (case not closed, given already, bad rating)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class FeedbackConflict(FeedbackError):
    """The case is not closed, or this closure's feedback was already given."""


class AppealWindowClosed(FeedbackError):
    """The appeal came after the window that follows the closure."""


def _text(value: str | None, field: str, *, required: bool) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise TextError(f"{field} must not be empty", field=field)
        return None
    if len(text) > MAX_TEXT:
        raise TextError(f"{field} is longer than {MAX_TEXT} characters", field=field)
    return text


def _complainant_email(session: Session, case: Case) -> str | None:
    if case.complainant_user_id is None:
        return None
    user = session.get(User, case.complainant_user_id)
    return user.email if user is not None else None


def _move(
    session: Session,
    case: Case,
    *,
    to: str,
    reason: str | None,
    closure: dict[str, str | None],
    actor: str,
    now: datetime,
) -> None:
    """Apply one transition to the case (no commit); closing also queues the satisfaction
    check."""
    step = check_transition(case.status, to, reason=reason, closure=closure)
    for name, value in closure.items():
        if value is not None:
            setattr(case, name, value)
    case.status = to
    case.closed_at = now if to == "closed" else None
    event = records.add_event(
        session,
        case,
        kind="reopened" if step.reopen else "transitioned",
        actor=actor,
        at=now,
        from_status=step.from_status,
        to_status=to,
        body=reason,
        visible=True,
    )
    fields = ["status", "closed_at", *(n for n, v in closure.items() if v is not None)]
    written = ledger.append(
        session,
        records.entry(
            "complaint.transitioned",
            actor=actor,
            at=now,
            subject={"case": case.id, "event": event.id},
            payload={**records.case_payload(case, fields), **records.event_payload(event)},
            personal_body=True,
        ),
    )
    case.ledger_index = event.ledger_index = written.index
    if to != "closed":
        return
    messages = records.messages_to_complainant(
        session, case, kind="satisfaction_check", at=now, email=_complainant_email(session, case)
    )
    entries = ledger.append_many(session, [records.message_entry(m, actor=actor) for m in messages])
    for message, entry in zip(messages, entries, strict=True):
        message.ledger_index = entry.index


def transition_case(
    *,
    session: Session,
    case_id: int,
    to: str,
    actor: str,
    reason: str | None = None,
    resolution: str | None = None,
    root_cause: str | None = None,
    corrective_action: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Move a case to ``to`` (IllegalTransition, ReasonRequired, ClosureIncomplete). Commits.

    Resolution, root cause and corrective action given here are stored on the case; all three
    must be known to resolve it. Closing queues the satisfaction check to the complainant.
    """
    now = now or utcnow()
    case = get_case(session=session, case_id=case_id, for_update=True)
    given = {
        "resolution": _text(resolution, "resolution", required=False),
        "root_cause": _text(root_cause, "root_cause", required=False),
        "corrective_action": _text(corrective_action, "corrective_action", required=False),
    }
    reason = _text(reason, "reason", required=False)
    closure_now = {k: v if v is not None else getattr(case, k) for k, v in given.items()}
    check_transition(case.status, to, reason=reason, closure=closure_now)
    _move(session, case, to=to, reason=reason, closure=given, actor=actor, now=now)
    session.commit()
    return case


def assign_case(
    *, session: Session, case_id: int, user_id: int | None, actor: str, now: datetime | None = None
) -> Case:
    """Assign the case to a desk (or admin) user, or unassign it with None. Commits."""
    now = now or utcnow()
    case = get_case(session=session, case_id=case_id, for_update=True)
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or not user.is_active or user.role not in (Role.DESK, Role.ADMIN):
            raise InvalidAssignee(f"user {user_id} is not an active desk or admin user")
    case.assignee_id = user_id
    event = records.add_event(
        session, case, kind="assigned", actor=actor, at=now, body=str(user_id or "")
    )
    written = ledger.append(
        session,
        records.entry(
            "complaint.assigned",
            actor=actor,
            at=now,
            subject={"case": case.id, "event": event.id},
            payload={"assignee_id": user_id, **records.event_payload(event)},
        ),
    )
    case.ledger_index = event.ledger_index = written.index
    session.commit()
    return case


def _line(
    session: Session,
    *,
    case_id: int,
    kind: str,
    type: str,
    body: str,
    visible: bool,
    actor: str,
    now: datetime,
) -> tuple[Case, CaseEvent]:
    case = get_case(session=session, case_id=case_id)
    event = records.add_event(
        session, case, kind=kind, actor=actor, at=now, body=body, visible=visible
    )
    written = ledger.append(
        session,
        records.entry(
            type,
            actor=actor,
            at=now,
            subject={"case": case.id, "event": event.id},
            payload=records.event_payload(event),
            personal_body=True,
        ),
    )
    event.ledger_index = written.index
    return case, event


def add_note(
    *, session: Session, case_id: int, body: str, actor: str, now: datetime | None = None
) -> CaseEvent:
    """An internal note (desk and admin only ever see it). Commits."""
    text = _text(body, "body", required=True)
    assert text is not None
    _, event = _line(
        session,
        case_id=case_id,
        kind="note",
        type="complaint.note_added",
        body=text,
        visible=False,
        actor=actor,
        now=now or utcnow(),
    )
    session.commit()
    return event


def send_reply(
    *, session: Session, case_id: int, body: str, actor: str, now: datetime | None = None
) -> CaseEvent:
    """A reply the complainant sees on their case, also queued to them as a message. Commits."""
    now = now or utcnow()
    text = _text(body, "body", required=True)
    assert text is not None
    case, event = _line(
        session,
        case_id=case_id,
        kind="reply",
        type="complaint.reply_sent",
        body=text,
        visible=True,
        actor=actor,
        now=now,
    )
    messages = records.messages_to_complainant(
        session, case, kind="reply", at=now, body=text, email=_complainant_email(session, case)
    )
    entries = ledger.append_many(session, [records.message_entry(m, actor=actor) for m in messages])
    for message, entry in zip(messages, entries, strict=True):
        message.ledger_index = entry.index
    session.commit()
    return event


def last_closure(session: Session, case_id: int) -> CaseEvent | None:
    """The timeline line of the case's latest closure, if any."""
    return session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.to_status == "closed")
        .order_by(col(CaseEvent.at).desc(), col(CaseEvent.id).desc())
    ).first()


def give_feedback(
    *,
    session: Session,
    case_id: int,
    rating: int | None,
    comment: str | None,
    appeal: bool,
    actor: str,
    appeal_days: int,
    now: datetime | None = None,
) -> Feedback:
    """Record the satisfaction check of the latest closure (once); an appeal within
    ``appeal_days`` of the closure reopens the case with the reason "appeal". Commits."""
    now = now or utcnow()
    case = get_case(session=session, case_id=case_id, for_update=True)
    closure = last_closure(session, case_id)
    if case.status != "closed" or closure is None:
        raise FeedbackConflict("feedback is taken once the case is closed", field="case")
    if session.exec(select(Feedback.id).where(Feedback.closure_event_id == closure.id)).first():
        raise FeedbackConflict("feedback for this closure was already given", field="case")
    if rating is not None and not (isinstance(rating, int) and 1 <= rating <= 5):
        raise FeedbackError("rating is a whole number from 1 to 5", field="rating")
    if rating is None and not appeal:
        raise FeedbackError("give a rating from 1 to 5, or appeal", field="rating")
    text = _text(comment, "comment", required=False)
    if appeal and now > closure.at + timedelta(days=appeal_days):
        raise AppealWindowClosed(
            f"appeals are taken within {appeal_days} days of the closure", field="appeal"
        )
    assert closure.id is not None and case.id is not None
    feedback = Feedback(
        case_id=case.id,
        closure_event_id=closure.id,
        rating=rating,
        comment=text,
        appeal=appeal,
        given_by=actor[:40],
        given_at=now,
    )
    session.add(feedback)
    session.flush()
    event = records.add_event(
        session, case, kind="feedback", actor=actor, at=now, body=text, visible=True
    )
    payload = {
        "closure_event_id": closure.id,
        "rating": rating,
        "comment": text,
        "appeal": appeal,
        **records.event_payload(event),
    }
    written = ledger.append(
        session,
        ledger.Event(
            type="complaint.feedback_given",
            actor=actor,
            ts=now,
            subject={"case": case.id, "event": event.id, "feedback": feedback.id},
            payload=payload,
            personal=frozenset({"comment", "event_body"} if text else ()),
        ),
    )
    feedback.ledger_index = event.ledger_index = written.index
    if appeal:
        blank: dict[str, str | None] = dict.fromkeys(
            ("resolution", "root_cause", "corrective_action")
        )
        _move(
            session,
            case,
            to="investigating",
            reason=APPEAL_REASON,
            closure=blank,
            actor=actor,
            now=now,
        )
    session.commit()
    return feedback
