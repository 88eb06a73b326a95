"""Cold-chain profiles and ingest policy: the configuration data in ``profiles.json``.

Every number lives in ``profiles.json`` beside its source; this module only parses it into
frozen dataclasses (profiles per food class, the probe's physical limits, the platform policy).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Any

FOOD_CLASSES: tuple[str, ...] = ("hot", "cold", "frozen", "ambient")

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
class Policy:
    """How the platform takes readings in and judges them (``profiles.json`` "platform")."""

    default_profile: str
    max_gap: timedelta
    future_skew: timedelta
    max_readings_per_batch: int


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


def parse_policy(data: Mapping[str, Any]) -> Policy:
    """The "platform" block of configuration data shaped like ``profiles.json``."""
    try:
        spec = data["platform"]
        most = spec["max_readings_per_batch"]
        if isinstance(most, bool) or not isinstance(most, int) or most < 1:
            raise ProfileConfigError(f"max_readings_per_batch must be a positive int: {most!r}")
        policy = Policy(
            default_profile=str(spec["default_profile"]),
            max_gap=_minutes(spec["max_gap_minutes"], "max_gap"),
            future_skew=_minutes(spec["future_skew_minutes"], "future_skew"),
            max_readings_per_batch=most,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ProfileConfigError(f"malformed platform configuration: {exc!r}") from exc
    if policy.default_profile not in data.get("profiles", {}):
        raise ProfileConfigError(f"default profile {policy.default_profile!r} is not defined")
    return policy


@cache
def _config() -> dict[str, Any]:
    text = resources.files("sensors").joinpath("profiles.json").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def load_profiles() -> dict[str, Profile]:
    """The profiles shipped in ``sensors/profiles.json`` (read once)."""
    return parse_profiles(_config())


@cache
def policy() -> Policy:
    """The platform policy shipped in ``sensors/profiles.json`` (read once)."""
    return parse_policy(_config())


def physical_limits() -> tuple[float, float]:
    """(min, max) °C a food probe can physically report, from ``profiles.json``."""
    limits = _config()["physical_limits_c"]
    return float(limits["min"]), float(limits["max"])


def get_profile(profile: Profile | str | None) -> Profile:
    """Resolve a profile name (None: the configured default); raises UnknownProfile."""
    if isinstance(profile, Profile):
        return profile
    profiles = load_profiles()
    name = policy().default_profile if profile is None else profile
    if name not in profiles:
        raise UnknownProfile(f"unknown cold-chain profile {name!r}; known: {sorted(profiles)}")
    return profiles[name]
