"""Working a case through the services: transitions, notes, replies, closure, feedback, appeal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

import ledger
from accounts import service as accounts
from complaints import casework, service
from complaints.models import CaseEvent, Feedback, Message
from complaints.workflow import ClosureIncomplete, IllegalTransition, ReasonRequired

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
CLOSURE = {
    "resolution": "Refunded",
    "root_cause": "Rice kept warm 5 h",
    "corrective_action": "Discard after 2 h",
}


@pytest.fixture
def made(session):
    desk = accounts.create_user(session=session, email="desk@uni.edu", role="desk").user
    student = accounts.create_user(session=session, email="s@uni.edu", role="student").user
    courier = accounts.create_user(session=session, email="c@uni.edu", role="courier").user
    case = service.open_case(
        session=session,
        data={
            "channel": "app",
            "category": "illness",
            "description": "Sick after rice",
            "onset_at": NOW - timedelta(hours=2),
            "complainant": {"user_id": student.id},
        },
        actor=f"user:{student.id}",
        now=NOW,
    ).case
    return {"desk": desk, "student": student, "courier": courier, "case": case}


def move(session, case_id, *statuses, start=NOW, **extra):
    case = None
    for k, to in enumerate(statuses):
        fields = CLOSURE if to == "resolved" else {}
        case = casework.transition_case(
            session=session, case_id=case_id, to=to, actor="user:9",
            now=start + timedelta(minutes=k + 1), **fields, **extra,
        )  # fmt: skip
    return case


TO_CLOSED = ("acknowledged", "investigating", "action_taken", "resolved", "closed")


def test_each_transition_is_a_timeline_line_and_a_ledger_entry_naming_the_actor(session, made):
    case = move(session, made["case"].id, "acknowledged", "investigating")
    events = session.exec(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    ).all()
    assert [(e.kind, e.from_status, e.to_status) for e in events] == [
        ("opened", None, "new"),
        ("transitioned", "new", "acknowledged"),
        ("transitioned", "acknowledged", "investigating"),
    ]
    entry = ledger.entry_at(session, case.ledger_index).envelope()
    assert (entry["type"], entry["actor"]) == ("complaint.transitioned", "user:9")
    assert entry["payload"]["status"] == "investigating"


def test_an_illegal_transition_names_the_current_status_and_changes_nothing(session, made):
    size = ledger.tree_size(session)
    with pytest.raises(IllegalTransition, match="'new'"):
        casework.transition_case(session=session, case_id=made["case"].id, to="closed", actor="u")
    session.rollback()
    assert ledger.tree_size(session) == size
    assert service.get_case(session=session, case_id=made["case"].id).status == "new"


def test_resolving_requires_the_closure_fields_which_are_then_kept(session, made):
    case_id = made["case"].id
    move(session, case_id, "acknowledged", "investigating", "action_taken")
    with pytest.raises(ClosureIncomplete):
        casework.transition_case(
            session=session, case_id=case_id, to="resolved", actor="u", resolution="Refunded"
        )
    session.rollback()
    case = casework.transition_case(
        session=session, case_id=case_id, to="resolved", actor="u", **CLOSURE
    )
    assert (case.resolution, case.root_cause, case.corrective_action) == tuple(CLOSURE.values())


def test_closing_sends_the_satisfaction_check_to_the_complainant(session, made):
    case = move(session, made["case"].id, *TO_CLOSED)
    assert case.closed_at is not None
    kinds = session.exec(
        select(Message.channel, Message.kind).where(Message.case_id == case.id)
    ).all()
    assert {k for k in kinds if k[1] == "satisfaction_check"} == {
        ("in_app", "satisfaction_check"),
        ("email", "satisfaction_check"),
    }


def test_a_reopen_needs_a_reason_and_clears_the_closing_time(session, made):
    case_id = made["case"].id
    move(session, case_id, *TO_CLOSED)
    with pytest.raises(ReasonRequired):
        casework.transition_case(session=session, case_id=case_id, to="investigating", actor="u")
    session.rollback()
    case = casework.transition_case(
        session=session, case_id=case_id, to="investigating", reason="new lab result", actor="u"
    )
    assert case.status == "investigating" and case.closed_at is None
    last = session.exec(select(CaseEvent).order_by(CaseEvent.id.desc())).first()  # type: ignore[union-attr]
    assert (last.kind, last.body) == ("reopened", "new lab result")


def test_notes_stay_internal_and_replies_reach_the_complainant(session, made):
    case_id = made["case"].id
    note = casework.add_note(
        session=session, case_id=case_id, body="Check the rice cooker", actor="u"
    )
    reply = casework.send_reply(session=session, case_id=case_id, body="We are checking", actor="u")
    assert not note.visible_to_complainant and reply.visible_to_complainant
    inbox = session.exec(
        select(Message.body).where(Message.case_id == case_id, Message.kind == "reply")
    ).all()
    assert set(inbox) == {"We are checking"}
    # Free text is personal data: digested in the ledger.
    assert b"rice cooker" not in ledger.entry_at(session, note.ledger_index).data


@pytest.mark.parametrize("body", ["", "   ", "x" * 4001])
def test_empty_or_huge_notes_are_refused(session, made, body):
    with pytest.raises(casework.TextError):
        casework.add_note(session=session, case_id=made["case"].id, body=body, actor="u")


def test_cases_are_assigned_to_desk_users_only(session, made):
    case = casework.assign_case(
        session=session, case_id=made["case"].id, user_id=made["desk"].id, actor="u"
    )
    assert case.assignee_id == made["desk"].id
    with pytest.raises(casework.InvalidAssignee):
        casework.assign_case(
            session=session, case_id=made["case"].id, user_id=made["courier"].id, actor="u"
        )
    session.rollback()
    assert (
        casework.assign_case(
            session=session, case_id=made["case"].id, user_id=None, actor="u"
        ).assignee_id
        is None
    )


def feedback(session, case_id, now, **extra):
    values = {"rating": 4, "comment": None, "appeal": False}
    values.update(extra)
    return casework.give_feedback(
        session=session, case_id=case_id, actor="user:5", appeal_days=14, now=now, **values
    )


def test_feedback_is_taken_once_per_closure(session, made):
    case_id = made["case"].id
    with pytest.raises(casework.FeedbackConflict):
        feedback(session, case_id, NOW)
    session.rollback()
    move(session, case_id, *TO_CLOSED)
    row = feedback(session, case_id, NOW + timedelta(days=1), rating=5, comment="Fast")
    assert (row.rating, row.appeal) == (5, False)
    with pytest.raises(casework.FeedbackConflict):
        feedback(session, case_id, NOW + timedelta(days=1))


@pytest.mark.parametrize("rating", [0, 6])
def test_ratings_run_from_one_to_five(session, made, rating):
    move(session, made["case"].id, *TO_CLOSED)
    with pytest.raises(casework.FeedbackError):
        feedback(session, made["case"].id, NOW + timedelta(days=1), rating=rating)


def test_an_appeal_in_time_reopens_the_case_with_reason_appeal(session, made):
    case_id = made["case"].id
    move(session, case_id, *TO_CLOSED)
    feedback(session, case_id, NOW + timedelta(days=13), rating=1, appeal=True, comment="Not fixed")
    case = service.get_case(session=session, case_id=case_id)
    assert case.status == "investigating"
    last = session.exec(select(CaseEvent).order_by(CaseEvent.id.desc())).first()  # type: ignore[union-attr]
    assert (last.kind, last.body) == ("reopened", "appeal")
    assert session.exec(select(Feedback.appeal)).one() is True


def test_an_appeal_after_the_window_is_refused(session, made):
    case_id = made["case"].id
    move(session, case_id, *TO_CLOSED)
    with pytest.raises(casework.AppealWindowClosed):
        feedback(session, case_id, NOW + timedelta(days=15), rating=None, appeal=True)
    session.rollback()
    assert service.get_case(session=session, case_id=case_id).status == "closed"
