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

from ledger.canonical import canonical_json, json_value

CHUNK = 1000  # records per anchoring entry: proofs stay short, the log stays small


_SAFE = 2**53 - 1
_json_list = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
try:  # the C encoder, as ledger.canonical uses it: RFC 8785 separators, no NaN
    from json.encoder import c_encode_basestring, c_make_encoder  # type: ignore[attr-defined]

    _chunks = c_make_encoder(None, None, c_encode_basestring, None, ":", ",", True, False, False)

    def _encode_plain(values: Sequence[Any]) -> str:
        return "".join(_chunks(values, 0))

except (ImportError, TypeError):  # pragma: no cover - CPython without the _json accelerator
    _encode_plain = _json_list


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
    the C JSON encoder without per-value checks.
    """
    if not columns or not columns[0]:
        return []
    ready: list[Sequence[Any]] = []
    plain = True
    for column in columns:
        kinds = {type(value) for value in column}
        values: Sequence[Any] = column
        if kinds & {datetime, date}:
            memo = {v: json_value(v) for v in set(column) if type(v) in (datetime, date)}
            values = [memo.get(v, v) if type(v) in (datetime, date) else v for v in column]
        elif float in kinds:
            values = [
                int(v) if type(v) is float and v.is_integer() and abs(v) <= _SAFE else v
                for v in column
            ]  # RFC 8785 writes 20.0 as 20
        if not kinds <= {str, int, float, bool, type(None), datetime, date}:
            plain = False  # nested lists (a batch's inputs) and the like
        elif kinds & {int, float}:
            plain = plain and all(_plain(v) for v in set(values) if type(v) in (int, float))
        ready.append(values)
    if plain:
        try:
            return [_encode_plain(list(row)).encode("utf-8") for row in zip(*ready, strict=True)]
        except UnicodeEncodeError:
            pass
    return [record_bytes(list(row)) for row in zip(*ready, strict=True)]


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


def next_ids(session: Session, table: Table, count: int) -> list[int]:
    """Ids for `count` new rows, taken before inserting (records name their ids).

    PostgreSQL draws them from the id sequence; SQLite holds the database write lock for the
    whole transaction (app.make_engine begins IMMEDIATE), so max(id) + 1 … is safe there.
    """
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
            {"t": table.name, "n": count},
        )
        return [int(r[0]) for r in rows]
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


def _copy(session: Session, table: Table, names: list[str], columns: list[Sequence[Any]]) -> None:
    """PostgreSQL: the rows through COPY FROM STDIN (psycopg adapts each value as the INSERT
    would), several times faster than an executemany of the same rows."""
    quote = session.get_bind().dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    dbapi: Any = session.connection().connection.dbapi_connection
    with dbapi.cursor() as cursor, cursor.copy(sql) as copy:
        write = copy.write_row
        for row in zip(*columns, strict=True):
            write(row)
