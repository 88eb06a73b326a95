"""Demo complaints for `make run`: a handful of cases in different states, one critical.

Idempotent: each case is opened with its own Idempotency-Key, so a second seed finds it and
changes nothing. Built only through the services (the ledger records every step).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from accounts.models import User
from columns import utcnow
from complaints import casework, service
from complaints.models import IdempotencyKey

DESK_EMAIL = "desk@demo.foodtrace"
STUDENT_EMAIL = "student@demo.foodtrace"
CLOSURE = {
    "resolution": "Refunded the order and apologised.",
    "root_cause": "Cooked rice held at room temperature for about 5 hours.",
    "corrective_action": "Rice is now discarded 2 hours after cooking (GB 31654-2021).",
}


def _user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


def _cases(student_id: int) -> list[tuple[str, timedelta, dict[str, Any], list[str]]]:
    """(key, opened how long ago, intake, statuses to walk through)."""
    hour = timedelta(hours=1)
    return [
        (
            "demo-critical-illness",
            40 * timedelta(minutes=1),
            {
                "channel": "app",
                "category": "illness",
                "description": "My roommate and I had bloody diarrhoea and fever after the "
                "braised chicken rice; she is in hospital.",
                "symptoms": ["diarrhoea", "bloody_stool", "fever", "cramps"],
                "onset_offset": 6 * hour,
                "n_party": 2,
                "n_ill": 2,
                "n_exposed": 2,
                "ill_persons": [{"age_band": "15-24", "sex": "female"}],
                "medical_care": "hospitalised",
                "stool_sample": True,
                "leftovers_kept": True,
                "order_ids": [1001],
                "remedy_sought": ["refund", "investigation"],
                "consent": {"health_data_processing": True},
                "complainant": {"user_id": student_id},
                "merchant_id": 1,
            },
            ["acknowledged", "investigating"],
        ),
        (
            "demo-foreign-object",
            3 * hour,
            {
                "channel": "phone",
                "category": "foreign_object",
                "description": "A piece of blue plastic in the mapo tofu.",
                "order_ids": [1002],
                "remedy_sought": ["refund", "apology"],
                "consent": {"share_with_merchant": True, "contact_by_phone": True},
                "complainant": {"name": "陈同学 Chen", "phone": "+86 138 0000 1002"},
                "merchant_id": 1,
            },
            ["acknowledged"],
        ),
        (
            "demo-spoiled-lab",
            20 * hour,
            {
                "channel": "walk_in",
                "category": "spoiled",
                "description": "The milk tea smelled sour; the cup is kept for the lab.",
                "leftovers_kept": True,
                "order_ids": [1003],
                "complainant": {"name": "Liu", "email": "liu@example.edu"},
                "merchant_id": 2,
            },
            ["acknowledged", "investigating", "waiting_for_lab"],
        ),
        (
            "demo-hygiene-new",
            50 * timedelta(minutes=1),
            {
                "channel": "social_media",
                "category": "hygiene",
                "description": "A post shows a cockroach near the north canteen's wok station.",
                "complainant": {"name": "@campus_foodie", "email": "foodie@example.edu"},
                "merchant_id": 1,
            },
            [],
        ),
        (
            "demo-temperature-closed",
            30 * hour,
            {
                "channel": "app",
                "category": "temperature",
                "description": "The noodle soup arrived cold.",
                "order_ids": [1004],
                "remedy_sought": ["voucher"],
                "complainant": {"user_id": student_id},
                "merchant_id": 2,
            },
            ["acknowledged", "investigating", "action_taken", "resolved", "closed"],
        ),
    ]


def seed(*, session: Session) -> None:
    """Open the demo cases (once) and walk each to its demo status."""
    desk, student = _user(session, DESK_EMAIL), _user(session, STUDENT_EMAIL)
    if desk is None or student is None or student.id is None:
        return  # the accounts demo was not seeded; nothing to attach cases to
    actor = f"user:{desk.id}"
    now = utcnow()
    for key, ago, raw, statuses in _cases(student.id):
        data = dict(raw)
        opened_at = now - ago
        onset = data.pop("onset_offset", timedelta(hours=3))
        if data["category"] == "illness":
            data["onset_at"] = opened_at - onset
        opener = f"user:{student.id}" if data["channel"] == "app" else actor
        if _seeded(session, opener, key):
            continue
        opened = service.open_case(
            session=session, data=data, actor=opener, idempotency_key=key, now=opened_at
        )
        assert opened.case.id is not None
        _walk(session, opened.case.id, statuses, opened_at, actor, desk.id)


def _seeded(session: Session, scope: str, key: str) -> bool:
    """Whether this demo case was opened by an earlier seed (its Idempotency-Key is used)."""
    stmt = select(IdempotencyKey.id).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    return session.exec(stmt).first() is not None


def _walk(
    session: Session, case_id: int, statuses: list[str], start: datetime, actor: str, desk: int
) -> None:
    step = timedelta(minutes=12)
    at = start
    if statuses:
        casework.assign_case(session=session, case_id=case_id, user_id=desk, actor=actor, now=at)
    for status in statuses:
        at += step
        casework.transition_case(
            session=session,
            case_id=case_id,
            to=status,
            actor=actor,
            now=at,
            **(CLOSURE if status == "resolved" else {}),
        )
        if status == "investigating":
            casework.add_note(
                session=session,
                case_id=case_id,
                actor=actor,
                now=at,
                body="Retained sample (留样) requested from the stall.",
            )
            casework.send_reply(
                session=session,
                case_id=case_id,
                actor=actor,
                now=at,
                body="We are investigating and will update you within 24 hours.",
            )
