"""Cold-chain rules: the profiles in ``profiles.json`` and the verdict on one delivery.

How a delivery is judged (the vectorised ``sensors.judging`` computes the same figures):

- Only readings with ``pickup_at <= time <= end`` count, where ``end`` is ``dropoff_at``, or
  ``now`` for a delivery still in progress. Readings outside the profile's physical limits are
  device errors: they are left out of every figure and counted in ``n_impossible``.
- ``n_readings``, ``min_c``, ``max_c`` and ``mean_c`` use every counted reading, duplicates
  included; ``mean_c`` is the plain (not time-weighted) arithmetic mean.
- For time figures, readings sharing one instant form one sample, judged by its worst reading.
  Each sample holds until the next sample (or ``end``), for at most ``max_gap``.
- ``minutes_outside`` adds up the holds of samples outside the safe range. An excursion is a run
  of consecutive outside samples with no spacing above ``max_gap``; it ends when its last sample's
  hold ends. A gap is a stretch longer than ``max_gap`` without a sample, counting from pickup
  to the first sample and from the last sample to ``end``; exactly ``max_gap`` is not a gap.
- Verdict: ``fail`` when the delivery took longer than the class's time limit (exactly the
  limit passes) or when time outside exceeds the tolerance (exactly the tolerance passes);
  otherwise ``insufficient_data`` when a temperature-controlled class has no readings or a gap;
  otherwise ``pass``. The ``ambient`` class has no temperature rule: only its time limit counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sensors.profiles import (
    FOOD_CLASSES,
    ClassRule,
    Profile,
    ProfileConfigError,
    SafeRange,
    UnknownFoodClass,
    UnknownProfile,
    get_profile,
    load_profiles,
    parse_profiles,
    physical_limits,
    policy,
)

__all__ = [  # the profile names are re-exported: callers import the rules from one place
    "FOOD_CLASSES",
    "ClassRule",
    "DeliveryVerdict",
    "Excursion",
    "Gap",
    "InvalidDeliveryWindow",
    "Profile",
    "ProfileConfigError",
    "Reason",
    "SafeRange",
    "UnknownFoodClass",
    "UnknownProfile",
    "delivery_window",
    "get_profile",
    "judge_delivery",
    "load_profiles",
    "parse_profiles",
    "physical_limits",
]

Verdict = Literal["pass", "fail", "insufficient_data"]

# Reason codes: the first two make a delivery fail, the next two make it insufficient_data.
DELIVERY_EXCEEDS_TIME_LIMIT = "delivery_exceeds_time_limit"
EXCURSION_TOTAL_EXCEEDS_LIMIT = "excursion_total_exceeds_limit"
NO_READINGS = "no_readings"
DATA_GAP = "data_gap"
IMPOSSIBLE_READINGS = "impossible_readings"
FAIL_CODES = frozenset({DELIVERY_EXCEEDS_TIME_LIMIT, EXCURSION_TOTAL_EXCEEDS_LIMIT})
MISSING_DATA_CODES = frozenset({NO_READINGS, DATA_GAP})

_ONE_MINUTE = timedelta(minutes=1)


class InvalidDeliveryWindow(ValueError):
    """Pickup/drop-off/now do not form a valid, timezone-aware window."""


@dataclass(frozen=True, slots=True)
class Excursion:
    """A continuous stretch outside the safe range; ``peak_c`` is the reading furthest out."""

    start: datetime
    end: datetime
    peak_c: float
    minutes: float


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch longer than ``max_gap`` with no reading."""

    start: datetime
    end: datetime
    minutes: float


@dataclass(frozen=True, slots=True)
class Reason:
    """One finding: a short machine code and a human message."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class DeliveryVerdict:
    """Everything the cold-chain judge found about one delivery."""

    profile: str
    food_class: str
    window_start: datetime
    window_end: datetime
    in_progress: bool
    excursion_in_progress: bool
    n_readings: int
    n_impossible: int
    min_c: float | None
    max_c: float | None
    mean_c: float | None
    minutes_outside: float
    excursions: tuple[Excursion, ...]
    gaps: tuple[Gap, ...]
    verdict: Verdict
    reasons: tuple[Reason, ...]


def delivery_window(
    pickup_at: datetime, dropoff_at: datetime | None, now: datetime | None
) -> tuple[datetime, bool]:
    """The window's end and whether the delivery is still in progress; validates the window."""
    end = dropoff_at if dropoff_at is not None else now
    if end is None:
        raise InvalidDeliveryWindow("an open delivery (no drop-off) needs `now`")
    if pickup_at.tzinfo is None or end.tzinfo is None:
        raise InvalidDeliveryWindow("pickup, drop-off and now must be timezone-aware")
    if end < pickup_at:
        raise InvalidDeliveryWindow(f"window ends ({end.isoformat()}) before pickup")
    return end, dropoff_at is None


def _samples(
    readings: Iterable[tuple[datetime, float]], start: datetime, end: datetime, profile: Profile
) -> tuple[list[float], int, list[tuple[datetime, list[float]]]]:
    """Counted values, the number of impossible ones, and the values grouped per instant."""
    values: list[float] = []
    impossible = 0
    per_instant: dict[datetime, list[float]] = {}
    for time, celsius in readings:
        if time.tzinfo is None:
            raise ValueError(f"reading time {time.isoformat()} is not timezone-aware")
        if not start <= time <= end:
            continue
        if not profile.physical_min_c <= celsius <= profile.physical_max_c:
            impossible += 1  # also catches NaN, which no comparison admits
            continue
        values.append(celsius)
        per_instant.setdefault(time, []).append(celsius)
    return values, impossible, sorted(per_instant.items())


def judge_delivery(
    readings: Iterable[tuple[datetime, float]],
    *,
    pickup_at: datetime,
    dropoff_at: datetime | None,
    food_class: str,
    profile: Profile | str | None,
    max_gap: timedelta | None = None,
    now: datetime | None = None,
    tolerance: timedelta | None = None,
) -> DeliveryVerdict:
    """Judge one delivery's (time, °C) readings against a profile (see module docstring).

    ``profile`` None is the configured default; ``max_gap`` None is the configured data-gap
    interval; ``tolerance`` overrides the profile's ``excursion_tolerance``; readings may come
    in any order and with duplicates; times must be timezone-aware.
    """
    prof = get_profile(profile)
    max_gap = policy().max_gap if max_gap is None else max_gap
    rule = prof.rule(food_class)
    tol = prof.excursion_tolerance if tolerance is None else tolerance
    end, in_progress = delivery_window(pickup_at, dropoff_at, now)
    values, n_impossible, instants = _samples(readings, pickup_at, end, prof)
    safe = rule.safe

    excursions: list[Excursion] = []
    gaps: list[Gap] = []
    outside_total = timedelta(0)
    previous = pickup_at
    run: tuple[datetime, float, float] | None = None  # (start, peak value, peak excess)
    last_outside = False
    for i, (time, group) in enumerate(instants):
        if time - previous > max_gap:
            gaps.append(Gap(previous, time, (time - previous) / _ONE_MINUTE))
            if run is not None:  # a gap breaks an excursion
                excursions.append(_close(run, previous + max_gap))
                run = None
        hold = min((instants[i + 1][0] if i + 1 < len(instants) else end) - time, max_gap)
        worst = safe.worst_of(group) if safe else group[0]
        last_outside = safe is not None and not safe.contains(worst)
        if last_outside and safe is not None:
            outside_total += hold
            excess = safe.excess(worst)
            if run is None:
                run = (time, worst, excess)
            elif excess > run[2]:
                run = (run[0], worst, excess)
        elif run is not None:
            excursions.append(_close(run, time))
            run = None
        previous = time
    if run is not None:
        excursions.append(_close(run, previous + min(end - previous, max_gap)))
    if end - previous > max_gap:
        gaps.append(Gap(previous, end, (end - previous) / _ONE_MINUTE))

    reasons = _reasons(
        rule, end - pickup_at, outside_total, tol, len(values), len(gaps), n_impossible
    )
    codes = {r.code for r in reasons}
    verdict: Verdict = "pass"
    if codes & FAIL_CODES:
        verdict = "fail"
    elif codes & MISSING_DATA_CODES:
        verdict = "insufficient_data"
    return DeliveryVerdict(
        profile=prof.name,
        food_class=food_class,
        window_start=pickup_at,
        window_end=end,
        in_progress=in_progress,
        excursion_in_progress=in_progress and last_outside,
        n_readings=len(values),
        n_impossible=n_impossible,
        min_c=min(values) if values else None,
        max_c=max(values) if values else None,
        mean_c=math.fsum(values) / len(values) if values else None,
        minutes_outside=outside_total / _ONE_MINUTE,
        excursions=tuple(excursions),
        gaps=tuple(gaps),
        verdict=verdict,
        reasons=tuple(reasons),
    )


def _close(run: tuple[datetime, float, float], end: datetime) -> Excursion:
    return Excursion(start=run[0], end=end, peak_c=run[1], minutes=(end - run[0]) / _ONE_MINUTE)


def _reasons(
    rule: ClassRule,
    duration: timedelta,
    outside: timedelta,
    tolerance: timedelta,
    n_readings: int,
    n_gaps: int,
    n_impossible: int,
) -> list[Reason]:
    reasons = []
    if rule.max_delivery is not None and duration > rule.max_delivery:
        reasons.append(
            Reason(
                DELIVERY_EXCEEDS_TIME_LIMIT,
                f"pickup to drop-off took {duration / _ONE_MINUTE:g} min, "
                f"limit {rule.max_delivery / _ONE_MINUTE:g} min",
            )
        )
    if rule.safe is not None and outside > tolerance:
        reasons.append(
            Reason(
                EXCURSION_TOTAL_EXCEEDS_LIMIT,
                f"{outside / _ONE_MINUTE:g} min outside the safe range, "
                f"tolerance {tolerance / _ONE_MINUTE:g} min",
            )
        )
    if rule.safe is not None and n_readings == 0:
        reasons.append(Reason(NO_READINGS, "no usable temperature reading in the delivery"))
    if rule.safe is not None and n_gaps:
        reasons.append(Reason(DATA_GAP, f"{n_gaps} stretch(es) without readings"))
    if n_impossible:
        reasons.append(
            Reason(IMPOSSIBLE_READINGS, f"{n_impossible} physically impossible reading(s) ignored")
        )
    return reasons
