"""Source ranking for a set of cases (DOMAIN.md §4): the cohort is every order placed in the
exposure window; its "cases" are the orders the cases concern; every batch, lot, supplier,
merchant, menu item and courier an order was exposed to is a candidate with its food-specific
attack-rate table (complaints.epidemiology), most likely source first.

The exposure window is, per case, ``[onset − max incubation, onset − min incubation]`` of the
named pathogen (complaints/pathogens.json), or the 72-hour food history before onset when no
agent is named (a case without onset counts from its opening); the cohort's window is the
union (earliest start to latest end) unless the caller gives ``since``/``until``.

Full days of the window that are rolled up (complaints.exposure_rollups) and unchanged since are
summed from the roll-ups; the rest of the window and the cases' own orders are read raw. The
counts are exactly those of an all-raw read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import Session, col, select

from complaints import epidemiology, exposure_rollups, exposures, incubation, records
from complaints.models import Case

__all__ = ["MAX_CASES", "Investigation", "InvestigationError", "case_window", "investigate"]

MAX_CASES = 500
MAX_LIMIT = 1_000


class InvestigationError(ValueError):
    """A request that cannot be investigated; ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field
        self.details = [{"field": field, "reason": message}]


@dataclass(frozen=True)
class Investigation:
    """The ranked candidates and the cohort they were computed on."""

    case_ids: tuple[int, ...]
    pathogen: str | None
    since: datetime
    until: datetime
    n_orders: int
    n_case_orders: int
    n_candidates: int
    candidates: list[epidemiology.Candidate] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (infinite ratios as "Infinity", undefined ones as null)."""
        return {
            "case_ids": list(self.case_ids),
            "pathogen": self.pathogen,
            "cohort": {
                "since": self.since.isoformat(),
                "until": self.until.isoformat(),
                "orders": self.n_orders,
                "case_orders": self.n_case_orders,
            },
            "n_candidates": self.n_candidates,
            "candidates": [c.as_dict() for c in self.candidates],
        }


def case_window(case: Case, pathogen: incubation.Pathogen | None) -> tuple[datetime, datetime]:
    """The case's exposure window (see the module docstring)."""
    onset = case.onset_at or case.opened_at
    return incubation.exposure_window(onset, pathogen)


def _pathogen(pathogen_id: str | None) -> incubation.Pathogen | None:
    if pathogen_id is None:
        return None
    try:
        return incubation.default_pathogens().get(pathogen_id)
    except incubation.UnknownPathogen:
        raise InvestigationError(f"unknown pathogen {pathogen_id!r}", field="pathogen") from None


def investigate(
    *,
    session: Session,
    case_ids: Sequence[int],
    pathogen: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> Investigation:
    """Rank the candidate sources of the cases' illness (read-only; ends its read)."""
    ids = tuple(sorted(set(case_ids)))
    if not ids or len(ids) > MAX_CASES:
        raise InvestigationError(f"give 1 to {MAX_CASES} case ids", field="case_ids")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvestigationError(f"limit is 1 to {MAX_LIMIT}", field="limit")
    if (since is None) != (until is None):
        raise InvestigationError("give both since and until, or neither", field="since")
    for name, bound in (("since", since), ("until", until)):
        if bound is not None and bound.tzinfo is None:
            raise InvestigationError("times need a UTC offset", field=name)
    agent = _pathogen(pathogen)
    cases = session.exec(select(Case).where(col(Case.id).in_(ids))).all()
    missing = sorted(set(ids) - {c.id for c in cases})
    if missing:
        raise InvestigationError(f"no case {missing[0]}", field="case_ids")
    orders_of = records.order_ids_of(session, ids)
    case_orders = sorted({o for orders in orders_of.values() for o in orders})
    if since is None or until is None:
        windows = [case_window(c, agent) for c in cases]
        since, until = min(w[0] for w in windows), max(w[1] for w in windows)
    if since > until:
        raise InvestigationError("since is after until", field="since")
    try:
        conn = session.connection()
        plan = exposure_rollups.plan_window(conn, since, until)
        cohort = exposures.load_cohort(conn, spans=plan.raw, extra_order_ids=case_orders)
        rolled = _Rolled(
            counts=exposure_rollups.rolled_up_counts(conn, plan.days),
            n_orders=plan.n_orders,
            covered=exposure_rollups.covered_orders(conn, case_orders, plan),
        )
        result = _rank(session, cohort, case_orders, limit, rolled)
    finally:
        session.rollback()  # a read: end it (SQLite would otherwise hold its lock)
    n_orders, n_candidates, n_case_orders, candidates = result
    return Investigation(
        case_ids=ids,
        pathogen=agent.id if agent else None,
        since=since,
        until=until,
        n_orders=n_orders,
        n_case_orders=n_case_orders,
        n_candidates=n_candidates,
        candidates=candidates,
    )


@dataclass(frozen=True)
class _Rolled:
    """The window's rolled-up days: exposed order counts per kind (columns "ref", "orders"),
    their order count, and the raw cohort's orders they already count (cases' own orders)."""

    counts: dict[str, pd.DataFrame]
    n_orders: int
    covered: Sequence[int]


def _rank(
    session: Session,
    cohort: exposures.Cohort,
    case_orders: Sequence[int],
    limit: int,
    rolled: _Rolled,
) -> tuple[int, int, int, list[epidemiology.Candidate]]:
    """Counts of the raw cohort plus the rolled-up days (minus the orders both count), ranked.
    Candidates are numbered kind by kind, ids ascending, as an all-raw cohort would number
    them, so ties rank the same either way."""
    n_raw = int(cohort.order_ids.size)
    ill = np.zeros(n_raw, dtype=bool)
    ill[cohort.positions(case_orders)] = True
    twice = np.zeros(n_raw, dtype=bool)
    twice[cohort.positions(rolled.covered)] = True
    kinds: list[str] = []
    refs: list[np.ndarray] = []
    persons, candidates, summed_at, summed = [], [], [], []
    offset = 0
    for kind in exposures.KINDS:
        frame, extra = cohort.pairs[kind], rolled.counts[kind]
        raw_refs = frame["ref"].to_numpy(np.int64)
        uniques = np.union1d(raw_refs, extra["ref"].to_numpy(np.int64))
        persons.append(frame["pos"].to_numpy(np.int64))
        candidates.append(np.searchsorted(uniques, raw_refs) + offset)
        summed_at.append(np.searchsorted(uniques, extra["ref"].to_numpy(np.int64)) + offset)
        summed.append(extra["orders"].to_numpy(np.int64))
        kinds += [kind] * len(uniques)
        refs.append(uniques)
        offset += len(uniques)
    ref_ids = np.concatenate(refs) if refs else np.zeros(0, dtype=np.int64)
    person, candidate = np.concatenate(persons), np.concatenate(candidates)
    counts = epidemiology.cohort_counts(
        ill=ill, person=person, candidate=candidate, n_candidates=offset
    )
    n = n_raw + rolled.n_orders - int(twice.sum())
    exposed_total = counts["exposed_total"].astype(np.int64)
    np.add.at(exposed_total, np.concatenate(summed_at), np.concatenate(summed))
    if twice.any():  # counted by a rolled-up day and read raw as a case's order
        both = epidemiology.cohort_counts(
            ill=twice, person=person, candidate=candidate, n_candidates=offset
        )
        exposed_total -= both["exposed_cases"]
    exposed_cases = counts["exposed_cases"]
    chosen = np.flatnonzero(exposed_cases > 0)
    if chosen.size < limit:  # too few with a case: the rest compete for the remaining places
        chosen = np.arange(offset)
    rows = epidemiology.attack_rate_rows_from_counts(
        kinds=[kinds[i] for i in chosen],
        ids=[str(int(ref_ids[i])) for i in chosen],
        labels=[""] * chosen.size,
        exposed_cases=exposed_cases[chosen],
        exposed_total=exposed_total[chosen],
        unexposed_cases=counts["unexposed_cases"][chosen],
        unexposed_total=(n - exposed_total)[chosen],
        total_cases=counts["total_cases"],
    )
    top = epidemiology.rank(rows)[:limit]
    labels = exposures.candidate_labels(session.connection(), [(c.kind, int(c.id)) for c in top])
    labelled = [
        epidemiology.Candidate(**{**_fields(c), "label": labels[(c.kind, int(c.id))]}) for c in top
    ]
    return n, offset, int(ill.sum()), labelled


def _fields(c: epidemiology.Candidate) -> dict[str, Any]:
    return {name: getattr(c, name) for name in epidemiology.Candidate.__dataclass_fields__}
