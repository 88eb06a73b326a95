"""The cold chain of deliveries: the seam the orders module calls, and alerts while on the road.

Deliveries belong to the orders module. It tells this module which box carries a delivery from
pickup (`watch_delivery`) to drop-off (`end_watch`); the readings that count are those of the
device(s) bound to that box at the time (`box_readings`), judged by sensors.rules
(`judge_window`). When an ingested batch leaves a watched delivery in an excursion, the
`sensors.evaluate_alerts` task calls `evaluate_alerts`: one alert per delivery and excursion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import ledger
from columns import utcnow
from ledger.canonical import rfc3339
from sensors import store
from sensors.models import Alert, Binding, Device, Watch
from sensors.profiles import FOOD_CLASSES, Profile, get_profile
from sensors.records import from_micros, to_micros
from sensors.rules import DeliveryVerdict, judge_delivery
from sensors.service import check_id


class WatchError(ValueError):
    """A watch request that cannot be carried out; the message says why."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class WatchConflict(WatchError):
    """The delivery is already watched (or ended) with other values."""


class WatchNotFound(LookupError):
    """No watch for that delivery."""


@dataclass(frozen=True, slots=True)
class Segment:
    """A device's readings count for a box from `start` (inclusive) to `end` (exclusive)."""

    device: int
    start: datetime
    end: datetime


def segments(*, session: Session, box_id: str, start: datetime, end: datetime) -> list[Segment]:
    """Which device sat in the box when, clipped to [start, end]."""
    stmt = (
        select(Binding)
        .where(Binding.box_id == box_id, Binding.bound_at <= end)
        .where(or_(col(Binding.ended_at).is_(None), col(Binding.ended_at) > start))
        .order_by(col(Binding.bound_at))
    )
    out = []
    for b in session.exec(stmt).all():
        out.append(Segment(b.device, max(start, b.bound_at), min(end, b.ended_at or end)))
    return out


def box_readings(
    *, session: Session, box_id: str, start: datetime, end: datetime
) -> list[tuple[datetime, float]]:
    """(time, °C) of the readings taken in the box between start and end inclusive, by time."""
    conn = session.connection()
    points: list[tuple[int, float]] = []
    for seg in segments(session=session, box_id=box_id, start=start, end=end):
        # A binding's end is exclusive, the window's end inclusive.
        hi = to_micros(seg.end) + (1 if seg.end == end else 0)
        points += store.device_window(conn, seg.device, to_micros(seg.start), hi)
    points.sort()
    return [(from_micros(at), celsius) for at, celsius in points]


def device_in_box(*, session: Session, box_id: str, at: datetime) -> Device | None:
    """The device bound to the box at that instant, if any."""
    found = segments(session=session, box_id=box_id, start=at, end=at)
    return session.get(Device, found[-1].device) if found else None


def judge_window(
    *,
    session: Session,
    box_id: str,
    pickup_at: datetime,
    dropoff_at: datetime | None,
    food_class: str,
    profile: Profile | str | None = None,
    now: datetime | None = None,
) -> DeliveryVerdict:
    """Judge the box's readings from pickup to drop-off (or now, while on the road).

    ``profile`` None is the configured default; callers holding the deployment settings pass
    ``settings.cold_chain_profile``.
    """
    now = now or utcnow()
    end = dropoff_at or max(now, pickup_at)
    readings = box_readings(session=session, box_id=box_id, start=pickup_at, end=end)
    return judge_delivery(
        readings,
        pickup_at=pickup_at,
        dropoff_at=dropoff_at,
        food_class=food_class,
        profile=profile,
        now=end,
    )


def get_watch(*, session: Session, delivery_id: int) -> Watch:
    """The watch of a delivery; raises WatchNotFound."""
    watch = session.get(Watch, delivery_id)
    if watch is None:
        raise WatchNotFound(f"delivery {delivery_id} is not watched")
    return watch


def watch_delivery(
    *,
    session: Session,
    delivery_id: int,
    box_id: str,
    pickup_at: datetime,
    food_class: str,
    merchant_id: int | None,
    actor: str = "system",
) -> Watch:
    """Start watching a delivery picked up in `box_id` (orders calls this at pickup).

    Calling it again with the same values returns the existing watch (safe to retry).
    """
    check_id(box_id, "box_id")
    if food_class not in FOOD_CLASSES:
        raise WatchError(f"food_class must be one of {', '.join(FOOD_CLASSES)}", field="food_class")
    if pickup_at.tzinfo is None:
        raise WatchError("pickup_at must be timezone-aware", field="pickup_at")
    existing = session.get(Watch, delivery_id)
    if existing is not None:
        same = (existing.box_id, existing.food_class, existing.merchant_id, existing.pickup_at)
        if same == (box_id, food_class, merchant_id, pickup_at):
            return existing
        raise WatchConflict(f"delivery {delivery_id} is already watched", field="delivery_id")
    watch = Watch(
        delivery_id=delivery_id,
        box_id=box_id,
        merchant_id=merchant_id,
        food_class=food_class,
        pickup_at=pickup_at,
    )
    session.add(watch)
    payload = {
        "box_id": box_id,
        "merchant_id": merchant_id,
        "food_class": food_class,
        "pickup_at": pickup_at,
        "dropoff_at": None,
    }
    entry = ledger.append(
        session,
        ledger.Event(
            "sensor.watch_started", payload, actor=actor, subject={"delivery": delivery_id}
        ),
    )
    watch.ledger_index = entry.index
    session.commit()
    return watch


def end_watch(
    *, session: Session, delivery_id: int, dropoff_at: datetime, actor: str = "system"
) -> Watch:
    """Stop watching a delivery at drop-off (orders calls this); safe to retry."""
    watch = get_watch(session=session, delivery_id=delivery_id)
    if dropoff_at.tzinfo is None:
        raise WatchError("dropoff_at must be timezone-aware", field="dropoff_at")
    if watch.dropoff_at is not None:
        if watch.dropoff_at == dropoff_at:
            return watch
        raise WatchConflict(f"delivery {delivery_id} was dropped off already", field="dropoff_at")
    if dropoff_at < watch.pickup_at:
        raise WatchError("drop-off is before pickup", field="dropoff_at")
    watch.dropoff_at = dropoff_at
    entry = ledger.append(
        session,
        ledger.Event(
            "sensor.watch_ended",
            {"dropoff_at": dropoff_at},
            actor=actor,
            subject={"delivery": delivery_id},
        ),
    )
    watch.ledger_index = entry.index
    session.add(watch)
    session.commit()
    return watch


@dataclass(frozen=True, slots=True)
class Span:
    """A delivery's time in a box, pickup to drop-off (None: still on the road), for the bulk
    path: `span_events` and `record_spans` write what `watch_delivery` and `end_watch` write."""

    delivery_id: int
    box_id: str
    food_class: str
    merchant_id: int | None
    pickup_at: datetime
    dropoff_at: datetime | None
    actor: str = "system"


def span_events(
    *, session: Session, spans: Sequence[Span]
) -> list[tuple[ledger.Event, ledger.Event | None]]:
    """Check spans of deliveries not watched yet and return each one's entries: the
    `sensor.watch_started` of `watch_delivery` and the `sensor.watch_ended` of `end_watch` (None
    while on the road), with the same payloads, subjects and actors. The caller appends them
    (in its own order, with its other entries, in one `ledger.append_many`) and then calls
    `record_spans` with the indexes, in the same transaction. Raises WatchError (or
    WatchConflict for a delivery already watched) before anything is written."""
    out: list[tuple[ledger.Event, ledger.Event | None]] = []
    for span in spans:
        check_id(span.box_id, "box_id")
        if span.food_class not in FOOD_CLASSES:
            message = f"food_class must be one of {', '.join(FOOD_CLASSES)}"
            raise WatchError(message, field="food_class")
        if span.pickup_at.tzinfo is None:
            raise WatchError("pickup_at must be timezone-aware", field="pickup_at")
        ended = None
        if span.dropoff_at is not None:
            if span.dropoff_at.tzinfo is None:
                raise WatchError("dropoff_at must be timezone-aware", field="dropoff_at")
            if span.dropoff_at < span.pickup_at:
                raise WatchError("drop-off is before pickup", field="dropoff_at")
            ended = ledger.Event(
                "sensor.watch_ended",
                {"dropoff_at": rfc3339(span.dropoff_at)},  # as recorded: plain JSON
                actor=span.actor,
                subject={"delivery": span.delivery_id},
            )
        started = ledger.Event(
            "sensor.watch_started",
            {
                "box_id": span.box_id,
                "merchant_id": span.merchant_id,
                "food_class": span.food_class,
                "pickup_at": rfc3339(span.pickup_at),
                "dropoff_at": None,
            },
            actor=span.actor,
            subject={"delivery": span.delivery_id},
        )
        out.append((started, ended))
    ids = [span.delivery_id for span in spans]
    if len(set(ids)) != len(ids):
        raise WatchConflict("a delivery appears twice", field="delivery_id")
    if ids:
        taken = session.exec(select(Watch.delivery_id).where(col(Watch.delivery_id).in_(ids)))
        first = taken.first()
        if first is not None:
            raise WatchConflict(f"delivery {first} is already watched", field="delivery_id")
    return out


def record_spans(*, session: Session, spans: Sequence[Span], indexes: Sequence[int]) -> None:
    """Insert the watch rows of spans checked by `span_events`; `indexes[i]` is the ledger
    index of span i's last entry (its watch_ended, or its watch_started while on the road).
    One executemany; the caller commits."""
    if len(indexes) != len(spans):
        raise ValueError("one ledger index per span")
    if not spans:
        return
    table = Watch.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "delivery_id": s.delivery_id,
            "box_id": s.box_id,
            "merchant_id": s.merchant_id,
            "food_class": s.food_class,
            "pickup_at": s.pickup_at,
            "dropoff_at": s.dropoff_at,
            "ledger_index": index,
        }
        for s, index in zip(spans, indexes, strict=True)
    ]
    session.connection().execute(table.insert(), rows)


def watch_many(*, session: Session, spans: Sequence[Span]) -> list[int]:
    """Watch (and, where a drop-off is given, end) many deliveries in one write: the same rows
    and entries as `watch_delivery` (+ `end_watch`) per span, in span order. Returns each
    span's last ledger index. Does not commit: the caller's transaction owns it."""
    pairs = span_events(session=session, spans=spans)
    events = [e for pair in pairs for e in pair if e is not None]
    entries = ledger.append_many(session, events)
    indexes, at = [], -1
    for _started, ended in pairs:
        at += 2 if ended is not None else 1
        indexes.append(entries[at].index)
    record_spans(session=session, spans=spans, indexes=indexes)
    return indexes


def open_watches_for(*, session: Session, device: int) -> list[Watch]:
    """Deliveries still on the road in a box this device sits in now."""
    box = session.exec(select(Device.box_id).where(Device.id == device)).first()
    if box is None:
        return []
    stmt = select(Watch).where(Watch.box_id == box, col(Watch.dropoff_at).is_(None))
    return list(session.exec(stmt).all())


def evaluate_alerts(
    *,
    session: Session,
    device: int,
    profile: Profile | str | None = None,
    now: datetime | None = None,
) -> list[Alert]:
    """Raise an alert for each watched delivery in this device's box whose excursion is in
    progress, unless that excursion already has one; returns the new alerts (committed)."""
    now = now or utcnow()
    prof = get_profile(profile)
    raised = []
    for watch in open_watches_for(session=session, device=device):
        verdict = judge_window(
            session=session,
            box_id=watch.box_id,
            pickup_at=watch.pickup_at,
            dropoff_at=None,
            food_class=watch.food_class,
            profile=prof,
            now=now,
        )
        if not verdict.excursion_in_progress or not verdict.excursions:
            continue
        excursion = verdict.excursions[-1]
        if _alerted(session, watch.delivery_id, excursion.start, excursion.end):
            continue
        raised.append(_raise(session, watch, prof.name, excursion.start, excursion.peak_c))
    if not raised:
        session.rollback()
        return []
    try:
        session.commit()
    except IntegrityError:  # a concurrent task raised the same alert first
        session.rollback()
        return []
    return raised


def _alerted(session: Session, delivery_id: int, start: datetime, end: datetime) -> bool:
    """Whether an alert exists for this excursion (its start may move earlier with late data)."""
    stmt = select(Alert.id).where(
        Alert.delivery_id == delivery_id,
        col(Alert.excursion_start) >= start,
        col(Alert.excursion_start) <= end,
    )
    return session.exec(stmt.limit(1)).first() is not None


def _raise(session: Session, watch: Watch, profile: str, start: datetime, peak: float) -> Alert:
    alert = Alert(
        delivery_id=watch.delivery_id,
        merchant_id=watch.merchant_id,
        box_id=watch.box_id,
        food_class=watch.food_class,
        profile=profile,
        excursion_start=start,
        peak_c=peak,
    )
    session.add(alert)
    session.flush()
    payload = {
        "delivery_id": alert.delivery_id,
        "merchant_id": alert.merchant_id,
        "box_id": alert.box_id,
        "food_class": alert.food_class,
        "profile": profile,
        "excursion_start": start,
        "peak_c": peak,
    }
    subject = {"alert": alert.id, "delivery": watch.delivery_id}
    entry = ledger.append(session, ledger.Event("sensor.alert_raised", payload, subject=subject))
    alert.ledger_index = entry.index
    session.add(alert)
    return alert


def recent_alerts(
    *, session: Session, merchant_id: int | None = None, limit: int = 50
) -> Sequence[Alert]:
    """Newest alerts first; only one merchant's when `merchant_id` is given."""
    stmt = select(Alert).order_by(col(Alert.raised_at).desc(), col(Alert.id).desc())
    if merchant_id is not None:
        stmt = stmt.where(Alert.merchant_id == merchant_id)
    return session.exec(stmt.limit(limit)).all()
