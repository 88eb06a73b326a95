"""Merchant uploads: read a CSV/XLSX file into a table of strings with template column keys.

`read_table` only reads (size, encoding, format, headers); `row_validation.validate_rows` then
checks every cell. The table's index is the row number the user sees in the spreadsheet
(header = row 1, first data row = row 2).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pandas as pd
from openpyxl import load_workbook

from trace.columns import COLUMNS, RecordKind, column, header_index, normalise_header

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_ROWS = 100_000
MAX_COLUMNS = 64  # templates have at most 13 columns; far more means it is not our file


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
    body: list[list[str]] = []
    failure: UploadError | None = None
    try:
        for cells in rows:
            body.append(cells)
    except UploadError as exc:  # unreadable further down: the rows before it are checked first
        failure = exc
    if (
        failure is None
        and not unnamed
        and set(map(len, body)) <= {width}
        and all(map(str.strip, map("".join, body)))
    ):  # the usual file, told in C: every row as wide as the header, none blank
        if len(body) > max_rows:
            raise UploadError(f"{filename} has more than {max_rows} data rows")
        records, numbers = body, list(range(2, len(body) + 2))
    else:
        records, numbers = _checked_rows(body, filename, width, unnamed, max_rows)
        if failure is not None:
            raise failure
    frame = pd.DataFrame(records, columns=range(width), index=numbers, dtype=object)
    frame = frame[[i for i, key in enumerate(keys) if key is not None]]
    frame.columns = [key for key in keys if key is not None]
    for col in COLUMNS[kind]:
        if col.key not in frame.columns:
            frame[col.key] = ""
    return frame[[col.key for col in COLUMNS[kind]]].astype(object)


def _checked_rows(
    body: list[list[str]], filename: str, width: int, unnamed: list[int], max_rows: int
) -> tuple[list[list[str]], list[int]]:
    """The non-blank rows, padded to the header's width, and their row numbers; raises on
    values under a blank header or beyond the last header column, and on too many rows."""
    records: list[list[str]] = []
    numbers: list[int] = []
    for number, cells in enumerate(body, start=2):
        if not "".join(cells).strip():  # blank iff every cell is
            continue
        for i in unnamed:
            if i < len(cells) and cells[i].strip():
                label = f"column {_column_letter(i)} (no header)"
                raise ColumnError(f"{filename}: {label} has values", unknown=(label,))
        if len(cells) > width and "".join(cells[width:]).strip():
            raise UploadError(f"{filename}: row {number} has cells beyond the last header column")
        if len(records) == max_rows:
            raise UploadError(f"{filename} has more than {max_rows} data rows")
        records.append([*cells[:width], *([""] * (width - len(cells)))])
        numbers.append(number)
    return records, numbers


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
