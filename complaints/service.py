"""Opening, updating, reading and listing complaint cases (the transaction boundary).

Each write validates, writes the rows and their ledger entries in one transaction and commits
once. Opening a case: a gap-free number per year (a counter row locked until commit), triage,
the case, its orders, the first timeline line, the acknowledgement messages, and its links to
other cases sharing an exposure (complaints.clusters, which may raise a cluster alert). A repeated
``Idempotency-Key`` from the same caller returns the case the first request opened.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import ledger
from accounts.models import User
from columns import utcnow
from complaints import clusters, records
from complaints.intake import Intake, IntakeError, validate_intake
from complaints.models import Case, CaseCounter, CaseOrder, IdempotencyKey
from complaints.triage import RuleBook, triage
from complaints.workflow import OPEN_STATUSES, STATUSES

__all__ = [
    "CaseFilters",
    "CaseNotFound",
    "CasePage",
    "IdempotencyConflict",
    "OpenedCase",
    "case_intake",
    "get_case",
    "list_cases",
    "open_case",
    "update_case",
]

MAX_KEY = 200
MAX_PER_PAGE = 100
UPDATABLE = frozenset(Intake.__dataclass_fields__) - {"channel"}


class CaseNotFound(LookupError):
    """No case with that id (or none the caller may see)."""


class IdempotencyConflict(ValueError):
    """The Idempotency-Key was used before for a different request."""

    field = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class OpenedCase:
    """The case, and whether this call created it (False: an Idempotency-Key replay)."""

    case: Case
    created: bool


@dataclass(frozen=True, slots=True)
class CaseFilters:
    """List filters; None means "any". ``status`` may also be "open" (anything not closed);
    ``assignee_id`` 0 means unassigned."""

    status: str | None = None
    severity: str | None = None
    category: str | None = None
    assignee_id: int | None = None
    merchant_id: int | None = None
    complainant_user_id: int | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class CasePage:
    """One page of a case list and the total over every page."""

    cases: list[Case]
    order_ids: dict[int, list[int]]
    total: int
    page: int
    per_page: int


def _request_hash(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(session: Session, scope: str, key: str, digest: str) -> OpenedCase | None:
    row = session.exec(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    ).first()
    if row is None:
        return None
    if row.request_hash != digest or row.case_id is None:
        raise IdempotencyConflict(
            "this Idempotency-Key was already used for a different request; use a new key"
        )
    return OpenedCase(get_case(session=session, case_id=row.case_id), created=False)


def next_case_number(session: Session, year: int) -> str:
    """``FT-<year>-<n>``: n is 1 + the last number of the year, taken under the counter row's
    lock (held until commit, so a rollback gives the number back: no gaps)."""
    table = CaseCounter.__table__  # type: ignore[attr-defined]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(table)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
    n = session.connection().execute(stmt).scalar_one()
    return f"FT-{year}-{n:06d}"


def _apply(case: Case, intake: Intake) -> None:
    """Copy intake values onto the case row."""
    case.category = intake.category
    case.description = intake.description
    case.symptoms = list(intake.symptoms)
    case.onset_at = intake.onset_at
    case.n_party, case.n_ill, case.n_exposed = intake.n_party, intake.n_ill, intake.n_exposed
    case.ill_persons = [p.as_dict() for p in intake.ill_persons]
    case.medical_care = intake.medical_care
    case.stool_sample = intake.stool_sample
    case.leftovers_kept = intake.leftovers_kept
    case.other_ill_contacts = intake.other_ill_contacts
    case.food_history = intake.food_history
    case.remedy_sought = list(intake.remedy_sought)
    case.consent_share_with_merchant = intake.consent.share_with_merchant
    case.consent_contact_by_phone = intake.consent.contact_by_phone
    case.consent_health_data = intake.consent.health_data_processing
    case.complainant_user_id = intake.complainant.user_id
    case.complainant_name = intake.complainant.name
    case.complainant_phone = intake.complainant.phone
    case.complainant_email = intake.complainant.email
    case.merchant_id = intake.merchant_id


def _triage(case: Case, rules: RuleBook | None) -> None:
    result = triage(
        category=case.category,
        symptoms=case.symptoms,
        medical_care=case.medical_care,
        n_ill=case.n_ill,
        rules=rules,
    )
    case.severity, case.severity_reasons = result.severity, list(result.reasons)


def _complainant_user(session: Session, intake: Intake) -> User | None:
    user_id = intake.complainant.user_id
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.role != "student":
        problem = {"field": "complainant.user_id", "reason": "no active student with this id"}
        raise IntakeError([problem])  # type: ignore[list-item]
    return user


def _set_orders(session: Session, case: Case, order_ids: Sequence[int], index: int) -> None:
    assert case.id is not None
    session.exec(delete(CaseOrder).where(col(CaseOrder.case_id) == case.id))  # type: ignore[call-overload]
    for order_id in order_ids:
        session.add(CaseOrder(case_id=case.id, order_id=order_id, ledger_index=index))


def open_case(
    *,
    session: Session,
    data: Mapping[str, Any],
    actor: str,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    timezone: str = "Asia/Shanghai",
    rules: RuleBook | None = None,
) -> OpenedCase:
    """Validate and open a case, acknowledge it to the complainant, commit.

    ``data`` is the raw intake (see :func:`complaints.intake.validate_intake`); ``actor`` is
    "user:<id>". With ``idempotency_key``, the same caller repeating the same request gets the
    first case back (``created=False``), also when the requests race: the key's unique row is
    written first, so a concurrent twin waits for it, fails, and reads the winner's case.
    """
    now = now or utcnow()
    intake = validate_intake(data, now=now)
    user = _complainant_user(session, intake)
    digest = _request_hash(data)
    if idempotency_key is not None:
        if not 0 < len(idempotency_key) <= MAX_KEY:
            raise IdempotencyConflict(f"an Idempotency-Key has 1 to {MAX_KEY} characters")
        replay = _replay(session, actor[:40], idempotency_key, digest)
        if replay is not None:
            return replay
        key_row = IdempotencyKey(scope=actor[:40], key=idempotency_key, request_hash=digest)
        session.add(key_row)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()  # a twin request won the race: answer with its case
            replay = _replay(session, actor[:40], idempotency_key, digest)
            if replay is None:
                raise
            return replay
    year = now.astimezone(ZoneInfo(timezone)).year
    case = Case(
        number=next_case_number(session, year),
        channel=intake.channel,
        description="",
        severity="",
        status="new",
        opened_at=now,
        opened_by=actor[:40],
    )
    _apply(case, intake)
    _triage(case, rules)
    session.add(case)
    session.flush()
    assert case.id is not None
    event = records.add_event(
        session, case, kind="opened", actor=actor, at=now, to_status="new", visible=True
    )
    messages = records.messages_to_complainant(
        session, case, kind="acknowledgement", at=now, email=user.email if user else None
    )
    payload = {
        **records.case_payload(case),
        "order_ids": list(intake.order_ids),
        **records.event_payload(event),
    }
    subject = {"case": case.id, "event": event.id}
    opened = records.entry(
        "complaint.opened", actor=actor, at=now, subject=subject, payload=payload
    )
    entries = ledger.append_many(
        session, [opened, *(records.message_entry(m, actor=actor) for m in messages)]
    )
    case.ledger_index = event.ledger_index = entries[0].index
    for message, written in zip(messages, entries[1:], strict=True):
        message.ledger_index = written.index
    _set_orders(session, case, intake.order_ids, entries[0].index)
    session.flush()
    clusters.link_case(session, case, actor=actor, now=now)
    if idempotency_key is not None:
        key_row.case_id = case.id
    session.commit()
    return OpenedCase(case, created=True)


def get_case(*, session: Session, case_id: int, for_update: bool = False) -> Case:
    """The case with this id; raises CaseNotFound."""
    stmt = select(Case).where(Case.id == case_id)
    if for_update:
        stmt = stmt.with_for_update()
    case = session.exec(stmt).first()
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return case


def case_intake(case: Case, order_ids: Sequence[int]) -> dict[str, Any]:
    """The case's intake as raw values (what :func:`validate_intake` reads)."""
    return {
        "channel": case.channel,
        "category": case.category,
        "description": case.description,
        "symptoms": list(case.symptoms),
        "onset_at": case.onset_at,
        "n_party": case.n_party,
        "n_ill": case.n_ill,
        "n_exposed": case.n_exposed,
        "ill_persons": list(case.ill_persons),
        "medical_care": case.medical_care,
        "stool_sample": case.stool_sample,
        "leftovers_kept": case.leftovers_kept,
        "other_ill_contacts": case.other_ill_contacts,
        "food_history": case.food_history,
        "order_ids": list(order_ids),
        "remedy_sought": list(case.remedy_sought),
        "consent": {
            "share_with_merchant": case.consent_share_with_merchant,
            "contact_by_phone": case.consent_contact_by_phone,
            "health_data_processing": case.consent_health_data,
        },
        "complainant": {
            "user_id": case.complainant_user_id,
            "name": case.complainant_name,
            "phone": case.complainant_phone,
            "email": case.complainant_email,
        },
        "merchant_id": case.merchant_id,
    }


def update_case(
    *,
    session: Session,
    case_id: int,
    changes: Mapping[str, Any],
    actor: str,
    now: datetime | None = None,
    rules: RuleBook | None = None,
) -> Case:
    """Correct or complete a case's intake; severity is re-evaluated. Commits.

    ``changes`` holds intake fields (``consent`` and ``complainant`` merge key by key; the
    complainant's account cannot change). Nothing changes: nothing is written.
    """
    now = now or utcnow()
    unknown = [k for k in changes if k not in UPDATABLE]
    if unknown:
        raise IntakeError([{"field": k, "reason": "cannot be changed"} for k in unknown])
    case = get_case(session=session, case_id=case_id, for_update=True)
    orders = records.order_ids_of(session, [case_id])[case_id]
    merged = case_intake(case, orders)
    for key, value in changes.items():
        if key in ("consent", "complainant") and isinstance(value, Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    if merged["complainant"].get("user_id") != case.complainant_user_id:
        problem = {"field": "complainant.user_id", "reason": "the complainant's account is fixed"}
        raise IntakeError([problem])  # type: ignore[list-item]
    intake = validate_intake(merged, now=now)
    before = records.case_payload(case)
    _apply(case, intake)
    _triage(case, rules)
    after = records.case_payload(case)
    changed = [f for f in records.CASE_FIELDS if before[f] != after[f]]
    new_orders = list(intake.order_ids)
    if not changed and new_orders == orders:
        session.rollback()
        return case
    fields = changed + (["order_ids"] if new_orders != orders else [])
    event = records.add_event(
        session, case, kind="updated", actor=actor, at=now, body=", ".join(fields)
    )
    payload = {
        **{f: after[f] for f in changed},
        **({"order_ids": new_orders} if new_orders != orders else {}),
        **records.event_payload(event),
    }
    written = ledger.append(
        session,
        records.entry(
            "complaint.updated",
            actor=actor,
            at=now,
            subject={"case": case.id, "event": event.id},
            payload=payload,
        ),
    )
    case.ledger_index = event.ledger_index = written.index
    if new_orders != orders:
        _set_orders(session, case, new_orders, written.index)
    if new_orders != orders or "onset_at" in changed:
        session.flush()
        clusters.link_case(session, case, actor=actor, now=now)
    session.commit()
    return case


def list_cases(
    *, session: Session, filters: CaseFilters, page: int = 1, per_page: int = 25
) -> CasePage:
    """Cases matching the filters, newest first, one page of them and the total."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    conditions: list[Any] = []
    f = filters
    if f.status == "open":
        conditions.append(col(Case.status).in_(OPEN_STATUSES))
    elif f.status in STATUSES:
        conditions.append(Case.status == f.status)
    for column, value in (
        (Case.severity, f.severity),
        (Case.category, f.category),
        (Case.merchant_id, f.merchant_id),
        (Case.complainant_user_id, f.complainant_user_id),
    ):
        if value is not None:
            conditions.append(column == value)
    if f.assignee_id == 0:
        conditions.append(col(Case.assignee_id).is_(None))
    elif f.assignee_id is not None:
        conditions.append(Case.assignee_id == f.assignee_id)
    if f.opened_from is not None:
        conditions.append(col(Case.opened_at) >= f.opened_from)
    if f.opened_to is not None:
        conditions.append(col(Case.opened_at) < f.opened_to)
    total = session.exec(select(func.count()).select_from(Case).where(*conditions)).one()
    cases = list(
        session.exec(
            select(Case)
            .where(*conditions)
            .order_by(col(Case.opened_at).desc(), col(Case.id).desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
    )
    orders = records.order_ids_of(session, [c.id for c in cases if c.id is not None])
    return CasePage(cases, orders, int(total), page, per_page)
