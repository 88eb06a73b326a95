"""How complaint rows become ledger payloads, inside the caller's transaction (no commit).

One ledger entry per action carries the case columns it changes and the timeline line it adds
(payload fields prefixed ``event_``), so `ledger verify` re-derives both rows from it. Personal
and health fields are listed in :data:`PERSONAL_CASE_FIELDS` and go in as salted digests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

import ledger
from complaints.models import CASE_FIELDS, Case, CaseEvent, CaseOrder, Message

# The complainant's identity, free text that may name people, and health data (PIPL art. 28).
PERSONAL_CASE_FIELDS = frozenset(
    {
        "complainant_name",
        "complainant_phone",
        "complainant_email",
        "description",
        "food_history",
        "symptoms",
        "medical_care",
        "ill_persons",
        "stool_sample",
        "other_ill_contacts",
        "resolution",
        "root_cause",
        "corrective_action",
    }
)
MESSAGE_PERSONAL = frozenset({"recipient_email", "recipient_phone", "body"})


def case_payload(case: Case, fields: Iterable[str] = CASE_FIELDS) -> dict[str, Any]:
    """Column values of the case for a ledger payload."""
    return {f: getattr(case, f) for f in fields}


def add_event(
    session: Session,
    case: Case,
    *,
    kind: str,
    actor: str,
    at: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    body: str | None = None,
    visible: bool = False,
) -> CaseEvent:
    """Add a timeline line (flushed, so it has an id)."""
    assert case.id is not None
    event = CaseEvent(
        case_id=case.id,
        kind=kind,
        actor=actor,
        at=at,
        from_status=from_status,
        to_status=to_status,
        body=body,
        visible_to_complainant=visible,
    )
    session.add(event)
    session.flush()
    return event


def event_payload(event: CaseEvent) -> dict[str, Any]:
    """The timeline line's columns as ``event_*`` payload fields."""
    return {
        "event_case": event.case_id,
        "event_kind": event.kind,
        "event_actor": event.actor,
        "event_at": event.at,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "event_body": event.body,
        "event_visible": event.visible_to_complainant,
    }


def entry(
    type: str,
    *,
    actor: str,
    at: datetime,
    subject: Mapping[str, Any],
    payload: Mapping[str, Any],
    personal_body: bool = False,
) -> ledger.Event:
    """A ledger event whose personal fields (and the event body if asked) are digested."""
    personal = {k for k in payload if k in PERSONAL_CASE_FIELDS}
    if personal_body and payload.get("event_body") is not None:
        personal.add("event_body")
    return ledger.Event(
        type=type,
        actor=actor,
        ts=at,
        subject=dict(subject),
        payload=dict(payload),
        personal=frozenset(personal),
    )


def queue_message(
    session: Session,
    case: Case,
    *,
    channel: str,
    kind: str,
    at: datetime,
    recipient_user_id: int | None = None,
    recipient_email: str | None = None,
    recipient_phone: str | None = None,
    body: str = "",
) -> Message:
    """Add an outbox message (flushed); pair it with :func:`message_entry`."""
    assert case.id is not None
    message = Message(
        case_id=case.id,
        channel=channel,
        kind=kind,
        recipient_user_id=recipient_user_id,
        recipient_email=recipient_email,
        recipient_phone=recipient_phone,
        body=body,
        created_at=at,
    )
    session.add(message)
    session.flush()
    return message


def message_entry(message: Message, *, actor: str) -> ledger.Event:
    """The ledger event of a queued message (recipient and text digested)."""
    payload = {
        "case_id": message.case_id,
        "channel": message.channel,
        "kind": message.kind,
        "recipient_user_id": message.recipient_user_id,
        "recipient_email": message.recipient_email,
        "recipient_phone": message.recipient_phone,
        "body": message.body,
        "created_at": message.created_at,
    }
    personal = frozenset(k for k in MESSAGE_PERSONAL if payload[k] is not None)
    return ledger.Event(
        type="complaint.message_queued",
        actor=actor,
        ts=message.created_at,
        subject={"case": message.case_id, "message": message.id},
        payload=payload,
        personal=personal,
    )


def messages_to_complainant(
    session: Session, case: Case, *, kind: str, at: datetime, body: str = "", email: str | None
) -> list[Message]:
    """Queue ``kind`` to the complainant on every channel they can be reached on.

    A student account gets an in-app message and an email (``email`` is the account's); a
    complainant without an account gets an email if they gave one, and an SMS only if they
    consented to be contacted by phone.
    """
    out = []
    if case.complainant_user_id is not None:
        out.append(
            queue_message(
                session,
                case,
                channel="in_app",
                kind=kind,
                at=at,
                body=body,
                recipient_user_id=case.complainant_user_id,
            )
        )
    address = email if case.complainant_user_id is not None else case.complainant_email
    if address:
        out.append(
            queue_message(
                session,
                case,
                channel="email",
                kind=kind,
                at=at,
                body=body,
                recipient_user_id=case.complainant_user_id,
                recipient_email=address,
            )
        )
    if (
        case.complainant_user_id is None
        and case.complainant_phone
        and case.consent_contact_by_phone
    ):
        out.append(
            queue_message(
                session,
                case,
                channel="sms",
                kind=kind,
                at=at,
                body=body,
                recipient_phone=case.complainant_phone,
            )
        )
    return out


def order_ids_of(session: Session, case_ids: Iterable[int]) -> dict[int, list[int]]:
    """Order ids per case (sorted), for many cases in one query."""
    ids = list(case_ids)
    out: dict[int, list[int]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.exec(
        select(CaseOrder.case_id, CaseOrder.order_id)
        .where(col(CaseOrder.case_id).in_(ids))
        .order_by(col(CaseOrder.case_id), col(CaseOrder.order_id))
    )
    for case_id, order_id in rows:
        out[case_id].append(order_id)
    return out
