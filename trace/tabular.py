"""Merchant uploads: read CSV/XLSX into a table of strings, then validate rows into records.

`read_table` only reads (size, encoding, format, headers); `validate_rows` checks every cell
and collects every problem as a `RowError` whose row number is the one the user sees in the
spreadsheet (header = row 1, first data row = row 2).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from math import isfinite
from typing import Any, Generic, Literal, TypeVar, overload
from zoneinfo import ZoneInfo

import pandas as pd
from openpyxl import load_workbook

from trace.columns import (
    COLUMNS,
    MAX_LENGTH,
    ColumnType,
    RecordKind,
    column,
    header_index,
    normalise_header,
    storage_class_for,
    unit_for,
)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_ROWS = 100_000
DEFAULT_TZ = "Asia/Shanghai"
# Clock-skew allowance before a time counts as "in the future" (our policy, not a regulation).
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_COLUMNS = 64  # templates have at most 13 columns; far more means it is not our file

# OWASP "CSV Injection": cells starting with these may run as formulas in a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)


class UploadError(ValueError):
    """The file as a whole cannot be read (size, encoding, format, row count)."""


class ColumnError(UploadError):
    """The header row does not match the template; names the columns involved."""

    def __init__(
        self,
        message: str,
        *,
        missing: tuple[str, ...] = (),
        unknown: tuple[str, ...] = (),
        duplicate: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.missing = missing  # column keys
        self.unknown = unknown  # header texts as written
        self.duplicate = duplicate  # header texts as written


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem: spreadsheet row number, column key, human reason and a stable code."""

    row: int
    column: str
    reason: str
    code: str = "invalid"


@dataclass(frozen=True, slots=True)
class ReceivingRecord:
    """A validated receiving event (FSMA 204 receiving KDEs); times are UTC."""

    row: int
    tlc: str
    product: str
    quantity: Decimal
    unit: str
    supplier: str
    tlc_source: str | None
    tlc_source_reference: str | None
    received_at: datetime  # local midnight when only a date was given
    received_on: date  # the date as written, in the upload's timezone
    location: str
    reference_document_type: str
    reference_document_number: str
    expiry_date: date | None
    storage: str  # ambient | chilled | frozen


@dataclass(frozen=True, slots=True)
class ProductionInput:
    """One input of a transformation; `in_file` when it is a batch made in the same upload."""

    row: int
    code: str
    quantity: Decimal
    unit: str
    in_file: bool


@dataclass(frozen=True, slots=True)
class ProductionRecord:
    """A validated transformation: one batch and its inputs; `row` is its first row."""

    row: int
    batch_code: str
    product: str
    quantity: Decimal
    unit: str
    completed_at: datetime
    location: str
    reference_document_type: str | None
    reference_document_number: str | None
    inputs: tuple[ProductionInput, ...]


R = TypeVar("R", ReceivingRecord, ProductionRecord)


@dataclass(frozen=True, slots=True)
class ValidationResult(Generic[R]):
    """Valid records (production: a batch after the in-file batches it uses) and all errors."""

    records: list[R]
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no row had an error."""
        return not self.errors


def content_digest(data: bytes) -> str:
    """SHA-256 hex of the uploaded bytes, to recognise a re-upload of the same file."""
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- reading


def read_table(
    data: bytes,
    filename: str,
    *,
    kind: RecordKind,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> pd.DataFrame:
    """Read a CSV or XLSX upload into strings, columns renamed to keys of `kind`.

    The index is the spreadsheet row number; blank rows are dropped; optional columns the file
    lacks are added empty. Raises UploadError (ColumnError for header problems).
    """
    if len(data) > max_bytes:
        raise UploadError(
            f"{filename} is {_size(len(data))}; the largest file accepted is {_size(max_bytes)}"
        )
    suffix = filename.rsplit(".", 1)[-1].casefold() if "." in filename else ""
    if data.startswith(b"PK\x03\x04") or suffix == "xlsx":
        rows = _xlsx_rows(data, filename)
    elif suffix in ("csv", "txt", ""):
        rows = _csv_rows(_decode(data, filename), filename)
    elif suffix == "xls":
        raise UploadError(f"{filename} is an old .xls workbook: save it as .xlsx or .csv")
    else:
        raise UploadError(f"{filename}: only .csv and .xlsx files are accepted")
    header = next(rows, None)
    if header is None or not any(cell.strip() for cell in header):
        raise UploadError(f"{filename} is empty: row 1 must be the header row")
    keys = _map_headers(header, kind)
    width = len(header)
    unnamed = [i for i, key in enumerate(keys) if key is None]
    records: list[list[str]] = []
    numbers: list[int] = []
    for number, cells in enumerate(rows, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        for i in unnamed:
            if i < len(cells) and cells[i].strip():
                label = f"column {_column_letter(i)} (no header)"
                raise ColumnError(f"{filename}: {label} has values", unknown=(label,))
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            raise UploadError(f"{filename}: row {number} has cells beyond the last header column")
        if len(records) == max_rows:
            raise UploadError(f"{filename} has more than {max_rows} data rows")
        records.append([*cells[:width], *([""] * (width - len(cells)))])
        numbers.append(number)
    frame = pd.DataFrame(records, columns=range(width), index=numbers, dtype=object)
    frame = frame[[i for i, key in enumerate(keys) if key is not None]]
    frame.columns = [key for key in keys if key is not None]
    for col in COLUMNS[kind]:
        if col.key not in frame.columns:
            frame[col.key] = ""
    return frame[[col.key for col in COLUMNS[kind]]].astype(object)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _decode(data: bytes, filename: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (a superset of GBK)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    elif data.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    else:
        encodings = ["utf-8", "gb18030"]
    failures = []
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            bad = data[exc.start : exc.start + 1].hex()
            label = {"utf-8-sig": "UTF-8", "gb18030": "GB18030/GBK"}.get(encoding, encoding.upper())
            failures.append(f"{label} (byte 0x{bad} at offset {exc.start})")
    raise UploadError(
        f"{filename}: the text cannot be decoded as {' or '.join(failures)}; "
        "save it as 'CSV UTF-8' or as an .xlsx file"
    )


def _csv_rows(text: str, filename: str) -> Iterator[list[str]]:
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        yield from reader
    except csv.Error as exc:
        raise UploadError(f"{filename}: line {reader.line_num} is not valid CSV: {exc}") from exc


def _xlsx_rows(data: bytes, filename: str) -> Iterator[list[str]]:
    # openpyxl raises many exception types on damaged files; each becomes one UploadError.
    try:
        # data_only=False: formulas come back as their text, so injection checks can see them.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:
        raise UploadError(f"{filename} is not a readable .xlsx workbook ({exc})") from exc
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS):
            yield [_cell_text(value) for value in values]
    except Exception as exc:
        raise UploadError(f"{filename}: the first sheet cannot be read ({exc})") from exc
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        # Excel stores dates as midnight datetimes: show them as plain dates.
        return (
            value.date().isoformat()
            if value.time() == datetime.min.time()
            else (value.isoformat(timespec="seconds"))
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return str(getattr(value, "text", value))  # array formulas keep their "=..." text


def _map_headers(header: list[str], kind: RecordKind) -> list[str | None]:
    index = header_index(kind)
    keys: list[str | None] = []
    unknown: list[str] = []
    duplicate: list[str] = []
    seen: set[str] = set()
    for position, text in enumerate(header, start=1):
        if not text.strip():
            keys.append(None)  # tolerated only over blank cells: read_table checks
            continue
        key = index.get(normalise_header(text))
        if key is None:
            unknown.append(text.strip())
        elif key in seen:
            duplicate.append(text.strip())
        seen.add(key or f"#{position}")
        keys.append(key)
    missing = tuple(c.key for c in COLUMNS[kind] if c.required and c.key not in seen)
    if unknown or duplicate or missing:
        parts = []
        if missing:
            names = ", ".join(f"{column(kind, k).en} ({column(kind, k).zh})" for k in missing)
            parts.append(f"missing required columns: {names}")
        if unknown:
            parts.append(f"unknown columns: {', '.join(unknown)}")
        if duplicate:
            parts.append(f"columns given twice: {', '.join(duplicate)}")
        raise ColumnError(
            "; ".join(parts),
            missing=missing,
            unknown=tuple(unknown),
            duplicate=tuple(duplicate),
        )
    return keys


# ---------------------------------------------------------------- validating


@dataclass(frozen=True, slots=True)
class _Time:
    at: datetime  # UTC
    local_date: date
    has_time: bool


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

    def in_future(value: _Time) -> bool:
        return value.at > latest if value.has_time else value.local_date > today

    if kind == "receiving":
        records: list[Any] = _receiving(rows, errors, in_future)
    else:
        records = _production(rows, errors, in_future, _resolver(known_codes))
    order = {c.key: i for i, c in enumerate(COLUMNS[kind])}
    errors.sort(key=lambda e: (e.row, order.get(e.column, 0)))
    return ValidationResult(records, errors)


def _parse_cells(
    df: pd.DataFrame, kind: RecordKind, zone: ZoneInfo, errors: _Errors
) -> list[tuple[int, _Row]]:
    columns = COLUMNS[kind]
    values = {c.key: df[c.key].tolist() for c in columns}
    parsed: list[tuple[int, _Row]] = []
    for i, row_number in enumerate(df.index.tolist()):
        row: _Row = {}
        for col in columns:
            raw = values[col.key][i]
            raw = "" if raw is None else str(raw)
            try:
                row[col.key] = _parse_cell(raw, col.type, zone)
            except _CellError as exc:
                errors.add(row_number, col.key, exc.reason, exc.code)
                row[col.key] = _BAD
        parsed.append((row_number, row))
    return parsed


class _CellError(Exception):
    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def _parse_cell(raw: str, kind: ColumnType, zone: ZoneInfo) -> Any:
    if raw.startswith(FORMULA_PREFIXES) and not _NUMBER.fullmatch(raw.strip()):
        raise _CellError(
            f"starts with {raw[0]!r} and could run as a spreadsheet formula; "
            "remove the leading character",
            "formula",
        )
    text = raw.strip()
    if not text:
        return None
    if _CONTROL.search(text):
        raise _CellError("contains control characters (such as line breaks)", "control_character")
    if len(text) > MAX_LENGTH[kind]:
        raise _CellError(f"is longer than {MAX_LENGTH[kind]} characters", "too_long")
    if kind == "number":
        return _parse_number(text)
    if kind == "unit":
        unit = unit_for(text)
        if unit is None:
            raise _CellError(f"unknown unit {text!r}", "unknown_unit")
        return unit.code
    if kind == "storage":
        storage = storage_class_for(text)
        if storage is None:
            raise _CellError(f"{text!r} is not ambient, chilled or frozen", "unknown_storage")
        return storage
    if kind in ("date", "datetime"):
        value = _parse_time(text, zone)
        if kind == "datetime" and not value.has_time:
            raise _CellError("give a time as well, e.g. 2025-03-01T10:45", "time_missing")
        return value
    return text


def _parse_number(text: str) -> Decimal:
    text = unicodedata.normalize("NFKC", text)  # full-width digits typed with a Chinese IME
    if text.casefold().lstrip("+-") in ("nan", "inf", "infinity"):
        raise _CellError("must be a finite number", "not_finite")
    if not _NUMBER.fullmatch(text):
        raise _CellError(f"{text!r} is not a number", "not_a_number")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise _CellError(f"{text!r} is not a number", "not_a_number") from exc
    if not isfinite(float(value)):
        raise _CellError("must be a finite number", "not_finite")
    if value <= 0:
        raise _CellError("must be greater than 0", "not_positive")
    return value


def _parse_time(text: str, zone: ZoneInfo) -> _Time:
    if not _DATE_TIME.fullmatch(text):
        raise _CellError(
            f"{text!r} is not an ISO date (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][±HH:MM])",
            "bad_date",
        )
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _CellError(f"{text!r} is not a real date or time", "bad_date") from exc
    has_time = len(text) > 10
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    local_date = parsed.date() if not has_time else parsed.astimezone(zone).date()
    return _Time(parsed.astimezone(UTC), local_date, has_time)


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
    rows: list[tuple[int, _Row]], errors: _Errors, in_future: Callable[[_Time], bool]
) -> list[ReceivingRecord]:
    required = [c.key for c in COLUMNS["receiving"] if c.required]
    first_row_of: dict[str, int] = {}
    records: list[ReceivingRecord] = []
    cell_errors = {e.row for e in errors}
    for number, row in rows:
        before = len(errors)
        _require(number, row, required, errors, "receiving")
        if row["tlc_source"] is None and row["tlc_source_reference"] is None:
            errors.add(
                number, "tlc_source", "give the TLC source or the TLC source reference", "required"
            )
        received = row["received_on"]
        if isinstance(received, _Time) and in_future(received):
            errors.add(number, "received_on", "is in the future", "future")
        expiry = row["expiry_date"]
        if (
            isinstance(expiry, _Time)
            and isinstance(received, _Time)
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
                    expiry_date=expiry.local_date if isinstance(expiry, _Time) else None,
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
    in_future: Callable[[_Time], bool],
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
        if isinstance(completed, _Time) and in_future(completed):
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
