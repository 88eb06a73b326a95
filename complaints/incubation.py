"""Incubation periods, exposure windows and epidemic curves (DOMAIN.md §4).

The pathogen table is configuration data (``pathogens.json`` beside this module, source cited
there). Every datetime here is timezone-aware; aware values in other zones are converted to
UTC and naive ones are rejected with :class:`NaiveDatetimeError`, because a naive onset time
silently shifts a window by the server's offset.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TypedDict

__all__ = [
    "EpiBin",
    "IncubationError",
    "IncubationStats",
    "NaiveDatetimeError",
    "Pathogen",
    "PathogenTable",
    "PathogenTableError",
    "UnknownPathogen",
    "as_utc",
    "default_pathogens",
    "epidemic_curve",
    "exposure_window",
    "incubation_stats",
    "likely_agents",
    "load_pathogens",
    "widest_exposure_window",
]

DEFAULT_TABLE = Path(__file__).with_name("pathogens.json")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class NaiveDatetimeError(ValueError):
    """A datetime without a timezone where a UTC instant is required."""


class IncubationError(ValueError):
    """Exposure/onset pairs that cannot give an incubation period."""


class PathogenTableError(ValueError):
    """A pathogen table file that is malformed or inconsistent."""


class UnknownPathogen(LookupError):
    """No pathogen with that id in the table."""


@dataclass(frozen=True, slots=True)
class Pathogen:
    """An agent and its typical incubation range in hours."""

    id: str
    name: str
    min_hours: float
    max_hours: float


@dataclass(frozen=True, slots=True)
class PathogenTable:
    """The loaded table: agents in file order, the unknown-agent food history, the source."""

    pathogens: tuple[Pathogen, ...]
    unknown_history_hours: float
    source: str

    def __iter__(self) -> Iterator[Pathogen]:
        return iter(self.pathogens)

    def __len__(self) -> int:
        return len(self.pathogens)

    def get(self, pathogen_id: str) -> Pathogen:
        """The pathogen with this id, or :class:`UnknownPathogen`."""
        for p in self.pathogens:
            if p.id == pathogen_id:
                return p
        raise UnknownPathogen(pathogen_id)


class IncubationStats(TypedDict):
    """Summary of incubation periods in hours (``None`` when there are no pairs)."""

    median_hours: float | None
    min_hours: float | None
    max_hours: float | None
    n: int


class EpiBin(TypedDict):
    """One bar of an epidemic curve: ``[start, end)`` in UTC and the onsets in it."""

    start: datetime
    end: datetime
    cases: int


def _hours(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PathogenTableError(f"{where}: expected a finite number of hours, got {value!r}")
    if value < 0:
        raise PathogenTableError(f"{where}: hours must not be negative, got {value!r}")
    return float(value)


def load_pathogens(path: str | Path | None = None) -> PathogenTable:
    """Read and validate a pathogen table (default: ``complaints/pathogens.json``)."""
    raw = json.loads(Path(path or DEFAULT_TABLE).read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("pathogens"), list):
        raise PathogenTableError("expected an object with a 'pathogens' list")
    if not isinstance(raw.get("source"), str) or not raw["source"].strip():
        raise PathogenTableError("the table must cite its 'source'")
    items: list[Pathogen] = []
    for i, entry in enumerate(raw["pathogens"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise PathogenTableError(f"pathogens[{i}]: expected an object with a string 'id'")
        lo = _hours(entry.get("min_hours"), f"pathogens[{i}].min_hours")
        hi = _hours(entry.get("max_hours"), f"pathogens[{i}].max_hours")
        if lo > hi:
            raise PathogenTableError(f"pathogens[{i}]: min_hours {lo} exceeds max_hours {hi}")
        items.append(Pathogen(entry["id"], str(entry.get("name", entry["id"])), lo, hi))
    if len({p.id for p in items}) != len(items):
        raise PathogenTableError("pathogen ids must be unique")
    unknown = raw.get("unknown_agent")
    if not isinstance(unknown, dict):
        raise PathogenTableError("expected an 'unknown_agent' object with 'history_hours'")
    history = _hours(unknown.get("history_hours"), "unknown_agent.history_hours")
    return PathogenTable(tuple(items), history, raw["source"])


@cache
def default_pathogens() -> PathogenTable:
    """The bundled table, loaded once."""
    return load_pathogens()


def as_utc(value: datetime, name: str = "datetime") -> datetime:
    """``value`` converted to UTC; :class:`NaiveDatetimeError` if it has no timezone."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(f"{name} {value.isoformat()} has no timezone; give UTC")
    return value.astimezone(UTC)


def exposure_window(
    onset: datetime, pathogen: Pathogen | None, *, unknown_history_hours: float | None = None
) -> tuple[datetime, datetime]:
    """``[onset − max incubation, onset − min incubation]`` in UTC.

    With no known agent (``pathogen=None``) the window is the food history before onset:
    ``[onset − H, onset]`` where H is ``unknown_history_hours`` or the table's configured
    ``unknown_agent.history_hours`` (72 h, the intake's food history). Use
    :func:`widest_exposure_window` for the union over every agent instead.
    """
    at = as_utc(onset, "onset")
    if pathogen is None:
        hours = unknown_history_hours
        if hours is None:
            hours = default_pathogens().unknown_history_hours
        if hours < 0:
            raise ValueError(f"unknown_history_hours must not be negative, got {hours}")
        return at - timedelta(hours=hours), at
    return at - timedelta(hours=pathogen.max_hours), at - timedelta(hours=pathogen.min_hours)


def widest_exposure_window(
    onset: datetime, pathogens: Iterable[Pathogen] | None = None
) -> tuple[datetime, datetime]:
    """The union of every agent's window: ``[onset − largest max, onset − smallest min]``."""
    table = list(pathogens if pathogens is not None else default_pathogens())
    if not table:
        raise PathogenTableError("no pathogens to take the widest window over")
    at = as_utc(onset, "onset")
    longest = max(p.max_hours for p in table)
    shortest = min(p.min_hours for p in table)
    return at - timedelta(hours=longest), at - timedelta(hours=shortest)


def incubation_stats(exposures: Sequence[datetime], onsets: Sequence[datetime]) -> IncubationStats:
    """Median, min and max of ``onset − exposure`` in hours over paired sequences."""
    if len(exposures) != len(onsets):
        raise IncubationError(
            f"{len(exposures)} exposures but {len(onsets)} onsets: they must be paired"
        )
    hours: list[float] = []
    for i, (exp, ons) in enumerate(zip(exposures, onsets, strict=True)):
        delta = as_utc(ons, f"onsets[{i}]") - as_utc(exp, f"exposures[{i}]")
        if delta < timedelta(0):
            raise IncubationError(f"pair {i}: onset {ons.isoformat()} precedes exposure")
        hours.append(delta / timedelta(hours=1))
    if not hours:
        return {"median_hours": None, "min_hours": None, "max_hours": None, "n": 0}
    return {
        "median_hours": statistics.median(hours),
        "min_hours": min(hours),
        "max_hours": max(hours),
        "n": len(hours),
    }


def likely_agents(
    median_hours: float | None, pathogens: Iterable[Pathogen] | None = None
) -> list[Pathogen]:
    """Agents whose incubation range contains the median (bounds inclusive), in table order."""
    if median_hours is None:
        return []
    table = pathogens if pathogens is not None else default_pathogens()
    return [p for p in table if p.min_hours <= median_hours <= p.max_hours]


def epidemic_curve(onsets: Iterable[datetime], bin_hours: float = 6) -> list[EpiBin]:
    """Onsets counted in consecutive ``bin_hours`` bins, empty bins included.

    Bins are aligned to multiples of ``bin_hours`` since 1970-01-01 00:00 UTC (so 6-hour bins
    start at 00, 06, 12 and 18 UTC) and run from the first onset's bin to the last one's.
    """
    if not (isinstance(bin_hours, int | float) and math.isfinite(bin_hours) and bin_hours > 0):
        raise ValueError(f"bin_hours must be a positive number, got {bin_hours!r}")
    width = timedelta(hours=bin_hours)
    times = sorted(as_utc(t, f"onsets[{i}]") for i, t in enumerate(onsets))
    if not times:
        return []
    first = (times[0] - _EPOCH) // width
    counts = [0] * ((times[-1] - _EPOCH) // width - first + 1)
    for t in times:
        counts[(t - _EPOCH) // width - first] += 1
    return [
        {"start": _EPOCH + (first + k) * width, "end": _EPOCH + (first + k + 1) * width, "cases": n}
        for k, n in enumerate(counts)
    ]
