"""Food-history questionnaires: the column mapping, reading CSV/XLSX, and coding the answers.

No I/O beyond the file-like object handed in. Every problem is reported at once as a
:class:`SurveyError` whose ``details`` are ``{row, column, reason}`` dicts; ``row`` is the
spreadsheet row the user sees (header = row 1, first respondent = row 2) or ``None`` for a
problem with the mapping itself.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import PurePath
from typing import Any, BinaryIO, TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import openpyxl
import pandas as pd

__all__ = [
    "MISSING",
    "NO",
    "YES",
    "Coded",
    "Detail",
    "SurveyError",
    "SurveyMapping",
    "code_survey",
    "read_survey",
]

YES, NO, MISSING = 1, 0, -1
DEFAULT_YES = ("yes", "y", "1", "true", "是")
DEFAULT_NO = ("no", "n", "0", "false", "否")
DEFAULT_MISSING = ("", "?", "unknown", "不知道")
_HEADER_ROW = 1


class Detail(TypedDict):
    """One problem: spreadsheet row (``None`` for the mapping), column or key, and why."""

    row: int | None
    column: str | None
    reason: str


class SurveyError(ValueError):
    """A questionnaire or mapping that cannot be analysed; ``details`` lists every problem."""

    def __init__(self, details: Sequence[Detail]) -> None:
        self.details: list[Detail] = list(details)
        shown = "; ".join(f"row {d['row']}, {d['column']}: {d['reason']}" for d in self.details[:5])
        more = f" (+{len(self.details) - 5} more)" if len(self.details) > 5 else ""
        super().__init__(f"{len(self.details)} problem(s): {shown}{more}")


def _norm(value: str) -> str:
    return value.strip().casefold()


@dataclass(frozen=True, slots=True)
class SurveyMapping:
    """Which spreadsheet columns mean what, and which answers mean yes / no / missing.

    ``onset_columns`` are joined with a space and parsed as one date-time (e.g. a date column
    and a time column); naive values are read in ``timezone`` (an IANA name, default UTC).
    Answers are compared after ``strip()`` and case-folding.
    """

    id_column: str
    ill_column: str
    item_columns: tuple[str, ...]
    onset_columns: tuple[str, ...] = ()
    portion_columns: Mapping[str, str] = field(default_factory=dict)
    yes_values: frozenset[str] = frozenset(DEFAULT_YES)
    no_values: frozenset[str] = frozenset(DEFAULT_NO)
    missing_values: frozenset[str] = frozenset(DEFAULT_MISSING)
    timezone: str = "UTC"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurveyMapping:
        """Parse and validate a mapping; every problem is collected into one SurveyError."""
        if not isinstance(data, Mapping):
            raise SurveyError([_detail(None, None, "the mapping must be an object")])
        problems: list[Detail] = []
        known = set(cls.__dataclass_fields__)
        problems += [_detail(None, str(k), "unknown mapping key") for k in data if k not in known]

        def text(key: str, required: bool) -> str | None:
            value = data.get(key)
            if value is None and not required:
                return None
            if not isinstance(value, str) or not value.strip():
                problems.append(_detail(None, key, "must be a non-empty string"))
                return None
            return value.strip()

        def texts(key: str, default: Sequence[str], allow_blank: bool = False) -> list[str]:
            value = data.get(key, list(default))
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(_detail(None, key, "must be a list of strings"))
                return []
            if not allow_blank and any(not v.strip() for v in value):
                problems.append(_detail(None, key, "column names must not be blank"))
            return [v.strip() for v in value] if not allow_blank else [_norm(v) for v in value]

        id_col, ill_col, tz = (
            text("id_column", True),
            text("ill_column", True),
            text("timezone", False),
        )
        items = texts("item_columns", [])
        onset_cols = texts("onset_columns", [])
        if "item_columns" not in data or not items:
            problems.append(_detail(None, "item_columns", "list at least one food item column"))
        if len(set(items)) != len(items):
            problems.append(_detail(None, "item_columns", "an item column is listed twice"))
        if {id_col, ill_col} & set(items):
            problems.append(_detail(None, "item_columns", "id/ill column listed as an item"))
        portions = data.get("portion_columns", {})
        if not isinstance(portions, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in portions.items()
        ):
            problems.append(_detail(None, "portion_columns", "must map item → column name"))
            portions = {}
        problems += [
            _detail(None, f"portion_columns.{k}", "not one of item_columns")
            for k in portions
            if k not in items
        ]
        values = {
            key: set(texts(key, default, allow_blank=True))
            for key, default in (
                ("yes_values", DEFAULT_YES),
                ("no_values", DEFAULT_NO),
                ("missing_values", DEFAULT_MISSING),
            )
        }
        clash = (values["yes_values"] & values["no_values"]) | (
            (values["yes_values"] | values["no_values"]) & values["missing_values"]
        )
        if clash:
            problems.append(_detail(None, "yes_values", f"values in two lists: {sorted(clash)}"))
        if tz is not None:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(_detail(None, "timezone", f"unknown time zone {tz!r}"))
        if problems:
            raise SurveyError(problems)
        assert id_col is not None and ill_col is not None  # problems would have been raised
        return cls(
            id_column=id_col,
            ill_column=ill_col,
            item_columns=tuple(items),
            onset_columns=tuple(onset_cols),
            portion_columns={k: v.strip() for k, v in portions.items()},
            yes_values=frozenset(values["yes_values"]),
            no_values=frozenset(values["no_values"]),
            missing_values=frozenset(values["missing_values"]),
            timezone=tz or "UTC",
        )

    def is_missing(self, raw: str) -> bool:
        """Whether a raw cell counts as "don't know" / not answered."""
        return _norm(raw) in self.missing_values


def _detail(row: int | None, column: str | None, reason: str) -> Detail:
    return {"row": row, "column": column, "reason": reason}


def _cell_text(value: Any) -> str:
    """An XLSX cell as the text a CSV export of it would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def _decode(data: bytes) -> str:
    # BOM first, then strict UTF-8, then GB18030 (a superset of GBK, what Chinese Excel writes).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SurveyError([_detail(None, None, "the CSV is neither UTF-8 nor GBK text")])


def read_survey(file: BinaryIO, filename: str) -> pd.DataFrame:
    """Read a CSV (UTF-8, UTF-8 with BOM, GBK) or XLSX questionnaire; every cell a string.

    The first row is the header. Row ``i`` of the frame is spreadsheet row ``i + 2``; blank
    rows are kept so that numbering stays true, and skipped later by :func:`code_survey`.
    """
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".csv":
        rows = [list(r) for r in csv.reader(io.StringIO(_decode(file.read()), newline=""))]
    elif suffix in (".xlsx", ".xlsm"):
        try:
            book = openpyxl.load_workbook(file, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a corrupt file
            raise SurveyError([_detail(None, None, f"not a readable XLSX file: {exc}")]) from exc
        try:
            rows = [
                [_cell_text(v) for v in r] for r in book.worksheets[0].iter_rows(values_only=True)
            ]
        finally:
            book.close()
    else:
        raise SurveyError([_detail(None, None, f"unsupported file type {suffix or filename!r}")])
    return _frame(rows)


def _frame(rows: list[list[str]]) -> pd.DataFrame:
    if not rows or not any(c.strip() for c in rows[0]):
        raise SurveyError([_detail(_HEADER_ROW, None, "the file has no header row")])
    header = [c.strip() for c in rows[0]]
    width = max(len(header), *(len(r) for r in rows))
    body = [r + [""] * (width - len(r)) for r in rows[1:]]
    header += [""] * (width - len(header))
    problems: list[Detail] = []
    keep: list[int] = []
    for j, name in enumerate(header):
        has_data = any(r[j].strip() for r in body)
        if not name and has_data:
            problems.append(_detail(_HEADER_ROW, f"#{j + 1}", "column has data but no header"))
        elif name:
            if name in header[:j]:
                problems.append(_detail(_HEADER_ROW, name, "duplicate column header"))
            keep.append(j)
    if problems:
        raise SurveyError(problems)
    return pd.DataFrame(
        [[r[j] for j in keep] for r in body], columns=[header[j] for j in keep], dtype=str
    )


@dataclass(frozen=True, slots=True)
class Coded:
    """Answers coded per respondent (blank rows dropped): YES / NO / MISSING codes."""

    rows: list[int]
    ids: list[str]
    ill: npt.NDArray[np.int8]
    items: dict[str, npt.NDArray[np.int8]]
    portions: dict[str, npt.NDArray[np.float64]]
    onsets: list[datetime | None]
    raw: pd.DataFrame


def code_survey(df: pd.DataFrame, mapping: SurveyMapping) -> Coded:
    """Check columns, ids and every answer against the mapping, and code them.

    Raises SurveyError listing every missing column, blank or duplicated id, answer in none
    of the value lists, non-numeric portion count and unreadable onset.
    """
    cols = [mapping.id_column, mapping.ill_column, *mapping.item_columns]
    cols += [*mapping.onset_columns, *mapping.portion_columns.values()]
    absent = [c for c in dict.fromkeys(cols) if c not in df.columns]
    if absent:
        raise SurveyError([_detail(_HEADER_ROW, c, "column not found in the file") for c in absent])
    # Frames built by hand may hold numbers or NaN: read every cell as its text.
    text = df.astype(object).where(df.notna(), "").astype(str)
    # A row is blank when every cell is; scanning stops at a row's first filled cell.
    blank = np.array(
        [not any(cell.strip() for cell in row) for row in text.to_numpy(dtype=object)], dtype=bool
    ).reshape(len(text))
    text = text[~blank]
    rows = [int(i) + 2 for i in np.flatnonzero(~blank)]
    problems: list[Detail] = []
    ids = [v.strip() for v in text[mapping.id_column]]
    first: dict[str, int] = {}
    for row, rid in zip(rows, ids, strict=True):
        if not rid:
            problems.append(_detail(row, mapping.id_column, "missing respondent id"))
        elif rid in first:
            reason = f"duplicate respondent id {rid!r} (first on row {first[rid]})"
            problems.append(_detail(row, mapping.id_column, reason))
        else:
            first[rid] = row

    def yes_no(column: str) -> npt.NDArray[np.int8]:
        # Code each distinct answer once (a column holds a handful), then look cells up.
        cells = text[column].to_numpy(dtype=object)
        codes = {raw: _code(raw, mapping) for raw in pd.unique(cells)}
        out = np.fromiter((codes[c] for c in cells), dtype=np.int8, count=len(cells))
        for k in np.flatnonzero(out == _UNKNOWN):
            reason = f"answer {cells[k]!r} is not a yes, no or missing value"
            problems.append(_detail(rows[k], column, reason))
        return out

    ill = yes_no(mapping.ill_column)
    items = {c: yes_no(c) for c in mapping.item_columns}
    portions = {
        item: _portions(text[col], rows, col, mapping, problems)
        for item, col in mapping.portion_columns.items()
    }
    onsets = _onsets(text, rows, mapping, problems)
    if problems:
        raise SurveyError(problems)
    return Coded(rows, ids, ill, items, portions, onsets, text)


_UNKNOWN = -2  # an answer in none of the value lists (reported as a problem)


def _code(raw: str, mapping: SurveyMapping) -> int:
    v = _norm(raw)
    if v in mapping.yes_values:
        return YES
    if v in mapping.no_values:
        return NO
    if v in mapping.missing_values:
        return MISSING
    return _UNKNOWN


def _portions(
    cells: pd.Series, rows: list[int], column: str, mapping: SurveyMapping, problems: list[Detail]
) -> npt.NDArray[np.float64]:
    out = np.full(len(rows), np.nan)
    for k, (row, raw) in enumerate(zip(rows, cells, strict=True)):
        if mapping.is_missing(raw):
            continue
        try:
            value = float(raw.strip())
        except ValueError:
            value = -1.0
        if not (0 <= value < float("inf")):
            problems.append(_detail(row, column, f"portions {raw!r} is not a number ≥ 0"))
        else:
            out[k] = value
    return out


def _onsets(
    text: pd.DataFrame, rows: list[int], mapping: SurveyMapping, problems: list[Detail]
) -> list[datetime | None]:
    if not mapping.onset_columns:
        return [None] * len(rows)
    zone = ZoneInfo(mapping.timezone)
    out: list[datetime | None] = []
    for k, row in enumerate(rows):
        parts = [text[c].iloc[k].strip() for c in mapping.onset_columns]
        parts = [p for p in parts if not mapping.is_missing(p)]
        if not parts:
            out.append(None)
            continue
        try:
            # A pandas warning here means a day-first guess: ambiguous, so refuse it.
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                stamp = pd.Timestamp(" ".join(parts))
            # pandas reads words such as "now" and "today" as times; an onset must be written.
            if pd.isna(stamp) or not any(ch.isdigit() for ch in " ".join(parts)):
                raise ValueError("not a time")
        except (ValueError, TypeError, Warning):
            column = ", ".join(mapping.onset_columns)
            problems.append(_detail(row, column, f"onset {' '.join(parts)!r} is not a date-time"))
            out.append(None)
            continue
        moment = stamp.to_pydatetime()
        moment = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
        out.append(moment.astimezone(UTC))
    return out
