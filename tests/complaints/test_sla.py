"""SLA clocks from a case's history with a fixed clock: run, warn, breach, pause, resume, reopen.

Budgets come from the bundled policies: food-safety cases 30 min / 24 h / 48 h, others
4 h / 72 h / 5 days (DOMAIN.md §3); expected times below are worked out by hand from those.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest

from complaints.sla import (
    DEFAULT_POLICIES,
    HistoryEvent,
    SlaConfigError,
    compliance,
    default_policies,
    load_policies,
    sla_state,
)

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
MIN, HOUR = timedelta(minutes=1), timedelta(hours=1)


def at(delta: timedelta, kind: str = "transitioned", to: str | None = None) -> HistoryEvent:
    return HistoryEvent(T0 + delta, kind, to)


def state(history=(), now=T0, category="illness", severity="high"):
    events = [HistoryEvent(T0, "opened", "new"), *history]
    return sla_state(opened_at=T0, history=events, category=category, severity=severity, now=now)


# the usual path to each status
ACK = [at(10 * MIN, to="acknowledged")]
INVESTIGATING = [*ACK, at(HOUR, to="investigating")]


def test_a_fresh_food_safety_case_runs_all_three_clocks_from_the_opening():
    sla = state(now=T0 + 10 * MIN)
    first = sla.get("first_response")
    assert sla.policy == "food_safety"
    assert (first.minutes, first.due_at, first.remaining) == (30, T0 + 30 * MIN, 20 * MIN)
    assert not (first.warning or first.breached or first.paused or first.met)
    assert sla.get("investigation_report").due_at == T0 + 24 * HOUR
    assert sla.get("closure").due_at == T0 + 48 * HOUR


def test_the_warning_starts_when_a_fifth_of_the_budget_is_left():
    # 20 % of 30 minutes is 6 minutes: due at 09:30, so the warning starts at 09:24.
    assert not state(now=T0 + 23 * MIN).get("first_response").warning
    assert state(now=T0 + 24 * MIN).get("first_response").warning
    assert state(now=T0 + 29 * MIN).get("first_response").warning


def test_past_the_due_time_the_target_is_breached_not_warned():
    first = state(now=T0 + 31 * MIN).get("first_response")
    assert first.breached and not first.warning
    assert first.remaining == -MIN
    assert not state(now=T0 + 30 * MIN).get("first_response").breached  # due, not yet late


def test_acknowledging_in_time_meets_the_first_response():
    first = state(ACK, now=T0 + 5 * HOUR).get("first_response")
    assert first.met_at == T0 + 10 * MIN
    assert first.remaining == 20 * MIN and not first.breached and not first.warning


def test_a_reply_before_the_acknowledgement_also_meets_the_first_response():
    first = state([at(5 * MIN, "reply")], now=T0 + HOUR).get("first_response")
    assert first.met_at == T0 + 5 * MIN


def test_acknowledging_late_meets_the_target_but_counts_as_breached():
    first = state([at(40 * MIN, to="acknowledged")], now=T0 + HOUR).get("first_response")
    assert first.met_at == T0 + 40 * MIN and first.breached


def test_waiting_for_the_lab_pauses_the_clock_and_moves_the_due_time():
    paused = [*INVESTIGATING, at(2 * HOUR, to="waiting_for_lab")]
    during = state(paused, now=T0 + 5 * HOUR).get("investigation_report")
    # 2 h ran before the pause; the remaining 22 h are frozen while waiting.
    assert during.paused and during.remaining == 22 * HOUR
    assert during.due_at == T0 + 5 * HOUR + 22 * HOUR
    assert not during.breached
    resumed = [*paused, at(12 * HOUR, to="investigating")]
    after = state(resumed, now=T0 + 20 * HOUR).get("investigation_report")
    # 10 paused hours: due at 24 h + 10 h; at 20 h, 10 active hours have run, 14 h are left.
    assert not after.paused
    assert after.due_at == T0 + 34 * HOUR
    assert after.remaining == 14 * HOUR


def test_a_paused_clock_never_breaches_however_long_the_wait():
    paused = [*INVESTIGATING, at(2 * HOUR, to="waiting_for_customer")]
    report = state(paused, now=T0 + 30 * 24 * HOUR).get("investigation_report")
    assert report.paused and not report.breached and report.remaining == 22 * HOUR


def test_after_resuming_the_clock_can_still_breach():
    history = [
        *INVESTIGATING,
        at(2 * HOUR, to="waiting_for_lab"),
        at(12 * HOUR, to="investigating"),
    ]
    report = state(history, now=T0 + 35 * HOUR).get("investigation_report")
    assert report.breached and report.remaining == -HOUR


def test_taking_action_meets_the_report_and_closing_meets_closure():
    history = [
        *INVESTIGATING,
        at(20 * HOUR, to="action_taken"),
        at(30 * HOUR, to="resolved"),
        at(40 * HOUR, to="closed"),
    ]
    sla = state(history, now=T0 + 100 * HOUR)
    assert sla.get("investigation_report").met_at == T0 + 20 * HOUR
    assert sla.get("closure").met_at == T0 + 40 * HOUR
    assert not any(t.breached for t in sla.targets)
    assert sla.open_targets() == []


def test_a_reopen_restarts_the_report_and_closure_clocks_from_the_reopening():
    history = [
        *INVESTIGATING,
        at(20 * HOUR, to="action_taken"),
        at(21 * HOUR, to="resolved"),
        at(22 * HOUR, to="closed"),
        at(30 * HOUR, "reopened", "investigating"),
    ]
    sla = state(history, now=T0 + 31 * HOUR)
    assert sla.get("first_response").met_at == T0 + 10 * MIN  # never restarts
    report, closure = sla.get("investigation_report"), sla.get("closure")
    assert report.met_at is None and report.due_at == T0 + 30 * HOUR + 24 * HOUR
    assert closure.met_at is None and closure.due_at == T0 + 30 * HOUR + 48 * HOUR
    assert report.remaining == 23 * HOUR and not report.breached


def test_a_breach_in_an_earlier_cycle_stays_a_breach_after_the_reopen():
    history = [
        *INVESTIGATING,
        at(25 * HOUR, to="action_taken"),  # one hour late
        at(26 * HOUR, to="resolved"),
        at(27 * HOUR, to="closed"),
        at(28 * HOUR, "reopened", "investigating"),
        at(29 * HOUR, to="action_taken"),  # on time in the new cycle
    ]
    report = state(history, now=T0 + 30 * HOUR).get("investigation_report")
    assert report.met_at == T0 + 29 * HOUR and report.breached


def test_events_after_now_are_not_seen():
    history = [at(20 * MIN, to="acknowledged")]
    assert state(history, now=T0 + 15 * MIN).get("first_response").met_at is None


def test_clocks_are_computed_not_counted_the_same_history_later_has_less_time_left():
    early, late = state(INVESTIGATING, now=T0 + 2 * HOUR), state(INVESTIGATING, now=T0 + 7 * HOUR)
    assert early.get("closure").remaining - late.get("closure").remaining == 5 * HOUR


@pytest.mark.parametrize(
    ("category", "severity", "policy", "first_minutes"),
    [
        ("illness", "high", "food_safety", 30),
        ("foreign_object", "high", "food_safety", 30),
        ("spoiled", "normal", "food_safety", 30),
        ("hygiene", "normal", "standard", 240),
        ("other", "low", "standard", 240),
        ("hygiene", "critical", "critical", 30),  # e.g. two people ill after a hygiene report
    ],
)
def test_the_policy_follows_severity_then_category(category, severity, policy, first_minutes):
    sla = state(category=category, severity=severity)
    assert sla.policy == policy
    assert sla.get("first_response").minutes == first_minutes


def test_standard_cases_close_within_five_days():
    closure = state(category="other", severity="low").get("closure")
    assert closure.due_at == T0 + timedelta(days=5)


def test_the_bundled_policies_cite_their_source():
    book = default_policies()
    assert "DOMAIN.md" in book.source and all(p.source for p in book.policies)
    assert book.paused_statuses == {"waiting_for_lab", "waiting_for_customer"}


def test_compliance_counts_met_breached_and_pending_per_target_category_and_month():
    on_time = state(INVESTIGATING, now=T0 + 2 * HOUR)  # first met; report, closure pending
    late = state([at(40 * MIN, to="acknowledged")], now=T0 + 2 * HOUR)  # first late
    overdue = state(now=T0 + 2 * HOUR, category="spoiled", severity="normal")  # first overdue
    figures = compliance(
        [("illness", "2026-05", on_time), ("illness", "2026-05", late),
         ("spoiled", "2026-06", overdue)]
    )  # fmt: skip
    overall = {r["target"]: r for r in figures["overall"]}
    assert (overall["first_response"]["met"], overall["first_response"]["breached"]) == (1, 2)
    assert overall["first_response"]["percent_met"] == pytest.approx(100 / 3)
    assert overall["closure"]["pending"] == 3 and overall["closure"]["percent_met"] is None
    per_category = {(r["target"], r["group"]): r for r in figures["category"]}
    assert per_category[("first_response", "illness")]["percent_met"] == 50.0
    assert per_category[("first_response", "spoiled")]["percent_met"] == 0.0
    months = {(r["target"], r["group"]) for r in figures["month"]}
    assert ("first_response", "2026-06") in months


def test_malformed_policy_files_are_refused(tmp_path):
    base = json.loads(DEFAULT_POLICIES.read_text(encoding="utf-8"))
    for broken in (
        {k: v for k, v in base.items() if k != "source"},
        {**base, "policies": base["policies"][:-1]},  # no catch-all at the end
        {**base, "policies": [{"id": "x", "minutes": {"first_response": 30}}]},
        {**base, "warning_fraction": 1.5},
    ):
        path = tmp_path / "p.json"
        path.write_text(json.dumps(broken))
        with pytest.raises(SlaConfigError):
            load_policies(path)
