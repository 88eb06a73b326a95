"""What a check found wrong, and small shared pieces of the checks (dates, chunks of ids)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

from trace.errors import TraceError

CHUNK = 500
# Prepared expanding IN lists: below SQLite's 32,766 and PostgreSQL's 65,535 parameters.
BIG_CHUNK = 5000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why record `index` (and input `input_index`, if any) cannot be written."""

    index: int
    field: str
    reason: str
    error: type[TraceError]
    input_index: int | None = None

    def raise_it(self) -> None:
        """Raise the named error this problem stands for."""
        raise self.error(self.reason, field=self.field)


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """Successive lists of at most `size` values (for IN (...) queries)."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def local_date(moment: datetime, tz: str) -> date:
    """The calendar date of `moment` in the deployment's time zone."""
    return moment.astimezone(ZoneInfo(tz)).date()


def first_problem(problems: Sequence[Problem]) -> None:
    """Raise the first problem's named error, if any (single-record services)."""
    if problems:
        problems[0].raise_it()


def now_utc(now: datetime | None) -> datetime:
    """`now` (tz-aware) or the current UTC time."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now
