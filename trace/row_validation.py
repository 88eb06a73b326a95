"""Validating upload rows into records: every problem becomes a `RowError` with its position.

Receiving rows are independent (except repeated lot codes); production rows sharing a batch
code form one transformation whose inputs may be lots, earlier batches, or batches made in the
same file (ordered so a batch comes after the in-file batches it uses; cycles are refused).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, overload
from zoneinfo import ZoneInfo

import pandas as pd

from trace.cells import FORMULA_PREFIXES, CellError, CellTime, parse_cell
from trace.columns import COLUMNS, MAX_LENGTH, ColumnType, RecordKind, column
from trace.upload_records import (
    ProductionInput,
    ProductionRecord,
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
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = ZoneInfo(tz)
    errors = _Errors()
    rows = _parse_cells(df, kind, zone, errors)
    latest = now.astimezone(UTC) + future_tolerance
    today = now.astimezone(zone).date()

    def in_future(value: CellTime) -> bool:
        return value.at > latest if value.has_time else value.local_date > today

    if kind == "receiving":
        records: list[Any] = _receiving(rows, errors, in_future)
    else:
        records = _production(rows, errors, in_future, _resolver(known_codes))
    order = {c.key: i for i, c in enumerate(COLUMNS[kind])}
    errors.sort(key=lambda e: (e.row, order.get(e.column, 0)))
    return ValidationResult(records, errors)


# Values of these types repeat down a column (dates, units, storage classes, quantities):
# each distinct text is parsed once per upload. Parsing depends only on the text and zone.
_MEMO_TYPES = frozenset({"number", "unit", "date", "datetime", "storage"})
_FORMULA_FIRST = frozenset(FORMULA_PREFIXES)


def _column_values(raws: list[Any], ctype: ColumnType, zone: ZoneInfo) -> list[Any]:
    """Parsed values of one column (a CellError instance where a cell is refused)."""

    def parse(raw: Any) -> Any:
        try:
            return parse_cell("" if raw is None else str(raw), ctype, zone)
        except CellError as exc:
            return exc

    if ctype in _MEMO_TYPES:
        parsed = {raw: parse(raw) for raw in set(raws)}
        return [parsed[raw] for raw in raws]
    limit = MAX_LENGTH[ctype]
    out = []
    for raw in raws:
        # Fast path, same result as parse_cell: printable text (so no control characters and no
        # whitespace other than inner spaces), not starting like a formula, short enough.
        if (
            type(raw) is str
            and raw.isprintable()
            and raw
            and raw[0] not in _FORMULA_FIRST
            and raw[0] != " "
            and raw[-1] != " "
            and len(raw) <= limit
        ):
            out.append(raw)
        else:
            out.append(parse(raw))
    return out


def _parse_cells(
    df: pd.DataFrame, kind: RecordKind, zone: ZoneInfo, errors: _Errors
) -> list[tuple[int, _Row]]:
    """Every cell parsed column by column; rows as {key: value or _BAD}."""
    numbers = df.index.tolist()
    keys, columns = [], []
    for col in COLUMNS[kind]:
        values = _column_values(df[col.key].tolist(), col.type, zone)
        for i, value in enumerate(values):
            if type(value) is CellError:
                errors.add(numbers[i], col.key, value.reason, value.code)
                values[i] = _BAD
        keys.append(col.key)
        columns.append(values)
    return [
        (n, dict(zip(keys, row, strict=True)))
        for n, row in zip(numbers, zip(*columns, strict=True), strict=True)
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
    rows: list[tuple[int, _Row]], errors: _Errors, in_future: Callable[[CellTime], bool]
) -> list[ReceivingRecord]:
    required = [c.key for c in COLUMNS["receiving"] if c.required]
    first_row_of: dict[str, int] = {}
    records: list[ReceivingRecord] = []
    cell_errors = {e.row for e in errors}
    future: dict[CellTime, bool] = {}  # receive dates repeat down the file
    for number, row in rows:
        before = len(errors)
        if None in row.values():
            _require(number, row, required, errors, "receiving")
            if row["tlc_source"] is None and row["tlc_source_reference"] is None:
                errors.add(
                    number,
                    "tlc_source",
                    "give the TLC source or the TLC source reference",
                    "required",
                )
        received = row["received_on"]
        if isinstance(received, CellTime):
            if received not in future:
                future[received] = in_future(received)
            if future[received]:
                errors.add(number, "received_on", "is in the future", "future")
        expiry = row["expiry_date"]
        if (
            isinstance(expiry, CellTime)
            and isinstance(received, CellTime)
            and expiry.local_date < received.local_date
        ):
            errors.add(number, "expiry_date", "is before the receive date", "expired")
        tlc = row["tlc"]
        if isinstance(tlc, str):
            if tlc in first_row_of:
                errors.add(
                    number,
                    "tlc",
                    f"lot code {tlc!r} already appears on row {first_row_of[tlc]}",
                    "duplicate",
                )
            else:
                first_row_of[tlc] = number
        if len(errors) == before and number not in cell_errors:
            records.append(
                ReceivingRecord(
                    row=number,
                    tlc=tlc,
                    product=row["product"],
                    quantity=row["quantity"],
                    unit=row["unit"],
                    supplier=row["supplier"],
                    tlc_source=row["tlc_source"],
                    tlc_source_reference=row["tlc_source_reference"],
                    received_at=received.at,
                    received_on=received.local_date,
                    location=row["location"],
                    reference_document_type=row["reference_document_type"],
                    reference_document_number=row["reference_document_number"],
                    expiry_date=expiry.local_date if isinstance(expiry, CellTime) else None,
                    storage=row["storage"],
                )
            )
    return records


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
