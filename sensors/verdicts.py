"""Stored verdicts of finished deliveries: a derived cache so dashboards need not re-judge.

`judge_finished` judges, for every profile in profiles.json, the deliveries dropped off more
than SETTLE ago that have no stored verdict (or a stale one), in bulk with
sensors.history.judge_stored_deliveries, and upserts one StoredVerdict row each. The rows
are not facts: `ledger verify` does not project them, and case pages and PDFs keep judging
from the raw readings. A late reading (sensors.ingest) inside a stored window marks the row
stale (`mark_late`); the next run judges it again.

The dashboard reads counts per merchant or courier over an order period (`period_counts`,
one index range per merchant/courier and verdict) and judges on the fly only `unjudged` ones:
recent orders' deliveries without a verdict and stale rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, bindparam, or_, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from columns import UTCDateTime, utcnow
from orders.models import Delivery, Order
from sensors import store
from sensors.history import judge_stored_deliveries
from sensors.models import StoredVerdict
from sensors.profiles import get_profile, load_profiles
from sensors.records import to_micros

# A delivery is judged once dropped off this long ago. It is also the ingest guard: a batch
# whose readings are all newer than now - SETTLE cannot touch a stored window, so a run may
# wait longer (settle >= SETTLE) but never less.
SETTLE = timedelta(minutes=10)
# The periodic task and the dashboard look for unjudged deliveries among orders this recent;
# older ones are judged by `flask sensors judge-finished` (after a restore or an outage).
LOOKBACK = timedelta(days=2)
TASK_LIMIT = 20_000  # deliveries judged per profile per task run
STALE = "stale"
VERDICTS = ("pass", "fail", "insufficient_data")  # what sensors.judging returns

_DELIVERY_COLUMNS = [
    "delivery_id",
    "box_id",
    "pickup_at",
    "dropoff_at",
    "food_class",
    "courier_id",
    "merchant_id",
    "ordered_at",
]


def profile_names() -> list[str]:
    """Every configured profile (GB 31654, FDA, ...), in a stable order."""
    return sorted(load_profiles())


# --------------------------------------------------------------------------- judging


def judge_finished(
    *,
    session: Session,
    now: datetime | None = None,
    settle: timedelta = SETTLE,
    lookback: timedelta | None = LOOKBACK,
    limit: int | None = TASK_LIMIT,
    profiles: Sequence[str] | None = None,
) -> int:
    """Judge and store finished deliveries without a current verdict; commits per chunk.

    `lookback` None: every order ever (the CLI), else orders created since now - lookback
    (plus stale rows of any age). `limit` bounds the deliveries judged per profile (None: all,
    in chunks of TASK_LIMIT). Returns how many verdicts were written.
    """
    if settle < SETTLE:
        raise ValueError(f"settle must be at least {SETTLE} (the ingest guard)")
    now = now or utcnow()
    horizon = now - settle
    since = None if lookback is None else now - lookback
    written = 0
    for name in profiles or profile_names():
        get_profile(name)  # raises UnknownProfile early
        after, left = 0, limit
        while left is None or left > 0:
            size = TASK_LIMIT if left is None else min(left, TASK_LIMIT)
            frame = _candidates(session, name, horizon, since, after, size)
            if frame.empty:
                break
            written += _judge_and_store(session, name, frame, now)
            after = int(frame["delivery_id"].max())
            if left is not None:
                left -= len(frame)
            if len(frame) < size:
                break
    return written


def _candidates(
    session: Session,
    profile: str,
    horizon: datetime,
    since: datetime | None,
    after: int,
    size: int,
) -> pd.DataFrame:
    """Finished deliveries (id > after, by id) without a verdict for `profile`, or stale."""
    stmt = (
        _without_verdict(profile)
        .where(
            col(Delivery.box_id).is_not(None),
            col(Delivery.picked_up_at).is_not(None),
            col(Delivery.dropped_off_at).is_not(None),
            col(Delivery.dropped_off_at) < horizon,
        )
        .limit(size)
    )
    if after:  # ids past a chunk are newer deliveries: a short walk of the primary key
        stmt = stmt.where(col(Delivery.id) > after)
    if since is None:
        return _deliveries(session, stmt.order_by(col(Delivery.id)))
    # "+ 0": reach the few recent orders through their created_at index and sort them,
    # rather than walking every delivery by id (what ORDER BY id ... LIMIT invites).
    stmt = stmt.where(col(Order.created_at) >= since).order_by(col(Delivery.id) + 0)
    stale = _stale(profile).where(col(Delivery.dropped_off_at) < horizon, col(Delivery.id) > after)
    merged = _merged(
        _deliveries(session, stmt),
        _deliveries(session, stale.order_by(col(Delivery.id)).limit(size)),
    )
    return merged.sort_values("delivery_id", ignore_index=True).head(size)


def _without_verdict(profile: str) -> Any:
    """Deliveries (with their order) that have no current verdict under `profile`: none
    stored, or a stale one."""
    return (
        select(*_selected())
        .join(Order, col(Order.id) == col(Delivery.order_id))
        .outerjoin(
            StoredVerdict,
            (col(StoredVerdict.delivery_id) == col(Delivery.id))
            & (col(StoredVerdict.profile) == profile),
        )
        .where(or_(col(StoredVerdict.delivery_id).is_(None), StoredVerdict.verdict == STALE))
    )


def _stale(profile: str) -> Any:
    """Deliveries (with their order) whose stored verdict under `profile` is stale."""
    return (
        select(*_selected())
        .join(Order, col(Order.id) == col(Delivery.order_id))
        .join(StoredVerdict, col(StoredVerdict.delivery_id) == col(Delivery.id))
        .where(StoredVerdict.verdict == STALE, StoredVerdict.profile == profile)
    )


def _merged(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Both frames' deliveries, each once (the first's row kept)."""
    if second.empty:
        return first
    both = pd.concat([first, second]) if not first.empty else second
    return both.drop_duplicates("delivery_id", ignore_index=True)


def _selected() -> list[Any]:
    return [
        col(Delivery.id),
        col(Delivery.box_id),
        col(Delivery.picked_up_at),
        col(Delivery.dropped_off_at),
        col(Delivery.food_class),
        col(Delivery.courier_id),
        col(Order.merchant_id),
        col(Order.created_at),
    ]


def _deliveries(session: Session, stmt: Any) -> pd.DataFrame:
    rows = session.exec(stmt).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=_DELIVERY_COLUMNS)
    for name in ("pickup_at", "dropoff_at", "ordered_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def judge_frame(
    session: Session, frame: pd.DataFrame, profile: str | None, now: datetime
) -> pd.DataFrame:
    """sensors.judging.RESULT_COLUMNS for deliveries shaped like `_candidates`' frames."""
    return judge_stored_deliveries(
        session=session,
        deliveries=frame[["delivery_id", "box_id", "pickup_at", "dropoff_at", "food_class"]],
        profile=profile,
        now=now,
    )


def _judge_and_store(session: Session, profile: str, frame: pd.DataFrame, now: datetime) -> int:
    """Judge one chunk and upsert its rows, in one transaction (committed here)."""
    try:
        conn = session.connection()
        _share_devices(conn, sorted(set(frame["box_id"])))
        judged = judge_frame(session, frame, profile, now)
        rows = _rows(profile, frame, judged, now)
        _upsert(conn, rows)
    except Exception:
        session.rollback()
        raise
    session.commit()
    return len(rows)


def _share_devices(conn: Connection, boxes: list[str]) -> None:
    """PostgreSQL: hold the boxes' devices FOR SHARE until commit, so an ingest of late
    readings (which locks them FOR UPDATE, then marks verdicts stale) runs wholly before or
    after this judging. SQLite's BEGIN IMMEDIATE already serialises the two."""
    if not store.is_postgresql(conn) or not boxes:
        return
    conn.execute(_share, {"boxes": boxes}).all()


_share = text(
    "SELECT id FROM sensor_devices WHERE id IN "
    "(SELECT device FROM sensor_bindings WHERE box_id IN :boxes) ORDER BY id FOR SHARE"
).bindparams(bindparam("boxes", expanding=True))


def _rows(
    profile: str, frame: pd.DataFrame, judged: pd.DataFrame, now: datetime
) -> list[dict[str, Any]]:
    merged = frame.merge(judged, on="delivery_id")
    out = []
    for r in merged.itertuples(index=False):
        out.append(
            {
                "delivery_id": int(r.delivery_id),
                "profile": profile,
                "verdict": str(r.verdict),
                "n_readings": int(r.n_readings),
                "min_c": None if pd.isna(r.min_c) else float(r.min_c),
                "max_c": None if pd.isna(r.max_c) else float(r.max_c),
                "mean_c": None if pd.isna(r.mean_c) else float(r.mean_c),
                "minutes_outside": float(r.minutes_outside),
                "n_excursions": int(r.n_excursions),
                "n_gaps": int(r.n_gaps),
                "exceeds_time_limit": bool(r.exceeds_time_limit),
                "box_id": str(r.box_id),
                "window_lo": to_micros(r.pickup_at.to_pydatetime()),
                "window_hi": to_micros(r.dropoff_at.to_pydatetime()),
                "merchant_id": int(r.merchant_id),
                "courier_id": int(r.courier_id),
                "ordered_at": r.ordered_at.to_pydatetime(),
                "judged_at": now,
            }
        )
    out.sort(key=lambda row: row["delivery_id"])  # one lock order for concurrent runs
    return out


def _upsert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    insert = postgresql.insert if store.is_postgresql(conn) else sqlite.insert
    stmt = insert(StoredVerdict)
    keys = ("delivery_id", "profile")
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: stmt.excluded[c] for c in rows[0] if c not in keys},
    )
    conn.execute(stmt, rows)


# --------------------------------------------------------------------------- late readings


def mark_late(
    conn: Connection, windows: dict[int, tuple[int, int]], *, now: datetime | None = None
) -> int:
    """Mark stale the stored verdicts whose window (in the boxes these devices sat in) holds
    a newly stored reading; `windows` maps device -> (first, last) µs of its new readings.

    Cheap by design: nothing at all unless the earliest new reading is older than
    now - SETTLE (no younger reading can fall in a stored window), else one statement through
    the (box_id, window_hi) index. Returns the rows marked.
    """
    if not windows:
        return 0
    lo = min(w[0] for w in windows.values())
    if lo >= to_micros((now or utcnow()) - SETTLE):
        return 0
    hi = max(w[1] for w in windows.values())
    params = {
        "devices": sorted(windows),
        "lo": lo,
        "hi": hi,
        "lo_at": _from_micros(lo),
        "hi_at": _from_micros(hi),
    }
    return int(conn.execute(_mark_stale, params).rowcount or 0)


# Prebuilt (a Core update built per call cost ~0.5 ms of Python on every late batch).
_mark_stale = text(
    "UPDATE delivery_verdicts SET verdict = 'stale' WHERE box_id IN "
    "(SELECT box_id FROM sensor_bindings WHERE device IN :devices AND bound_at <= :hi_at "
    "AND (ended_at IS NULL OR ended_at >= :lo_at)) "
    "AND window_hi >= :lo AND window_lo <= :hi AND verdict <> 'stale'"
).bindparams(
    bindparam("devices", expanding=True),
    bindparam("lo_at", type_=UTCDateTime()),
    bindparam("hi_at", type_=UTCDateTime()),
)


def _from_micros(us: int) -> datetime:
    return pd.Timestamp(us, unit="us", tz="UTC").to_pydatetime()


# --------------------------------------------------------------------------- dashboard reads


def period_counts(
    *,
    session: Session,
    profile: str,
    since: datetime,
    until: datetime,
    by: str,
    merchant_id: int | None = None,
) -> pd.DataFrame:
    """Stored verdicts (not stale) of orders created in [since, until), counted per `by`
    ("merchant_id" or "courier_id") and verdict: columns by, verdict, n (n > 0).

    Counted one index range per (merchant or courier, verdict): no per-delivery rows leave
    the database and no sort is needed, whatever the period's size.
    """
    if by not in ("merchant_id", "courier_id"):
        raise ValueError(f"cannot count verdicts by {by!r}")
    params: dict[str, Any] = {"profile": profile, "since": since, "until": until}
    if merchant_id is not None:
        params["merchant"] = merchant_id
        if by == "merchant_id":
            keys = "SELECT :merchant AS k"
        else:
            sql = _GROUPED.format(by=by)
            rows = session.connection().execute(_typed(sql), params).all()
            return _counts(rows, by)
    else:
        keys = _LOOSE.format(by=by)
    counts = ", ".join(_COUNT.format(by=by, i=i, extra="") for i in range(len(VERDICTS)))
    sql = f"WITH RECURSIVE keys(k) AS ({keys}) SELECT k, {counts} FROM keys WHERE k IS NOT NULL"  # noqa: S608
    params.update({f"v{i}": v for i, v in enumerate(VERDICTS)})
    rows = [
        (k, verdict, n)
        for k, *ns in session.connection().execute(_typed(sql), params).all()
        for verdict, n in zip(VERDICTS, ns, strict=True)
    ]
    return _counts(rows, by)


# The distinct keys of an index by a loose index scan (one seek per key), on both databases.
_LOOSE = (
    "SELECT min({by}) FROM delivery_verdicts WHERE profile = :profile "
    "UNION ALL SELECT (SELECT min({by}) FROM delivery_verdicts "
    "WHERE profile = :profile AND {by} > keys.k) FROM keys WHERE keys.k IS NOT NULL"
)
_COUNT = (
    "(SELECT count(*) FROM delivery_verdicts v WHERE v.profile = :profile AND v.{by} = keys.k "
    "AND v.verdict = :v{i} AND v.ordered_at >= :since AND v.ordered_at < :until{extra})"
)
# One merchant's rows through the merchant index ("+ 0" keeps the planner from walking the
# whole courier index to group without sorting).
_GROUPED = (
    "SELECT {by} + 0, verdict, count(*) FROM delivery_verdicts WHERE profile = :profile "
    "AND merchant_id = :merchant AND ordered_at >= :since AND ordered_at < :until "
    "AND verdict <> 'stale' GROUP BY {by} + 0, verdict"
)


def _typed(sql: str) -> Any:
    return text(sql).bindparams(
        bindparam("since", type_=UTCDateTime()), bindparam("until", type_=UTCDateTime())
    )


def _counts(rows: Iterable[Any], by: str) -> pd.DataFrame:
    frame = pd.DataFrame([tuple(r) for r in rows], columns=[by, "verdict", "n"])
    frame = frame[frame["n"] > 0].astype({by: "int64", "n": "int64"})
    return frame.reset_index(drop=True)


def unjudged(
    *,
    session: Session,
    profile: str,
    since: datetime,
    until: datetime,
    now: datetime,
    lookback: timedelta | None = LOOKBACK,
    merchant_id: int | None = None,
    limit: int = 50_000,
) -> pd.DataFrame:
    """Deliveries of orders created in [since, until) the dashboard judges on the fly:
    those of orders since now - lookback (None: any) with a box and a pickup but no current
    verdict (on the road, settling, or not reached yet), and stale ones of any age; at most
    `limit`, with the columns of `_candidates`."""
    where: list[Any] = [
        col(Order.created_at) >= since,
        col(Order.created_at) < until,
        col(Delivery.box_id).is_not(None),
        col(Delivery.picked_up_at).is_not(None),
    ]
    if merchant_id is not None:
        where.append(Order.merchant_id == merchant_id)
    recent = list(where)
    if lookback is not None and now - lookback > since:  # one lower bound for the index range
        recent[0] = col(Order.created_at) >= now - lookback
    fresh = _deliveries(session, _without_verdict(profile).where(*recent).limit(limit))
    stale_where = [
        col(StoredVerdict.ordered_at) >= since,
        col(StoredVerdict.ordered_at) < until,
    ]
    if merchant_id is not None:
        stale_where.append(StoredVerdict.merchant_id == merchant_id)
    stale = _deliveries(session, _stale(profile).where(*stale_where).limit(limit))
    return _merged(fresh, stale).head(limit)
