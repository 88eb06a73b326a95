"""Validating upload rows into records: every problem becomes a `RowError` with its position.

Receiving rows are independent (except repeated lot codes); production rows sharing a batch
code form one transformation whose inputs may be lots, earlier batches, or batches made in the
same file (ordered so a batch comes after the in-file batches it uses; cycles are refused).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from operator import attrgetter, itemgetter
from typing import Any, Literal, NamedTuple, overload
from zoneinfo import ZoneInfo

import pandas as pd

from trace.cells import FORMULA_PREFIXES, CellError, CellTime, parse_cell
from trace.columns import COLUMNS, MAX_LENGTH, ColumnType, RecordKind, column
from trace.upload_records import (
    RECEIVING_FIELDS,
    ProductionInput,
    ProductionRecord,
    ReceivingColumns,
    ReceivingRecord,
    RowError,
    ValidationResult,
)

DEFAULT_TZ = "Asia/Shanghai"
# Clock-skew allowance before a time counts as "in the future" (our policy, not a regulation).
FUTURE_TOLERANCE = timedelta(minutes=5)


class _Errors(list[RowError]):
    def add(self, row: int, column: str, reason: str, code: str) -> None:
        self.append(RowError(row, column, reason, code))


_BAD = object()  # a cell that already has an error: later rules skip it
_Row = dict[str, Any]
Known = Callable[[str], bool] | Collection[str]


@overload
def validate_rows(
    df: pd.DataFrame,
    kind: Literal["receiving"],
    *,
    now: datetime,
    known_codes: Known = ...,
    tz: str = ...,
    future_tolerance: timedelta = ...,
) -> ValidationResult[ReceivingRecord]: ...


@overload
def validate_rows(
    df: pd.DataFrame,
    kind: Literal["production"],
    *,
    now: datetime,
    known_codes: Known = ...,
    tz: str = ...,
    future_tolerance: timedelta = ...,
) -> ValidationResult[ProductionRecord]: ...


def validate_rows(
    df: pd.DataFrame,
    kind: RecordKind,
    *,
    now: datetime,
    known_codes: Known = frozenset(),
    tz: str = DEFAULT_TZ,
    future_tolerance: timedelta = FUTURE_TOLERANCE,
) -> ValidationResult[Any]:
    """Check every row of a `read_table` frame; return valid records and every error.

    Naive times are read in `tz` and normalised to UTC. `known_codes` answers whether a lot
    or batch code already exists (production inputs); a callable is asked once per code.
    """
    if kind == "receiving":
        columns, errors = validate_receiving(df, now=now, tz=tz, future_tolerance=future_tolerance)
        return ValidationResult(columns.records(), errors)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = ZoneInfo(tz)
    errors = _Errors()
    parsed = _parse_columns(df, kind, zone, errors)
    rows = _rows(parsed.numbers, parsed.columns)
    records = _production(
        rows, errors, _future_test(now, zone, future_tolerance), _resolver(known_codes)
    )
    _sort(errors, kind)
    return ValidationResult(records, errors)


def validate_receiving(
    df: pd.DataFrame,
    *,
    now: datetime,
    tz: str = DEFAULT_TZ,
    future_tolerance: timedelta = FUTURE_TOLERANCE,
) -> tuple[ReceivingColumns, list[RowError]]:
    """`validate_rows` of receiving rows, the valid rows given column by column.

    Checked column by column: a rule costs a pass over a column, and rows are looked at one by
    one only where a column holds something to report (a blank, a future or expired date, a
    repeated lot code).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = ZoneInfo(tz)
    errors = _Errors()
    parsed = _parse_columns(df, "receiving", zone, errors)
    valid = _receiving(parsed, errors, _future_test(now, zone, future_tolerance))
    _sort(errors, "receiving")
    return valid, errors


def _future_test(now: datetime, zone: ZoneInfo, tolerance: timedelta) -> Callable[[CellTime], bool]:
    latest = now.astimezone(UTC) + tolerance
    today = now.astimezone(zone).date()

    def in_future(value: CellTime) -> bool:
        return value.at > latest if value.has_time else value.local_date > today

    return in_future


def _sort(errors: list[RowError], kind: RecordKind) -> None:
    order = {c.key: i for i, c in enumerate(COLUMNS[kind])}
    errors.sort(key=lambda e: (e.row, order.get(e.column, 0)))


_FORMULA_FIRST = frozenset(FORMULA_PREFIXES)
# A cell starting with one of these, or empty, or ending in a space, takes parse_cell's way.
_NOT_PLAIN_FIRST = _FORMULA_FIRST | {" "}
_first, _last = itemgetter(0), itemgetter(-1)
_at, _local_date = attrgetter("at"), attrgetter("local_date")


def _plain_texts(texts: Collection[Any], limit: int) -> bool:
    """Whether parse_cell returns every one of `texts` unchanged as text: all are str, printable
    (so no control characters and no whitespace but inner spaces), not blank, not starting like
    a formula or with a space, not ending with a space, at most `limit` characters long.

    One pass over the column per condition, each in C (no Python code runs per cell).
    """
    if not texts:
        return True
    return (
        set(map(type, texts)) == {str}
        and "" not in texts
        and "".join(texts).isprintable()  # printable as a whole iff every cell is
        and _NOT_PLAIN_FIRST.isdisjoint(set(map(_first, texts)))
        and " " not in set(map(_last, texts))
        and max(map(len, texts)) <= limit
    )


def _column_values(
    raws: list[Any], ctype: ColumnType, zone: ZoneInfo
) -> tuple[list[Any], list[int], list[int]]:
    """Parsed values of one column (a CellError instance where a cell is refused), the
    positions of the refused cells and those of the blank ones (None).

    Parsing depends only on the text, the type and the zone, so each distinct text is parsed
    once per upload (dates, units, names and storage classes repeat down a column); a text
    column whose texts all come back unchanged (`_plain_texts`) is not even mapped. Lot and
    document codes are mostly distinct: their column is tested as it is, not deduplicated.
    """

    def parse(raw: Any) -> Any:
        try:
            return parse_cell("" if raw is None else str(raw), ctype, zone)
        except CellError as exc:
            return exc

    if ctype == "code" and _plain_texts(raws, MAX_LENGTH[ctype]):
        return list(raws), [], []
    distinct = set(raws)
    if ctype in _TEXT_TYPES:
        limit = MAX_LENGTH[ctype]
        if _plain_texts(distinct, limit):
            return list(raws), [], []
        parsed = {}
        for raw in distinct:
            # The same test for one text, inline: most texts of a mixed column pass it.
            if (
                type(raw) is str
                and raw.isprintable()
                and raw
                and raw[0] not in _NOT_PLAIN_FIRST
                and raw[-1] != " "
                and len(raw) <= limit
            ):
                parsed[raw] = raw
            else:
                parsed[raw] = parse(raw)
    else:
        parsed = {raw: parse(raw) for raw in distinct}
    values = list(map(parsed.__getitem__, raws))
    refused, blank = [], []
    if any(type(v) is CellError for v in parsed.values()):
        refused = [i for i, v in enumerate(values) if type(v) is CellError]
    if any(v is None for v in parsed.values()):
        blank = [i for i, v in enumerate(values) if v is None]
    return values, refused, blank


_TEXT_TYPES = frozenset({"code", "text"})


class _Parsed(NamedTuple):
    numbers: list[int]  # spreadsheet row numbers
    columns: dict[str, list[Any]]  # key → values, _BAD where a cell is refused
    refused: set[int]  # positions of rows with a refused cell
    blanks: dict[str, list[int]]  # key → positions of its blank cells


def _parse_columns(df: pd.DataFrame, kind: RecordKind, zone: ZoneInfo, errors: _Errors) -> _Parsed:
    """Every cell parsed column by column."""
    parsed = _Parsed(df.index.tolist(), {}, set(), {})
    numbers = parsed.numbers
    for col in COLUMNS[kind]:
        values, bad, blank = _column_values(df[col.key].tolist(), col.type, zone)
        for i in bad:
            error = values[i]
            errors.add(numbers[i], col.key, error.reason, error.code)
            values[i] = _BAD
        parsed.refused.update(bad)
        parsed.columns[col.key] = values
        parsed.blanks[col.key] = blank
    return parsed


def _rows(numbers: list[int], columns: dict[str, list[Any]]) -> list[tuple[int, _Row]]:
    keys = list(columns)
    return [
        (n, dict(zip(keys, row, strict=True)))
        for n, row in zip(numbers, zip(*columns.values(), strict=True), strict=True)
    ]


def _resolver(known: Known) -> Callable[[str], bool]:
    if callable(known):
        cache: dict[str, bool] = {}

        def ask(code: str) -> bool:
            if code not in cache:
                cache[code] = bool(known(code))
            return cache[code]

        return ask
    return known.__contains__


def _require(
    row_number: int, row: _Row, keys: Iterable[str], errors: _Errors, kind: RecordKind
) -> None:
    for key in keys:
        if row.get(key) is None:
            header = column(kind, key)
            errors.add(row_number, key, f"{header.en} ({header.zh}) is required", "required")


def _receiving(
    parsed: _Parsed, errors: _Errors, in_future: Callable[[CellTime], bool]
) -> ReceivingColumns:
    """The row rules of receiving, one column at a time; the rows without any error."""
    numbers, columns, blanks = parsed.numbers, parsed.columns, parsed.blanks
    bad = set(parsed.refused)

    def add(i: int, key: str, reason: str, code: str) -> None:
        errors.add(numbers[i], key, reason, code)
        bad.add(i)

    for col in COLUMNS["receiving"]:
        if col.required:
            reason = f"{col.en} ({col.zh}) is required"
            for i in blanks[col.key]:
                add(i, col.key, reason, "required")
    references = columns["tlc_source_reference"]
    for i in blanks["tlc_source"]:
        if references[i] is None:
            add(i, "tlc_source", "give the TLC source or the TLC source reference", "required")
    received = columns["received_on"]
    # Equal texts were parsed into one object: each distinct receive date is judged once.
    times = {id(v): v for v in received if type(v) is CellTime}
    future = {key for key, value in times.items() if in_future(value)}
    if future:
        for i in [i for i, v in enumerate(received) if id(v) in future]:
            add(i, "received_on", "is in the future", "future")
    expiry = columns["expiry_date"]
    if any(type(v) is CellTime for v in {id(v): v for v in expiry}.values()):
        for i, (ends, got) in enumerate(zip(expiry, received, strict=True)):
            if (
                type(ends) is CellTime
                and type(got) is CellTime
                and ends.local_date < got.local_date
            ):
                add(i, "expiry_date", "is before the receive date", "expired")
    tlcs = columns["tlc"]
    if len(set(tlcs)) < len(tlcs):
        first_row_of: dict[str, int] = {}
        for i, tlc in enumerate(tlcs):
            if type(tlc) is not str:
                continue
            if tlc in first_row_of:
                add(
                    i,
                    "tlc",
                    f"lot code {tlc!r} already appears on row {first_row_of[tlc]}",
                    "duplicate",
                )
            else:
                first_row_of[tlc] = numbers[i]
    keep = [i for i in range(len(numbers)) if i not in bad] if bad else None

    def kept(values: list[Any]) -> list[Any]:
        return values if keep is None else [values[i] for i in keep]

    out = {key: kept(columns[key]) for key in RECEIVING_FIELDS if key in columns}
    out["row"] = kept(numbers)
    moments = out.pop("received_on")  # CellTimes: every kept row has a receive date
    out["received_at"] = list(map(_at, moments))
    out["received_on"] = list(map(_local_date, moments))
    ends = {id(v): v.local_date if type(v) is CellTime else None for v in out["expiry_date"]}
    out["expiry_date"] = [ends[id(v)] for v in out["expiry_date"]]
    return ReceivingColumns({key: out[key] for key in RECEIVING_FIELDS})


_BATCH_KEYS = tuple(
    c.key for c in COLUMNS["production"] if not c.per_input and c.key != "batch_code"
)
_INPUT_KEYS = tuple(c.key for c in COLUMNS["production"] if c.per_input)


def _production(
    rows: list[tuple[int, _Row]],
    errors: _Errors,
    in_future: Callable[[CellTime], bool],
    known: Callable[[str], bool],
) -> list[ProductionRecord]:
    groups: dict[str, list[tuple[int, _Row]]] = {}
    for number, row in rows:
        code = row["batch_code"]
        if code is None:
            _require(number, row, ["batch_code"], errors, "production")
        elif code is not _BAD:
            groups.setdefault(code, []).append((number, row))
    required = {c.key for c in COLUMNS["production"] if c.required}
    merged: dict[str, _Row] = {}
    uses: dict[str, list[str]] = {}  # batch → input codes made in this file
    for code, members in groups.items():
        first = members[0][0]
        batch: _Row = {}
        for key in _BATCH_KEYS:
            for number, row in members:
                value = row[key]
                if value is None:
                    continue
                if key not in batch:
                    batch[key] = value
                elif value is not _BAD and batch[key] is not _BAD and value != batch[key]:
                    errors.add(
                        number,
                        key,
                        f"differs from the value given for batch {code!r} on an earlier row",
                        "conflict",
                    )
            if key not in batch and key in required:
                _require(first, {}, [key], errors, "production")
        completed = batch.get("completed_at")
        if isinstance(completed, CellTime) and in_future(completed):
            errors.add(first, "completed_at", "is in the future", "future")
        seen_inputs: dict[str, int] = {}
        for number, row in members:
            _require(number, row, _INPUT_KEYS, errors, "production")
            source = row["input_code"]
            if not isinstance(source, str):
                continue
            if source == code:
                errors.add(number, "input_code", "a batch cannot be its own input", "self_input")
            elif source in seen_inputs:
                errors.add(
                    number,
                    "input_code",
                    f"input {source!r} is already listed on row {seen_inputs[source]}",
                    "duplicate",
                )
            elif source in groups:
                uses.setdefault(code, []).append(source)
            elif not known(source):
                errors.add(
                    number,
                    "input_code",
                    f"unknown lot or batch reference {source!r}",
                    "unknown_reference",
                )
            seen_inputs.setdefault(source, number)
        merged[code] = batch
    cycle = _find_cycle(uses)
    if cycle:
        path = " → ".join(cycle)
        errors.add(
            groups[cycle[0]][0][0], "input_code", f"batch codes form a cycle: {path}", "cycle"
        )
    bad_rows = {e.row for e in errors}
    records: list[ProductionRecord] = []
    valid: set[str] = set()
    for code in _dependency_order(groups, uses, set(cycle)):
        members = groups[code]
        broken = [s for s in uses.get(code, []) if s not in valid]
        for source in broken:
            number = next(n for n, r in members if r["input_code"] == source)
            errors.add(number, "input_code", f"input batch {source!r} has errors", "input_invalid")
        if broken or any(number in bad_rows for number, _ in members):
            continue
        valid.add(code)
        batch = merged[code]
        records.append(
            ProductionRecord(
                row=members[0][0],
                batch_code=code,
                product=batch["product"],
                quantity=batch["quantity"],
                unit=batch["unit"],
                completed_at=batch["completed_at"].at,
                location=batch["location"],
                reference_document_type=batch.get("reference_document_type"),
                reference_document_number=batch.get("reference_document_number"),
                inputs=tuple(
                    ProductionInput(
                        number,
                        r["input_code"],
                        r["input_quantity"],
                        r["input_unit"],
                        r["input_code"] in groups,
                    )
                    for number, r in members
                ),
            )
        )
    return records


def _find_cycle(uses: Mapping[str, list[str]]) -> list[str]:
    """A cycle among in-file batches as [a, b, …, a], or [] (iterative depth-first search)."""
    state: dict[str, int] = {}
    for root in uses:
        if root in state:
            continue
        path, stack = [root], [iter(uses.get(root, ()))]
        state[root] = 1
        while stack:
            for nxt in stack[-1]:
                if state.get(nxt) == 1:
                    return [*path[path.index(nxt) :], nxt]
                if nxt not in state:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append(iter(uses.get(nxt, ())))
                    break
            else:
                state[path.pop()] = 2
                stack.pop()
    return []


def _dependency_order(
    groups: Mapping[str, object], uses: Mapping[str, list[str]], cyclic: set[str]
) -> list[str]:
    """Batch codes with each batch after the in-file batches it uses (Kahn's algorithm)."""
    waiting = {code: len(set(uses.get(code, ()))) for code in groups}
    users: dict[str, list[str]] = {}
    for code, sources in uses.items():
        for source in set(sources):
            users.setdefault(source, []).append(code)
    ready = [code for code, n in waiting.items() if n == 0]
    order: list[str] = []
    while ready:
        code = ready.pop(0)
        order.append(code)
        for user in users.get(code, ()):
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    # Batches on or behind a cycle never become ready; they already carry the cycle error.
    placed = set(order)
    return order + [code for code in groups if code not in placed and code not in cyclic]
