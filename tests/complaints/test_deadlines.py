"""SLA warnings and escalations raised by the beat task, once each, from the case history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

import ledger
from complaints import casework, deadlines, service
from complaints.models import SlaNotification

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def open_case(session, category="illness", now=T0):
    return service.open_case(
        session=session,
        data={
            "channel": "walk_in",
            "category": category,
            "description": "Hair in the soup",
            "onset_at": now - timedelta(hours=1) if category == "illness" else None,
            "complainant": {"name": "Sun Ba", "email": "sb@mail.cn"},
        },
        actor="user:1",
        now=now,
    ).case


def raised(session):
    return sorted(
        (n.case_id, n.target, n.kind) for n in session.exec(select(SlaNotification)).all()
    )


def test_a_warning_before_the_breach_and_an_escalation_at_it_each_once(session):
    case = open_case(session)
    assert deadlines.check_slas(session=session, now=T0 + 20 * MIN) == []  # 10 min left of 30
    warned = deadlines.check_slas(session=session, now=T0 + 25 * MIN)  # 5 min left: ≤ 20 %
    assert [(n.target, n.kind, n.due_at) for n in warned] == [
        ("first_response", "warning", T0 + 30 * MIN)
    ]
    assert deadlines.check_slas(session=session, now=T0 + 26 * MIN) == []  # not twice
    escalated = deadlines.check_slas(session=session, now=T0 + 31 * MIN)
    assert [(n.target, n.kind) for n in escalated] == [("first_response", "escalation")]
    assert deadlines.check_slas(session=session, now=T0 + 40 * MIN) == []
    assert raised(session) == [
        (case.id, "first_response", "escalation"),
        (case.id, "first_response", "warning"),
    ]
    entry = ledger.entry_at(session, escalated[0].ledger_index).envelope()
    assert entry["type"] == "complaint.sla_escalation" and entry["actor"] == "system"


def test_a_run_that_sleeps_past_the_breach_escalates_without_a_late_warning(session):
    open_case(session)
    escalated = deadlines.check_slas(session=session, now=T0 + 2 * timedelta(hours=1))
    assert [n.kind for n in escalated] == ["escalation"]


def test_a_met_target_raises_nothing(session):
    case = open_case(session)
    casework.transition_case(
        session=session, case_id=case.id, to="acknowledged", actor="u", now=T0 + 5 * MIN
    )
    assert deadlines.check_slas(session=session, now=T0 + 29 * MIN) == []


def test_a_paused_case_is_neither_warned_nor_escalated_while_it_waits(session):
    case = open_case(session)
    for k, to in enumerate(("acknowledged", "investigating", "waiting_for_lab")):
        casework.transition_case(
            session=session, case_id=case.id, to=to, actor="u", now=T0 + (k + 1) * MIN
        )
    assert deadlines.check_slas(session=session, now=T0 + timedelta(days=10)) == []


def test_the_board_puts_the_least_time_left_first(session):
    calm = open_case(session, category="other")  # 4 h first response
    urgent = open_case(session, now=T0 + 5 * MIN)  # 30 min, opened later
    board = deadlines.sla_board(session=session, now=T0 + 10 * MIN)
    assert [c.id for c, _ in board] == [urgent.id, calm.id]


def test_compliance_figures_come_from_the_stored_history(session):
    late = open_case(session)
    casework.transition_case(
        session=session, case_id=late.id, to="acknowledged", actor="u", now=T0 + 45 * MIN
    )
    on_time = open_case(session)
    casework.transition_case(
        session=session, case_id=on_time.id, to="acknowledged", actor="u", now=T0 + 5 * MIN
    )
    figures = deadlines.compliance_figures(session=session, now=T0 + timedelta(hours=2))
    first = next(r for r in figures["overall"] if r["target"] == "first_response")
    assert (first["met"], first["breached"], first["percent_met"]) == (1, 1, 50.0)
    assert {r["group"] for r in figures["month"]} == {"2026-05"}


@pytest.mark.parametrize("repeat", [2])
def test_the_beat_task_runs_the_check_and_is_idempotent(app, repeat):
    from app import engine_of, session_scope
    from complaints import tasks

    with session_scope(engine_of(app)) as s:
        open_case(s, now=datetime.now(UTC) - timedelta(hours=1))
    counts = [tasks.check_slas.apply().get() for _ in range(repeat)]
    assert counts == [1, 0]  # the first response is overdue: one escalation, then nothing
