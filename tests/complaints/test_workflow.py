"""The case state machine: every legal move allowed, every other one refused naming the status."""

import itertools

import pytest

from complaints.workflow import (
    STATUSES,
    ClosureIncomplete,
    IllegalTransition,
    ReasonRequired,
    check_transition,
    next_statuses,
)

# Written out from ISO 10002 / the issue, independently of workflow.TRANSITIONS.
LEGAL = {
    ("new", "acknowledged"),
    ("acknowledged", "investigating"),
    ("investigating", "action_taken"),
    ("investigating", "waiting_for_lab"),
    ("investigating", "waiting_for_customer"),
    ("waiting_for_lab", "investigating"),
    ("waiting_for_customer", "investigating"),
    ("action_taken", "resolved"),
    ("resolved", "closed"),
    ("resolved", "investigating"),  # reopen
    ("closed", "investigating"),  # reopen
}
REOPENS = {("resolved", "investigating"), ("closed", "investigating")}
CLOSURE = {"resolution": "refund", "root_cause": "rice held warm", "corrective_action": "fridge"}


@pytest.mark.parametrize(("current", "to"), sorted(LEGAL))
def test_every_legal_move_is_allowed(current, to):
    step = check_transition(current, to, reason="customer appealed", closure=CLOSURE)
    assert (step.from_status, step.to_status) == (current, to)
    assert step.reopen == ((current, to) in REOPENS)


ILLEGAL = sorted(set(itertools.product(STATUSES, STATUSES)) - LEGAL)


@pytest.mark.parametrize(("current", "to"), ILLEGAL)
def test_every_other_move_is_refused_naming_the_current_status(current, to):
    with pytest.raises(IllegalTransition) as caught:
        check_transition(current, to, reason="r", closure=CLOSURE)
    assert f"'{current}'" in str(caught.value)
    assert caught.value.details["current"] == current


def test_unknown_statuses_are_illegal_too():
    with pytest.raises(IllegalTransition):
        check_transition("new", "teleported")


@pytest.mark.parametrize("current", ["resolved", "closed"])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_reopen_needs_a_reason(current, reason):
    with pytest.raises(ReasonRequired):
        check_transition(current, "investigating", reason=reason)


def test_resolving_needs_resolution_root_cause_and_corrective_action():
    with pytest.raises(ClosureIncomplete) as caught:
        check_transition("action_taken", "resolved", closure={"resolution": "refund"})
    assert [d["field"] for d in caught.value.details] == ["root_cause", "corrective_action"]


def test_next_statuses_lists_exactly_the_legal_targets():
    for status in STATUSES:
        assert set(next_statuses(status)) == {to for cur, to in LEGAL if cur == status}
