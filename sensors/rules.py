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

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, Literal

FOOD_CLASSES: tuple[str, ...] = ("hot", "cold", "frozen", "ambient")
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
# Safe-range keys in profiles.json -> (is an upper bound, is inclusive).
_BOUND_KEYS = {
    "above": (False, False),
    "at_least": (False, True),
    "below": (True, False),
    "at_most": (True, True),
}


class UnknownProfile(LookupError):
    """No cold-chain profile has this name."""


class UnknownFoodClass(LookupError):
    """The food class is not one of FOOD_CLASSES."""


class ProfileConfigError(ValueError):
    """The profile configuration data is malformed."""


class InvalidDeliveryWindow(ValueError):
    """Pickup/drop-off/now do not form a valid, timezone-aware window."""


@dataclass(frozen=True, slots=True)
class SafeRange:
    """The temperatures (°C) a food class must stay in; a missing bound is unbounded."""

    low: float | None = None
    low_inclusive: bool = False
    high: float | None = None
    high_inclusive: bool = False

    def contains(self, celsius: float) -> bool:
        """True when ``celsius`` is inside the range, honouring strict vs inclusive bounds."""
        if self.low is not None and not (
            celsius >= self.low if self.low_inclusive else celsius > self.low
        ):
            return False
        return self.high is None or (
            celsius <= self.high if self.high_inclusive else celsius < self.high
        )

    def excess(self, celsius: float) -> float:
        """How far (°C) ``celsius`` lies beyond the nearest violated bound; 0 when inside."""
        if self.contains(celsius):
            return 0.0
        below = self.low - celsius if self.low is not None else -math.inf
        above = celsius - self.high if self.high is not None else -math.inf
        return max(below, above, 0.0)

    def worst_of(self, values: Iterable[float]) -> float:
        """The value furthest outside the range; any outside value beats every inside one."""
        return max(values, key=lambda c: (not self.contains(c), self.excess(c)))


@dataclass(frozen=True, slots=True)
class ClassRule:
    """The rule for one food class in one profile."""

    safe: SafeRange | None
    max_delivery: timedelta | None
    source: str


@dataclass(frozen=True, slots=True)
class Profile:
    """A selectable set of cold-chain rules (e.g. GB 31654-2021 or the FDA Food Code)."""

    name: str
    title: str
    source: str
    excursion_tolerance: timedelta
    physical_min_c: float
    physical_max_c: float
    classes: Mapping[str, ClassRule]

    def rule(self, food_class: str) -> ClassRule:
        """The rule for ``food_class``; raises UnknownFoodClass."""
        try:
            return self.classes[food_class]
        except KeyError:
            raise UnknownFoodClass(
                f"unknown food class {food_class!r}; expected one of {', '.join(FOOD_CLASSES)}"
            ) from None


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


def _parse_safe(spec: Mapping[str, Any] | None) -> SafeRange | None:
    if spec is None:
        return None
    low: tuple[float, bool] | None = None
    high: tuple[float, bool] | None = None
    for key, value in spec.items():
        if key not in _BOUND_KEYS or isinstance(value, bool) or not isinstance(value, int | float):
            raise ProfileConfigError(f"bad safe-range bound {key!r}: {value!r}")
        is_upper, inclusive = _BOUND_KEYS[key]
        if (high if is_upper else low) is not None:
            raise ProfileConfigError(f"two {'upper' if is_upper else 'lower'} bounds in {spec!r}")
        if is_upper:
            high = (float(value), inclusive)
        else:
            low = (float(value), inclusive)
    if low is None and high is None:
        raise ProfileConfigError("a safe range needs at least one bound (use null for none)")
    return SafeRange(
        low=low[0] if low else None,
        low_inclusive=bool(low and low[1]),
        high=high[0] if high else None,
        high_inclusive=bool(high and high[1]),
    )


def _minutes(value: Any, what: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ProfileConfigError(f"{what} must be a non-negative number of minutes, not {value!r}")
    return timedelta(minutes=value)


def parse_profiles(data: Mapping[str, Any]) -> dict[str, Profile]:
    """Build Profiles from configuration data shaped like ``profiles.json``."""
    try:
        limits = data["physical_limits_c"]
        profiles: dict[str, Profile] = {}
        for name, spec in data["profiles"].items():
            classes = {}
            for food_class in FOOD_CLASSES:
                cls = spec["classes"][food_class]
                limit = cls["max_delivery_minutes"]
                classes[food_class] = ClassRule(
                    safe=_parse_safe(cls["safe"]),
                    max_delivery=None if limit is None else _minutes(limit, "max_delivery"),
                    source=str(cls["source"]),
                )
            profiles[name] = Profile(
                name=name,
                title=str(spec["title"]),
                source=str(spec["source"]),
                excursion_tolerance=_minutes(spec["excursion_tolerance_minutes"], "tolerance"),
                physical_min_c=float(limits["min"]),
                physical_max_c=float(limits["max"]),
                classes=classes,
            )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ProfileConfigError(f"malformed profile configuration: {exc!r}") from exc
    return profiles


@cache
def _config() -> dict[str, Any]:
    text = resources.files("sensors").joinpath("profiles.json").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def load_profiles() -> dict[str, Profile]:
    """The profiles shipped in ``sensors/profiles.json`` (read once)."""
    return parse_profiles(_config())


def physical_limits() -> tuple[float, float]:
    """(min, max) °C a food probe can physically report, from ``profiles.json``."""
    limits = _config()["physical_limits_c"]
    return float(limits["min"]), float(limits["max"])


def get_profile(profile: Profile | str) -> Profile:
    """Resolve a profile name (or pass a Profile through); raises UnknownProfile."""
    if isinstance(profile, Profile):
        return profile
    profiles = load_profiles()
    if profile not in profiles:
        raise UnknownProfile(f"unknown cold-chain profile {profile!r}; known: {sorted(profiles)}")
    return profiles[profile]


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
    profile: Profile | str,
    max_gap: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
    tolerance: timedelta | None = None,
) -> DeliveryVerdict:
    """Judge one delivery's (time, °C) readings against a profile (see module docstring).

    ``tolerance`` overrides the profile's ``excursion_tolerance``; readings may come in any
    order and with duplicates; times must be timezone-aware.
    """
    prof = get_profile(profile)
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
