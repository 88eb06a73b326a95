"""Recording many rows under one ledger entry: the entry anchors the RFC 9162 root of the rows'
records (ledger/batches.py explains the scheme; this computes the same root without pymerkle's
per-leaf overhead, which matters at 20,000 rows a second).

A record is the canonical JSON (RFC 8785) of the list [id, column values...] in the order the
entry's payload names under "columns". `ledger.prove_record(records, i)` proves one of them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, text
from sqlmodel import Session

from ledger.canonical import canonical_json, json_value, plain_json_many

CHUNK = 1000  # records per anchoring entry: proofs stay short, the log stays small


_SAFE = 2**53 - 1
_json_list = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def record_bytes(values: Sequence[Any]) -> bytes:
    """The bytes a row's record is hashed as: canonical JSON (RFC 8785) of its values in column
    order, i.e. `ledger.canonical.canonical_json(list(values))`.

    Rows are mostly text, safe integers and plain decimals, for which the standard JSON encoder
    already writes RFC 8785 (the ledger's own fast path relies on the same fact); anything else
    (datetimes, integral or extreme floats, …) goes through canonical_json.
    """
    for value in values:
        kind = type(value)
        if kind is str or value is None or kind is bool:
            continue
        if kind is int and -_SAFE <= value <= _SAFE:
            continue
        if kind is float and not value.is_integer() and 1e-4 <= abs(value) < 1e16:
            continue
        return canonical_json(list(values))
    try:
        return _json_list(list(values)).encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: canonical_json raises the ledger's error
        return canonical_json(list(values))


def records_of(rows: Iterable[Sequence[Any]]) -> list[bytes]:
    """`record_bytes` of many rows."""
    table = [list(row) for row in rows]
    return records_from([list(column) for column in zip(*table, strict=True)]) if table else []


def records_from(columns: Sequence[Sequence[Any]]) -> list[bytes]:
    """`record_bytes` of the rows given column by column (equal lengths).

    Datetimes and dates (which repeat down a column) are put in their JSON form once each; when
    every column holds only text, safe integers, plain decimals and nulls, rows are encoded by
    the compiled encoder the ledger uses for such values (`plain_json_many`: RFC 8785 for them)
    without per-value checks.
    """
    if not columns or not columns[0]:
        return []
    ready: list[Sequence[Any]] = []
    plain = True
    for column in columns:
        kinds = set(map(type, column))
        values: Sequence[Any] = column
        if kinds & {datetime, date}:
            memo = {v: json_value(v) for v in set(column) if type(v) in (datetime, date)}
            values = list(map(memo.get, column, column))  # others are never equal to a date
        elif float in kinds:
            if kinds <= {float, type(None)}:  # equal floats have one form (0.0 and -0.0: 0)
                memo = {v: _integral(v) for v in set(column)}
                values = list(map(memo.__getitem__, column))
            else:  # no memo: True == 1 == 1.0 would share an entry
                values = [_integral(v) if type(v) is float else v for v in column]
        if not kinds <= {str, int, float, bool, type(None), datetime, date}:
            plain = False  # nested lists (a batch's inputs) and the like
        elif plain and kinds & {int, float}:
            plain = _plain_numbers(values, kinds)
        ready.append(values)
    if plain:
        encoded = plain_json_many(zip(*ready, strict=True))
        if encoded is not None:
            return encoded
    return [record_bytes(list(row)) for row in zip(*ready, strict=True)]


def _integral(value: Any) -> Any:
    """RFC 8785 writes 20.0 as 20: integral floats (in the safe range) as ints."""
    if value is not None and value.is_integer() and abs(value) <= _SAFE:
        return int(value)
    return value


def _plain_numbers(values: Sequence[Any], kinds: set[type]) -> bool:
    """Whether every int and float of a column is `_plain` (ids: told by their extremes)."""
    if kinds <= {int, type(None)}:  # no bools either: their extremes would compare as ints
        ints = [v for v in values if v is not None] if type(None) in kinds else values
        return min(ints) >= -_SAFE and max(ints) <= _SAFE
    return all(_plain(v) for v in set(values) if type(v) in (int, float))


def _plain(value: int | float) -> bool:
    if type(value) is int:
        return -_SAFE <= value <= _SAFE
    return not value.is_integer() and 1e-4 <= abs(value) < 1e16


def records_root(records: Sequence[bytes]) -> bytes:
    """RFC 9162 Merkle tree hash of the records (leaf = H(0x00 ‖ record))."""
    if not records:
        raise ValueError("a batch needs at least one record")
    sha = hashlib.sha256
    stack: list[bytes] = []
    for count, record in enumerate(records, start=1):
        node = sha(b"\x00" + record).digest()
        n = count
        while not n & 1:  # merge complete subtrees, as the ledger's own tree does
            node = sha(b"\x01" + stack.pop() + node).digest()
            n >>= 1
        stack.append(node)
    root = stack[-1]
    for node in reversed(stack[:-1]):
        root = sha(b"\x01" + node + root).digest()
    return root


def anchor(records: Sequence[bytes]) -> dict[str, Any]:
    """The {"size", "root"} object an anchoring entry carries under "batch"."""
    return {"size": len(records), "root": base64.b64encode(records_root(records)).decode()}


def chunked(count: int, size: int = CHUNK) -> Iterable[range]:
    """Index ranges of at most `size` covering 0..count-1."""
    for start in range(0, count, size):
        yield range(start, min(start + size, count))


_NEXT_IDS = text(
    # Drawn by nextval, so concurrent writers never get the same id; one statement and one
    # row back. The sequence is looked up once (a MATERIALIZED CTE: called per row, the lookup
    # costs ten times the nextval); the ids come back as a range when contiguous (no other
    # writer drew in between), else as an array.
    "WITH s AS MATERIALIZED (SELECT CAST(pg_get_serial_sequence(:t, 'id') AS regclass) AS seq) "
    "SELECT min(v), max(v), count(*), "
    "CASE WHEN max(v) - min(v) + 1 = count(*) THEN NULL ELSE array_agg(v) END "
    "FROM (SELECT nextval(s.seq) AS v FROM s, generate_series(1, :n)) AS drawn"
)


def next_ids(session: Session, table: Table, count: int) -> list[int]:
    """Ids for `count` new rows, taken before inserting (records name their ids).

    PostgreSQL draws them from the id sequence (ascending); SQLite holds the database write
    lock for the whole transaction (app.make_engine begins IMMEDIATE), so max(id) + 1 … is safe
    there.
    """
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        low, high, drawn, scattered = session.execute(
            _NEXT_IDS, {"t": table.name, "n": count}
        ).one()
        if drawn != count:  # pragma: no cover - nextval answers once per row
            raise RuntimeError(f"{table.name}: {drawn} ids drawn for {count} rows")
        if scattered is None:
            return list(range(int(low), int(high) + 1))
        return sorted(int(v) for v in scattered)
    top = session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(int(top) + 1, int(top) + 1 + count))


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT many rows (dicts with the same keys) in one executemany."""
    if rows:
        insert_columns(session, table, {name: [row[name] for row in rows] for name in rows[0]})


def insert_columns(session: Session, table: Table, columns: dict[str, Sequence[Any]]) -> None:
    """INSERT rows given column by column, in one executemany (PostgreSQL: one COPY).

    Each column's bind processing (e.g. UTC datetimes) runs once per distinct value: the same
    receive date or unit down 20,000 rows costs one conversion, not 20,000.
    """
    names = list(columns)
    if not names or not columns[names[0]]:
        return
    compiled = (
        insert(table)
        .values({n: bindparam(n) for n in names})
        .compile(dialect=session.get_bind().dialect)
    )
    processors = compiled._bind_processors  # SQLAlchemy's own type processing, per column
    processed = []
    for name in names:
        process = processors.get(name)
        values = columns[name]
        if process is not None:
            memo = {value: process(value) for value in set(values)}
            values = [memo[value] for value in values]
        processed.append(values)
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, table, names, processed)
        return
    if compiled.positional:
        order = [names.index(n) for n in compiled.positiontup or ()]
        params: list[Any] = list(zip(*(processed[i] for i in order), strict=True))
    else:
        params = [dict(zip(names, row, strict=True)) for row in zip(*processed, strict=True)]
    session.connection().exec_driver_sql(str(compiled), params)


# Column types COPY sends in its binary format (as PostgreSQL's format_type names them): each
# value goes in its binary form and is read by the column type's own receive function (which
# checks lengths as the text form would), a few times cheaper for driver and server than text.
# The values are what the bulk paths pass: int, float, str, aware datetime, date, bool or None.
_BINARY_TYPES = frozenset(
    {
        "integer",
        "bigint",
        "smallint",
        "double precision",
        "character varying",
        "text",
        "timestamp with time zone",
        "date",
        "boolean",
    }
)
_COLUMN_TYPES = text(
    "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
    "WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped"
)


def _binary_types(session: Session, table: Table, names: list[str]) -> list[str] | None:
    """The database's types of a table's columns (read once per connection), or None when one
    of them has no binary form here."""
    conn = session.connection()
    known: dict[str, dict[str, str]] = conn.info.setdefault("trace_copy_types", {})
    types = known.get(table.name)
    if types is None:
        rows = conn.execute(_COLUMN_TYPES, {"t": table.name})
        types = known[table.name] = {name: kind for name, kind in rows}
    found = [types.get(name, "") for name in names]
    return found if _BINARY_TYPES.issuperset(found) else None


def _copy(session: Session, table: Table, names: list[str], columns: list[Sequence[Any]]) -> None:
    """PostgreSQL: the rows through COPY FROM STDIN, several times faster than an executemany
    of the same rows; in COPY's binary format when every column's type has one (see
    _BINARY_TYPES), else as text (psycopg adapts each value as the INSERT would)."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    types = _binary_types(session, table, names)
    sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    if types is not None:
        sql += " (FORMAT BINARY)"
    dbapi: Any = session.connection().connection.dbapi_connection
    with dbapi.cursor() as cursor, cursor.copy(sql) as copy:
        if types is not None:
            copy.set_types(types)
        write = copy.write_row
        for row in zip(*columns, strict=True):
            write(row)
