"""SLA clocks of stored cases: the desk's overview, warnings and escalations, compliance.

Clocks are computed by complaints.sla from each case's timeline (complaint_case_events) at
the time asked; nothing here stores a counter. :func:`check_slas` (run by Celery beat every
minute) raises a warning when a target enters its last 20 % and an escalation once it is
overdue - each at most once per case and target (a unique row, also under concurrent runs).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import ledger
from columns import utcnow
from complaints.models import Case, CaseEvent, SlaNotification
from complaints.sla import CaseSla, HistoryEvent, PolicyBook, compliance, sla_state

__all__ = [
    "check_slas",
    "compliance_figures",
    "history_of",
    "notifications_of",
    "recent_notifications",
    "sla_board",
    "sla_of",
]

CLOCK_EVENTS = ("opened", "transitioned", "reopened", "reply")


def history_of(session: Session, case_ids: Iterable[int]) -> dict[int, list[HistoryEvent]]:
    """The timeline facts SLA clocks read, per case, in order."""
    ids = list(case_ids)
    out: dict[int, list[HistoryEvent]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        rows = session.exec(
            select(CaseEvent.case_id, CaseEvent.at, CaseEvent.kind, CaseEvent.to_status)
            .where(
                col(CaseEvent.case_id).in_(ids[start : start + 500]),
                col(CaseEvent.kind).in_(CLOCK_EVENTS),
            )
            .order_by(col(CaseEvent.at), col(CaseEvent.id))
        )
        for case_id, at, kind, to_status in rows:
            out[case_id].append(HistoryEvent(at, kind, to_status))
    return out


def _state(
    case: Case, history: list[HistoryEvent], now: datetime, policies: PolicyBook | None
) -> CaseSla:
    return sla_state(
        opened_at=case.opened_at,
        history=history,
        category=case.category,
        severity=case.severity,
        now=now,
        policies=policies,
    )


def sla_of(
    *, session: Session, case: Case, now: datetime | None = None, policies: PolicyBook | None = None
) -> CaseSla:
    """One case's clocks at ``now``."""
    assert case.id is not None
    return _state(case, history_of(session, [case.id])[case.id], now or utcnow(), policies)


def _open_cases(session: Session) -> list[Case]:
    return list(session.exec(select(Case).where(Case.status != "closed")).all())


def sla_board(
    *, session: Session, now: datetime | None = None, policies: PolicyBook | None = None
) -> list[tuple[Case, CaseSla]]:
    """Every case not closed with its clocks, the least time left (on any open target) first;
    cases whose targets are all met come last."""
    now = now or utcnow()
    cases = _open_cases(session)
    history = history_of(session, [c.id for c in cases if c.id is not None])
    board = [(c, _state(c, history[c.id], now, policies)) for c in cases if c.id is not None]

    def urgency(item: tuple[Case, CaseSla]) -> tuple[int, float]:
        pending = item[1].open_targets()
        return (0, pending[0].remaining.total_seconds()) if pending else (1, 0.0)

    return sorted(board, key=urgency)


def check_slas(
    *, session: Session, now: datetime | None = None, policies: PolicyBook | None = None
) -> list[SlaNotification]:
    """Raise the warnings and escalations now due; returns the ones raised by this run.

    Idempotent: a (case, target, kind) already notified is skipped, and a concurrent run that
    wins the race makes this one skip it too (unique constraint).
    """
    now = now or utcnow()
    board = sla_board(session=session, now=now, policies=policies)
    open_ids = [case.id for case, _ in board if case.id is not None]
    done: set[tuple[int, str, str]] = set()
    for start in range(0, len(open_ids), 500):
        rows = session.exec(
            select(SlaNotification.case_id, SlaNotification.target, SlaNotification.kind).where(
                col(SlaNotification.case_id).in_(open_ids[start : start + 500])
            )
        )
        done.update((case_id, target, kind) for case_id, target, kind in rows)
    due: list[tuple[int, str, str, datetime]] = []
    for case, sla in board:
        for target in sla.open_targets():
            kind = "escalation" if target.breached else "warning" if target.warning else None
            if (
                kind is not None
                and case.id is not None
                and (case.id, target.target, kind) not in done
            ):
                due.append((case.id, target.target, kind, target.due_at))
    session.rollback()  # end the read (on SQLite it holds the write lock)
    raised = []
    for case_id, target, kind, due_at in due:
        row = SlaNotification(
            case_id=case_id, target=target, kind=kind, due_at=due_at, raised_at=now
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            continue
        entry = ledger.append(
            session,
            ledger.Event(
                type=f"complaint.sla_{kind}",
                actor="system",
                ts=now,
                subject={"case": case_id, "notification": row.id},
                payload={
                    "case_id": case_id,
                    "target": target,
                    "kind": kind,
                    "due_at": due_at,
                    "raised_at": now,
                },
            ),
        )
        row.ledger_index = entry.index
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            continue
        raised.append(row)
    return raised


def notifications_of(*, session: Session, case_id: int) -> list[SlaNotification]:
    """The case's SLA warnings and escalations, oldest first."""
    stmt = (
        select(SlaNotification)
        .where(SlaNotification.case_id == case_id)
        .order_by(col(SlaNotification.raised_at))
    )
    return list(session.exec(stmt).all())


def recent_notifications(*, session: Session, limit: int = 50) -> list[SlaNotification]:
    """The newest warnings and escalations over every case."""
    stmt = select(SlaNotification).order_by(col(SlaNotification.raised_at).desc()).limit(limit)
    return list(session.exec(stmt).all())


def compliance_figures(
    *,
    session: Session,
    now: datetime | None = None,
    timezone: str = "Asia/Shanghai",
    policies: PolicyBook | None = None,
) -> dict[str, list[dict[str, object]]]:
    """% of SLA targets met, overall, per category and per month opened (local time)."""
    now = now or utcnow()
    zone = ZoneInfo(timezone)
    cases = list(session.exec(select(Case)).all())
    history = history_of(session, [c.id for c in cases if c.id is not None])
    rows = [
        (
            c.category,
            c.opened_at.astimezone(zone).strftime("%Y-%m"),
            _state(c, history[c.id], now, policies),
        )
        for c in cases
        if c.id is not None
    ]
    return {view: [dict(r) for r in items] for view, items in compliance(rows).items()}
