"""SLA clocks computed from a case's history, never from stored counters (DOMAIN.md §3).

Pure, with the clock injected (``now``). Policies per severity and category are configuration
(``sla_policies.json``, sources cited there). Each target (first response, investigation
report, closure) runs from the opening; statuses such as ``waiting_for_lab`` pause it (the
due time moves by the paused time); it is met by the first event that satisfies it. A reopen
starts a new cycle for targets that restart on reopen (a breach in an earlier cycle stays a
breach). ``warning`` means at most ``warning_fraction`` of the budget is left.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TypedDict

__all__ = [
    "CaseSla",
    "HistoryEvent",
    "Policy",
    "PolicyBook",
    "SlaConfigError",
    "TargetRule",
    "TargetState",
    "compliance",
    "default_policies",
    "load_policies",
    "sla_state",
]

DEFAULT_POLICIES = Path(__file__).with_name("sla_policies.json")
STATUS_EVENTS = frozenset({"opened", "transitioned", "reopened"})


class SlaConfigError(ValueError):
    """A policy file that is malformed or inconsistent."""


@dataclass(frozen=True, slots=True)
class TargetRule:
    """What meets a target, and whether a reopen starts it again."""

    name: str
    met_by_statuses: frozenset[str]
    met_by_events: frozenset[str]
    restarts_on_reopen: bool


@dataclass(frozen=True, slots=True)
class Policy:
    """Budgets in minutes per target for the cases it matches (empty filter: any)."""

    id: str
    categories: frozenset[str]
    severities: frozenset[str]
    minutes: Mapping[str, int]
    source: str

    def matches(self, category: str, severity: str) -> bool:
        """Whether this policy covers a case of this category and severity."""
        return (not self.categories or category in self.categories) and (
            not self.severities or severity in self.severities
        )


@dataclass(frozen=True, slots=True)
class PolicyBook:
    """Targets, policies (first match wins), pausing statuses, warning share, appeal days."""

    targets: tuple[TargetRule, ...]
    policies: tuple[Policy, ...]
    paused_statuses: frozenset[str]
    warning_fraction: float
    appeal_days: int
    source: str

    def policy_for(self, category: str, severity: str) -> Policy:
        """The first policy that matches (the file ends with a catch-all)."""
        return next(p for p in self.policies if p.matches(category, severity))


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """A fact of the case's timeline that SLA clocks care about.

    kind: "opened", "transitioned", "reopened" (with ``to_status``), "reply", or anything else
    (ignored).
    """

    at: datetime
    kind: str
    to_status: str | None = None


@dataclass(frozen=True, slots=True)
class TargetState:
    """One clock at ``now``. ``remaining`` is negative when overdue; for a met target it is
    what was left when it was met. ``due_at`` moves later by every paused minute."""

    target: str
    minutes: int
    due_at: datetime
    remaining: timedelta
    paused: bool
    met_at: datetime | None
    breached: bool
    warning: bool

    @property
    def met(self) -> bool:
        """Whether the target has been met in the current cycle."""
        return self.met_at is not None


@dataclass(frozen=True, slots=True)
class CaseSla:
    """Every clock of one case, and the policy that set their budgets."""

    policy: str
    status: str
    targets: tuple[TargetState, ...]

    def open_targets(self) -> list[TargetState]:
        """Targets not met yet, least time left first."""
        return sorted((t for t in self.targets if not t.met), key=lambda t: t.remaining)

    def get(self, target: str) -> TargetState:
        """The state of one target by name."""
        return next(t for t in self.targets if t.target == target)


def _strings(raw: Any, where: str) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise SlaConfigError(f"{where} must be a list of strings")
    return frozenset(raw)


def load_policies(path: str | Path | None = None) -> PolicyBook:
    """Read and validate a policy file (default: ``complaints/sla_policies.json``)."""
    raw = json.loads(Path(path or DEFAULT_POLICIES).read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("source"), str):
        raise SlaConfigError("expected an object citing its 'source'")
    targets_raw = raw.get("targets")
    if not isinstance(targets_raw, dict) or not targets_raw:
        raise SlaConfigError("'targets' must name at least one target")
    targets = tuple(
        TargetRule(
            name,
            _strings(t.get("met_by_statuses"), f"targets.{name}.met_by_statuses"),
            _strings(t.get("met_by_events"), f"targets.{name}.met_by_events"),
            bool(t.get("restarts_on_reopen", False)),
        )
        for name, t in targets_raw.items()
    )
    names = {t.name for t in targets}
    policies = []
    for i, p in enumerate(raw.get("policies") or []):
        minutes = p.get("minutes") if isinstance(p, dict) else None
        if not isinstance(minutes, dict) or set(minutes) != names:
            raise SlaConfigError(f"policies[{i}].minutes must give every target: {sorted(names)}")
        if not all(
            isinstance(m, int) and not isinstance(m, bool) and m > 0 for m in minutes.values()
        ):
            raise SlaConfigError(f"policies[{i}].minutes must be positive whole minutes")
        policies.append(
            Policy(
                str(p.get("id", i)),
                _strings(p.get("categories"), f"policies[{i}].categories"),
                _strings(p.get("severities"), f"policies[{i}].severities"),
                dict(minutes),
                str(p.get("source", "")),
            )
        )
    if not policies or policies[-1].categories or policies[-1].severities:
        raise SlaConfigError("the last policy must match every case (no categories/severities)")
    fraction = raw.get("warning_fraction", 0.2)
    if not isinstance(fraction, int | float) or not 0 <= fraction < 1:
        raise SlaConfigError("warning_fraction must be in [0, 1)")
    appeal_days = raw.get("appeal_days", 14)
    if not isinstance(appeal_days, int) or appeal_days < 0:
        raise SlaConfigError("appeal_days must be a whole number of days")
    paused = _strings(raw.get("paused_statuses"), "paused_statuses")
    return PolicyBook(targets, tuple(policies), paused, float(fraction), appeal_days, raw["source"])


@cache
def default_policies() -> PolicyBook:
    """The bundled policies, loaded once."""
    return load_policies()


class _Clock:
    """One target's running state while the history is replayed."""

    def __init__(self, rule: TargetRule, budget: timedelta, start: datetime) -> None:
        self.rule, self.budget = rule, budget
        self.start, self.paused = start, timedelta(0)
        self.pause_since: datetime | None = None
        self.met_at: datetime | None = None
        self.late = self.late_before = False

    def active(self, at: datetime) -> timedelta:
        ongoing = at - self.pause_since if self.pause_since is not None else timedelta(0)
        return at - self.start - self.paused - ongoing

    def pause(self, at: datetime, paused: bool) -> None:
        if self.met_at is not None:
            return
        if paused and self.pause_since is None:
            self.pause_since = at
        elif not paused and self.pause_since is not None:
            self.paused += at - self.pause_since
            self.pause_since = None

    def meet(self, at: datetime) -> None:
        if self.met_at is None:
            self.pause(at, False)
            self.met_at = at
            self.late = self.active(at) > self.budget

    def restart(self, at: datetime) -> None:
        if self.met_at is not None and self.rule.restarts_on_reopen:
            self.late_before = self.late_before or self.late
            self.start, self.paused, self.pause_since = at, timedelta(0), None
            self.met_at, self.late = None, False

    def state(self, now: datetime, fraction: float) -> TargetState:
        minutes = int(self.budget / timedelta(minutes=1))
        if self.met_at is not None:
            remaining = self.budget - self.active(self.met_at)
            due = self.start + self.paused + self.budget
            breached = self.late or self.late_before
            return TargetState(
                self.rule.name, minutes, due, remaining, False, self.met_at, breached, False
            )
        remaining = self.budget - self.active(now)
        breached = remaining < timedelta(0) or self.late_before
        warning = not breached and remaining <= self.budget * fraction
        return TargetState(
            self.rule.name,
            minutes,
            now + remaining,
            remaining,
            self.pause_since is not None,
            None,
            breached,
            warning,
        )


def sla_state(
    *,
    opened_at: datetime,
    history: Sequence[HistoryEvent],
    category: str,
    severity: str,
    now: datetime,
    policies: PolicyBook | None = None,
) -> CaseSla:
    """Every target's clock at ``now`` from the case's history (events after ``now`` ignored).

    The budgets are the current policy's (category and severity as they are now).
    """
    book = policies or default_policies()
    policy = book.policy_for(category, severity)
    clocks = [_Clock(t, timedelta(minutes=policy.minutes[t.name]), opened_at) for t in book.targets]
    status = "new"
    for event in sorted((e for e in history if e.at <= now), key=lambda e: e.at):
        if event.kind in STATUS_EVENTS and event.to_status is not None:
            reopen = event.kind == "reopened"
            status = event.to_status
            for clock in clocks:
                if reopen:
                    clock.restart(event.at)
                clock.pause(event.at, status in book.paused_statuses)
                if status in clock.rule.met_by_statuses and event.kind != "opened":
                    clock.meet(event.at)
        else:
            for clock in clocks:
                if event.kind in clock.rule.met_by_events:
                    clock.meet(event.at)
    return CaseSla(policy.id, status, tuple(c.state(now, book.warning_fraction) for c in clocks))


class ComplianceRow(TypedDict):
    """Share of decided targets met in time for one group (None: nothing decided yet)."""

    target: str
    group: str
    met: int
    breached: int
    pending: int
    percent_met: float | None


def compliance(cases: Iterable[tuple[str, str, CaseSla]]) -> dict[str, list[ComplianceRow]]:
    """% met per target overall, per category and per month from ``(category, month, sla)``.

    A target is *met* in time, *breached* (overdue now, met late, or late in an earlier
    cycle) or *pending* (not due yet); the percentage is met / (met + breached).
    """
    tally: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for category, month, sla in cases:
        for t in sla.targets:
            slot = 1 if t.breached else (0 if t.met else 2)
            for view, group in (("overall", "all"), ("category", category), ("month", month)):
                tally[(view, t.target, group)][slot] += 1
    out: dict[str, list[ComplianceRow]] = {"overall": [], "category": [], "month": []}
    for (view, target, group), (met, breached, pending) in sorted(tally.items()):
        decided = met + breached
        out[view].append(
            {
                "target": target,
                "group": group,
                "met": met,
                "breached": breached,
                "pending": pending,
                "percent_met": 100.0 * met / decided if decided else None,
            }
        )
    return out
