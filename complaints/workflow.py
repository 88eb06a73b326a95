"""The case state machine (ISO 10002:2018: receive, acknowledge, assess, investigate, respond,
close with an appeal path; DOMAIN.md §3). Pure.

    new → acknowledged → investigating → action_taken → resolved → closed
    investigating ⇄ waiting_for_lab, investigating ⇄ waiting_for_customer
    resolved / closed → investigating   (a reopen: a reason is required)

Moving to ``resolved`` needs the resolution, the root cause and the corrective action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "CLOSURE_FIELDS",
    "OPEN_STATUSES",
    "PAUSED_STATUSES",
    "STATUSES",
    "TRANSITIONS",
    "ClosureIncomplete",
    "IllegalTransition",
    "ReasonRequired",
    "Step",
    "check_transition",
    "next_statuses",
]

STATUSES = (
    "new",
    "acknowledged",
    "investigating",
    "waiting_for_lab",
    "waiting_for_customer",
    "action_taken",
    "resolved",
    "closed",
)
TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "new": ("acknowledged",),
    "acknowledged": ("investigating",),
    "investigating": ("action_taken", "waiting_for_lab", "waiting_for_customer"),
    "waiting_for_lab": ("investigating",),
    "waiting_for_customer": ("investigating",),
    "action_taken": ("resolved",),
    "resolved": ("closed", "investigating"),
    "closed": ("investigating",),
}
REOPEN_FROM = frozenset({"resolved", "closed"})
# The SLA clock stops while the desk waits on someone else (DOMAIN.md §3, Zammad/RT practice).
PAUSED_STATUSES = frozenset({"waiting_for_lab", "waiting_for_customer"})
OPEN_STATUSES = tuple(s for s in STATUSES if s != "closed")
CLOSURE_FIELDS = ("resolution", "root_cause", "corrective_action")
MAX_REASON = 2000


class IllegalTransition(ValueError):
    """The case cannot move from its current status to the one asked for."""

    def __init__(self, current: str, to: str) -> None:
        allowed = ", ".join(TRANSITIONS.get(current, ())) or "nothing"
        super().__init__(f"a case in status {current!r} cannot move to {to!r}; allowed: {allowed}")
        self.current, self.to = current, to
        self.details = {"current": current, "to": to, "allowed": list(TRANSITIONS.get(current, ()))}


class ReasonRequired(ValueError):
    """A reopen without a reason."""

    field = "reason"


class ClosureIncomplete(ValueError):
    """Resolving a case without its resolution, root cause or corrective action."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"to resolve the case, give {', '.join(missing)}")
        self.field = missing[0]
        self.details = [{"field": m, "reason": "required to resolve the case"} for m in missing]


@dataclass(frozen=True, slots=True)
class Step:
    """An allowed move: from, to, and whether it reopens a finished case."""

    from_status: str
    to_status: str
    reopen: bool


def next_statuses(current: str) -> tuple[str, ...]:
    """Where a case in ``current`` may go."""
    return TRANSITIONS.get(current, ())


def check_transition(
    current: str,
    to: str,
    *,
    reason: str | None = None,
    closure: Mapping[str, str | None] | None = None,
) -> Step:
    """The step from ``current`` to ``to``, or the domain error that forbids it.

    ``closure`` holds the case's resolution, root cause and corrective action (after this
    request's values are applied); all three are needed to move to ``resolved``.
    """
    if to not in TRANSITIONS.get(current, ()):
        raise IllegalTransition(current, to)
    reopen = current in REOPEN_FROM and to == "investigating"
    if reopen and not (reason and reason.strip()):
        raise ReasonRequired(f"reopening a {current} case needs a reason")
    if reason is not None and len(reason) > MAX_REASON:
        raise ReasonRequired(f"the reason is longer than {MAX_REASON} characters")
    if to == "resolved":
        given = closure or {}
        missing = [f for f in CLOSURE_FIELDS if not (given.get(f) or "").strip()]
        if missing:
            raise ClosureIncomplete(missing)
    return Step(current, to, reopen)
