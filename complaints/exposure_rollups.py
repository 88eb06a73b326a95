"""Daily exposure roll-ups: what source ranking reads instead of a long window's raw rows.

A settled UTC day (one that ended more than a horizon ago: orders are accepted, delivered or
cancelled within hours) is rolled up once: per candidate (kind in exposures.KINDS, ref id), the
number of distinct eligible orders placed that day that were exposed to it, computed by the
same code as the raw ranking (exposures.load_cohort over the half-open [day, day + 1)), and the
day's eligible order count at that moment. A ranking over a long window sums the rolled-up days
whose count still matches the orders table (one GROUP BY over the window) and reads the rest
raw: the ragged edges, unsettled days and days whose count changed (a late cancellation) or
that are missing. The next roll-up run recomputes changed days.

The two tables (complaint_exposure_days, complaint_exposure_rollup_days) are a derived cache:
not facts, no ledger entries, not projected by `ledger verify`; deleting them only makes
rankings slower until the next run. What the count check cannot see (a transformation input
added to a batch of a day already rolled up) is stale until that day is recomputed: delete its
complaint_exposure_rollup_days row, or all of them, and run the roll-up again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from columns import UTCDateTime, utcnow
from complaints import exposures
from complaints.models import ExposureDay, ExposureRollupDay

__all__ = [
    "DEFAULT_HORIZON",
    "HORIZON_KEY",
    "RUN_DAYS",
    "WindowPlan",
    "covered_orders",
    "day_counts",
    "days_due",
    "horizon_from",
    "plan_window",
    "roll_up",
    "roll_up_day",
    "rolled_up_counts",
]

DEFAULT_HORIZON = timedelta(hours=48)
RUN_DAYS = 14  # days one periodic run computes at most (a day of 14,000 orders: ~0.5 s)
ONE_DAY = timedelta(days=1)
HORIZON_KEY = "COMPLAINTS_ROLLUP_HORIZON_HOURS"  # app config key overriding DEFAULT_HORIZON

_DAYS = ExposureDay.__table__  # type: ignore[attr-defined]
_ROLLED = ExposureRollupDay.__table__  # type: ignore[attr-defined]


def horizon_from(config: Mapping[str, Any]) -> timedelta:
    """The settling horizon from an app config (``COMPLAINTS_ROLLUP_HORIZON_HOURS``, hours)."""
    value = config.get(HORIZON_KEY)
    if value is None or value == "":
        return DEFAULT_HORIZON
    hours = float(value)
    if not hours >= 0:
        raise ValueError(f"{HORIZON_KEY} must be a number of hours ≥ 0, not {value!r}")
    return timedelta(hours=hours)


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# Per day, all orders minus the not-eaten ones: two index range counts (ix_orders_created_at,
# and the partial ix_orders_not_eaten_created_at of migration 0010), no table rows read.
_DAY_COUNT = (
    "SELECT {k}, (SELECT COUNT(*) FROM orders WHERE created_at >= :lo{k} AND created_at < :hi{k})"
    " - (SELECT COUNT(*) FROM orders WHERE status IN ('rejected', 'cancelled') "
    "AND created_at >= :lo{k} AND created_at < :hi{k})"
)
DAYS_PER_QUERY = 400


def day_counts(conn: Connection, first: date, stop: date) -> dict[date, int]:
    """Eligible (not rejected or cancelled) orders per UTC day in [first, stop), days without
    any left out: one query (per 400 days)."""
    days = [first + k * ONE_DAY for k in range((stop - first).days)]
    out: dict[date, int] = {}
    for start in range(0, len(days), DAYS_PER_QUERY):
        part = days[start : start + DAYS_PER_QUERY]
        sql = " UNION ALL ".join(_DAY_COUNT.format(k=k) for k in range(len(part)))
        params = []
        for k, day in enumerate(part):
            params += [
                bindparam(f"lo{k}", _start(day), type_=UTCDateTime()),
                bindparam(f"hi{k}", _start(day + ONE_DAY), type_=UTCDateTime()),
            ]
        for k, n in conn.execute(text(sql).bindparams(*params)).all():
            if n:
                out[part[int(k)]] = int(n)
    return out


def _rolled_days(conn: Connection, first: date, stop: date) -> dict[date, int]:
    rows = conn.execute(
        select(_ROLLED.c.day, _ROLLED.c.n_orders).where(
            _ROLLED.c.day >= first, _ROLLED.c.day < stop
        )
    ).all()
    return {d: int(n) for d, n in rows}


# --------------------------------------------------------------------------- writing


def roll_up_day(conn: Connection, day: date) -> tuple[int, list[dict[str, object]]]:
    """The day's eligible order count and its roll-up rows (computed, not written)."""
    cohort = exposures.load_cohort(
        conn, spans=[exposures.Span(_start(day), _start(day + ONE_DAY), closed=False)]
    )
    rows: list[dict[str, object]] = []
    for kind in exposures.KINDS:
        pairs = cohort.pairs[kind].drop_duplicates()
        per_ref = pairs.groupby("ref").size()
        rows += [
            {"kind": kind, "ref": int(r), "day": day, "orders": int(n)}
            for r, n in zip(per_ref.index, per_ref.to_numpy(), strict=True)
        ]
    return int(cohort.order_ids.size), rows


def days_due(
    conn: Connection, *, now: datetime, horizon: timedelta = DEFAULT_HORIZON
) -> list[date]:
    """Settled days (ended at least ``horizon`` before ``now``) that are not rolled up or
    whose eligible order count changed since, oldest first."""
    first = conn.execute(
        text("SELECT MIN(created_at) AS first FROM orders").columns(first=UTCDateTime())
    ).scalar()
    if first is None:
        return []
    first_day = first.astimezone(UTC).date()
    stop = (now - horizon).astimezone(UTC).date()  # days before it ended ≥ horizon ago
    counts = day_counts(conn, first_day, stop)
    rolled = _rolled_days(conn, first_day, stop)
    due = {d for d, n in counts.items() if rolled.get(d) != n}
    due |= {d for d, n in rolled.items() if counts.get(d, 0) != n}
    return sorted(due)


def roll_up(
    *,
    session: Session,
    now: datetime | None = None,
    horizon: timedelta = DEFAULT_HORIZON,
    max_days: int | None = RUN_DAYS,
) -> list[date]:
    """Roll up the settled days that are due (at most ``max_days``, oldest first; None: all),
    one transaction per day; returns the days written. Idempotent: a day another run wrote
    meanwhile is left to it."""
    now = now or utcnow()
    due = days_due(session.connection(), now=now, horizon=horizon)
    session.rollback()  # end the read before the writes
    written: list[date] = []
    for day in due[:max_days] if max_days is not None else due:
        try:
            conn = session.connection()
            n_orders, rows = roll_up_day(conn, day)
            session.execute(delete(ExposureDay).where(col(ExposureDay.day) == day))
            session.execute(delete(ExposureRollupDay).where(col(ExposureRollupDay.day) == day))
            if rows:
                session.execute(insert(_DAYS), rows)
            session.execute(
                insert(_ROLLED), [{"day": day, "n_orders": n_orders, "computed_at": utcnow()}]
            )
            session.commit()
        except IntegrityError:  # a concurrent run wrote the same day first
            session.rollback()
            continue
        written.append(day)
    return written


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class WindowPlan:
    """A window split into rolled-up days (summed) and raw spans (read order by order)."""

    days: tuple[date, ...] = ()
    n_orders: int = 0  # eligible orders on those days
    raw: tuple[exposures.Span, ...] = field(default_factory=tuple)

    def covers(self, when: datetime) -> bool:
        """Whether an eligible order placed at ``when`` is counted in the rolled-up days."""
        return when.astimezone(UTC).date() in self.days


def plan_window(conn: Connection, since: datetime, until: datetime) -> WindowPlan:
    """Which full days of [since, until] can be read from the roll-ups (rolled up and their
    count unchanged), and the raw spans covering the rest of the window exactly once."""
    first = since.astimezone(UTC).date()
    if _start(first) < since:
        first += ONE_DAY
    stop = until.astimezone(UTC).date()  # full days end at or before `until`
    rolled = _rolled_days(conn, first, stop) if first < stop else {}
    if rolled:
        counts = day_counts(conn, first, stop)
        days = sorted(d for d, n in rolled.items() if counts.get(d, 0) == n)
    else:
        days = []
    raw: list[exposures.Span] = []
    cursor = since
    for day in days:
        if cursor < _start(day):
            raw.append(exposures.Span(cursor, _start(day), closed=False))
        cursor = _start(day + ONE_DAY)
    raw.append(exposures.Span(cursor, until, closed=True))
    return WindowPlan(tuple(days), sum(rolled[d] for d in days), tuple(raw))


def rolled_up_counts(conn: Connection, days: Sequence[date]) -> dict[str, pd.DataFrame]:
    """Per kind, the candidates' exposed order counts summed over the days (columns "ref",
    "orders", refs ascending); one GROUP BY in SQL."""
    empty = np.zeros(0, np.int64)
    out = {kind: pd.DataFrame({"ref": empty, "orders": empty}) for kind in exposures.KINDS}
    if not days:
        return out
    wanted = set(days)
    lo, hi = min(wanted), max(wanted)
    skipped = [lo + k * ONE_DAY for k in range((hi - lo).days) if lo + k * ONE_DAY not in wanted]
    where = [_DAYS.c.day >= lo, _DAYS.c.day <= hi]  # a range, not 100 days listed
    if skipped:
        where.append(_DAYS.c.day.not_in(skipped))
    stmt = (
        select(_DAYS.c.kind, _DAYS.c.ref, func.sum(_DAYS.c.orders))
        .where(*where)
        .group_by(_DAYS.c.kind, _DAYS.c.ref)
    )
    rows = exposures.raw_rows(conn.execute(stmt))  # 50,000 rows: no Row objects
    if not rows:
        return out
    kinds = np.array([r[0] for r in rows])
    refs = np.array([r[1] for r in rows], dtype=np.int64)
    sums = np.array([r[2] for r in rows], dtype=np.int64)
    for kind in exposures.KINDS:
        mine = kinds == kind
        order = np.argsort(refs[mine], kind="stable")
        out[kind] = pd.DataFrame({"ref": refs[mine][order], "orders": sums[mine][order]})
    return out


def covered_orders(conn: Connection, order_ids: Iterable[int], plan: WindowPlan) -> list[int]:
    """Those of the given orders the plan's rolled-up days already count (eligible, placed on
    one of them): orders also read raw (the cases' own) that must not count twice."""
    ids = sorted({int(o) for o in order_ids})
    if not ids or not plan.days:
        return []
    stmt = (
        text("SELECT id, created_at, status FROM orders WHERE id IN :ids")
        .bindparams(bindparam("ids", ids, expanding=True))
        .columns(created_at=UTCDateTime())
    )
    return sorted(
        int(o)
        for o, at, status in conn.execute(stmt).all()
        if status not in exposures.NOT_EATEN and plan.covers(at)
    )
