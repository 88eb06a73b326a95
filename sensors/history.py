"""Judging many stored deliveries at once: read the boxes' readings in bulk, judge vectorised.

For reports and dashboards over a semester: one scan per device (through the unique
(device, at) index), readings assigned to deliveries by the binding history with
`searchsorted`, then sensors.judging.judge_deliveries - the same figures as
coldchain.judge_window gives one delivery at a time.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlmodel import Session, col, select

from columns import utcnow
from sensors import store
from sensors.judging import judge_deliveries
from sensors.models import Binding
from sensors.profiles import Profile
from sensors.records import to_micros

_NO_END = np.iinfo(np.int64).max


def _micros(values: pd.Series, fill: int) -> np.ndarray:
    """Tz-aware datetimes as epoch microseconds; NaT becomes `fill`."""
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        if values.isna().all():
            return np.full(len(values), fill, dtype=np.int64)
        raise ValueError(f"expected timezone-aware datetimes, got {values.dtype}")
    out = (
        values.dt.tz_convert("UTC").dt.as_unit("us").to_numpy(dtype="datetime64[us]").view(np.int64)
    )
    return np.where(values.isna().to_numpy(), fill, out)


def judge_stored_deliveries(
    *,
    session: Session,
    deliveries: pd.DataFrame,
    profile: Profile | str | None = None,
    now: datetime | None = None,
    max_gap: timedelta | None = None,
) -> pd.DataFrame:
    """Judge deliveries (columns delivery_id, box_id, pickup_at, dropoff_at - NaT while on the
    road - and food_class) on the readings of the devices in their boxes at the time.

    Returns sensors.judging.RESULT_COLUMNS, one row per delivery, in `deliveries` order.
    """
    now = now or utcnow()
    pick = _micros(deliveries["pickup_at"], 0)
    end = _micros(deliveries["dropoff_at"], to_micros(now))
    boxes = deliveries["box_id"].to_numpy()
    segments = _segments(session, sorted(set(boxes.tolist())))

    # (delivery row, device, lo, hi] pieces: a delivery's window clipped to each binding.
    rows, devices, los, his = [], [], [], []
    for box, box_segments in segments.items():
        mine = np.flatnonzero(boxes == box)
        for device, bound, ended in box_segments:
            lo = np.maximum(pick[mine], bound)
            hi = np.minimum(end[mine] + 1, ended)  # the window's end is inclusive
            keep = lo < hi
            rows.append(mine[keep])
            devices.append(np.full(int(keep.sum()), device, dtype=np.int64))
            los.append(lo[keep])
            his.append(hi[keep])
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    dev = np.concatenate(devices) if devices else np.zeros(0, np.int64)
    lo = np.concatenate(los) if los else np.zeros(0, np.int64)
    hi = np.concatenate(his) if his else np.zeros(0, np.int64)

    data = store.scan_devices(
        session.connection(),
        sorted(set(dev.tolist())),
        int(lo.min()) if len(lo) else 0,
        int(hi.max()) if len(hi) else 0,
    )
    # Position of each piece in the (device, at)-sorted scan.
    key_dev, key_at = data["device"], data["at"]
    first = np.searchsorted(key_dev, dev, side="left")
    last = np.searchsorted(key_dev, dev, side="right")
    start = np.empty(len(dev), np.int64)
    stop = np.empty(len(dev), np.int64)
    for d in np.unique(dev):
        pieces = dev == d
        a, b = int(first[pieces][0]), int(last[pieces][0])
        times = key_at[a:b]
        start[pieces] = a + np.searchsorted(times, lo[pieces], side="left")
        stop[pieces] = a + np.searchsorted(times, hi[pieces], side="left")
    lengths = stop - start
    offsets = np.cumsum(lengths) - lengths
    index = np.arange(int(lengths.sum())) - np.repeat(offsets, lengths) + np.repeat(start, lengths)
    readings = pd.DataFrame(
        {
            "delivery_id": deliveries["delivery_id"].to_numpy()[np.repeat(row, lengths)],
            "time": pd.to_datetime(key_at[index], unit="us", utc=True),
            "celsius": data["celsius"][index],
        }
    )
    return judge_deliveries(
        readings,
        deliveries[["delivery_id", "pickup_at", "dropoff_at", "food_class"]],
        profile=profile,
        max_gap=max_gap,
        now=now,
    )


def _segments(session: Session, boxes: list[str]) -> dict[str, list[tuple[int, int, int]]]:
    """box -> [(device, bound µs, ended µs or no end)] from the binding history."""
    out: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    if not boxes:
        return out
    stmt = select(Binding).where(col(Binding.box_id).in_(boxes)).order_by(col(Binding.bound_at))
    for b in session.exec(stmt).all():
        ended = _NO_END if b.ended_at is None else to_micros(b.ended_at)
        out[b.box_id].append((b.device, to_micros(b.bound_at), ended))
    return out
