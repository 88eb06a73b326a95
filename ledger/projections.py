"""Projections: how verify() re-derives domain rows from entries and compares them with tables.

A domain module declares, for each table whose rows its entries write, a `Projection`. verify()
folds the entries of `entry_types` in index order: for each, `row_key` names the row, `fields`
gives the column values the entry sets (merged over the previous ones; None means the entry
removes the row); then it reads `current_rows` and names the first row that differs, is missing,
has no entry, or whose `ledger_index` is not the last entry that wrote it.

The common case - "row columns are payload fields (or their salted digests)" - is
`TableProjection`; e.g. in complaints/models.py:

    CASES = TableProjection(
        table="complaint_cases", writes={"complaint.opened", "complaint.updated"},
        key="subject.case", columns={"status": "status", "phone": "phone"},
    )
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import JSON, Connection, MetaData, Table, Text, select, type_coerce

from ledger.canonical import NotCanonicalisable, canonical_json, json_value
from ledger.events import personal_digest


@dataclass(frozen=True, slots=True)
class Digest:
    """An expected personal value: the salted digest entry `index` recorded for `field`."""

    field: str
    hexdigest: str
    index: int

    def matches(self, salt: bytes, observed: Any) -> bool:
        """Whether the row's clear value is the one digested under this entry's salt."""
        try:
            return personal_digest(salt, self.field, observed) == self.hexdigest
        except NotCanonicalisable:
            return False


@dataclass(frozen=True, slots=True)
class CurrentRow:
    """A domain row as stored: its key, the ledger index it records, and column values."""

    key: str
    ledger_index: int | None
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A stored JSON value that does not parse (equal to no payload value)."""

    text: str

    def __repr__(self) -> str:
        return f"unreadable JSON {self.text[:60]!r}"


def decode_json(value: str | None) -> Any:
    """A JSON column's text decoded, or Unreadable."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return Unreadable(value)


@runtime_checkable
class Projection(Protocol):
    """What verify() needs to re-derive one table from the ledger."""

    @property
    def table(self) -> str:
        """Table name, for reports."""
        ...

    @property
    def entry_types(self) -> frozenset[str]:
        """Entry types that write (or remove) rows of this table."""
        ...

    def row_key(self, envelope: Mapping[str, Any]) -> str | None:
        """The key of the row an entry writes, or None if it writes none."""
        ...

    def fields(self, index: int, envelope: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """Column -> expected JSON value (or Digest) that entry `index` sets; None: removes it."""
        ...

    def current_rows(self, connection: Connection) -> Iterable[CurrentRow]:
        """Every row of the table with its key, ledger index and the compared columns."""
        ...


def same_value(expected: Any, observed: Any) -> bool:
    """Whether a column value equals the JSON value an entry recorded (RFC 8785 equality;
    Decimals compare numerically, datetimes as RFC 3339 UTC)."""
    if isinstance(observed, Decimal) and isinstance(expected, int | float | str):
        try:
            return not isinstance(expected, bool) and Decimal(str(expected)) == observed
        except InvalidOperation:
            return False
    try:
        return canonical_json(json_value(observed)) == canonical_json(expected)
    except NotCanonicalisable:
        return False


@dataclass(frozen=True, slots=True)
class TableProjection:
    """Rows whose columns are payload fields (or their salted digests) of the entries writing them.

    table: table name (reflected at verify time); writes / removes: entry types that set fields of
    / delete the row; key: where the row's key is in the envelope ("subject.<name>" or
    "payload.<name>"), compared as str with `key_column`; columns: column -> payload field (a
    list means the same names); index_column: the row's ledger index column.
    """

    table: str
    writes: frozenset[str]
    key: str
    columns: Mapping[str, str]
    key_column: str = "id"
    index_column: str = "ledger_index"
    removes: frozenset[str] = frozenset()

    def __init__(
        self,
        table: str,
        writes: Iterable[str],
        key: str,
        columns: Mapping[str, str] | Sequence[str],
        *,
        key_column: str = "id",
        index_column: str = "ledger_index",
        removes: Iterable[str] = (),
    ) -> None:
        part, _, name = key.partition(".")
        if part not in ("subject", "payload") or not name:
            raise ValueError("key must be 'subject.<name>' or 'payload.<name>'")
        values = {
            "table": table,
            "writes": frozenset(writes),
            "key": key,
            "columns": dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns},
            "key_column": key_column,
            "index_column": index_column,
            "removes": frozenset(removes),
        }
        for attr, value in values.items():
            object.__setattr__(self, attr, value)  # frozen: set once here

    @property
    def entry_types(self) -> frozenset[str]:
        """Entry types that write or remove rows."""
        return self.writes | self.removes

    def row_key(self, envelope: Mapping[str, Any]) -> str | None:
        """The key value found at `key` in the envelope, as str."""
        part, _, name = self.key.partition(".")
        value = (envelope.get(part) or {}).get(name)
        return None if value is None else str(value)

    def fields(self, index: int, envelope: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The mapped payload fields the entry carries (digests for personal ones)."""
        if envelope.get("type") in self.removes:
            return None
        payload = envelope.get("payload") or {}
        digests = envelope.get("payload_digest") or {}
        out: dict[str, Any] = {}
        for column, name in self.columns.items():
            if name in payload:
                out[column] = payload[name]
            elif name in digests:
                out[column] = Digest(name, digests[name], index)
        return out

    def current_rows(self, connection: Connection) -> Iterator[CurrentRow]:
        """Stream the rows: a Core select on the reflected table, fetched in chunks.

        SQLite stores JSON as text that anyone can overwrite with something unparseable; such
        columns are read as text and decoded here, so a mangled value is reported as a
        difference (`Unreadable`) instead of stopping the verification.
        """
        table = Table(self.table, MetaData(), autoload_with=connection)
        columns = list(self.columns)
        as_text = set()
        if connection.dialect.name == "sqlite":
            as_text = {c for c in columns if isinstance(table.c[c].type, JSON)}
        stmt = select(
            table.c[self.key_column],
            table.c[self.index_column],
            *(type_coerce(table.c[c], Text) if c in as_text else table.c[c] for c in columns),
        ).execution_options(yield_per=10_000)
        for row in connection.execute(stmt):
            index = row[1]
            values = dict(zip(columns, row[2:], strict=True))
            for column in as_text:
                values[column] = decode_json(values[column])
            yield CurrentRow(
                key=str(row[0]),
                ledger_index=None if index is None else int(index),
                values=values,
            )
