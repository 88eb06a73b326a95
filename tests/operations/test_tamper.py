"""Tampering behind the application's back: 1,000 random single-field edits to domain rows and
ledger rows of the demo data, each made around the append-only triggers; `ledger verify` must
detect every one and name the table (domain rows) or the ledger index it touched."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Boolean, Engine, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

import ledger
from app import engine_of, session_scope
from tests.ledger.tampering import tamper

EDITS = 1000
# ledger tables: (table, key column, columns a forger would change)
LEDGER_TABLES = (
    ("ledger_entry", "idx", ("type", "entry", "leaf_hash", "nodes")),
    ("ledger_head", "id", ("size", "frontier")),
    ("ledger_checkpoint", "seq", ("size", "root", "note")),
)


def changed(value: Any) -> Any:
    """A different value of the same type (None when there is nothing sensible to change)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | Decimal):
        return value + 1
    if isinstance(value, float):
        return value + 1.5
    if isinstance(value, bytes | memoryview):
        data = bytearray(bytes(value))
        if not data:
            return b"\x00"
        data[len(data) // 2] ^= 0x01
        return bytes(data)
    if isinstance(value, datetime):
        return value + timedelta(seconds=1)
    if isinstance(value, str):
        if not value:
            return "x"
        if value[-1].isdigit():  # keeps dates, times and numbers well-formed
            return value[:-1] + str((int(value[-1]) + 1) % 10)
        return value[:-1] + ("y" if value[-1] != "y" else "z")
    return None


def targets(projections: list[Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(table, key column, columns) for every re-derived domain table, then the ledger's."""
    found = []
    for projection in projections:
        columns = getattr(projection, "columns", None)
        if columns is None:
            continue  # derived collections (case_orders) are covered by their own tests
        names = tuple(columns.keys() if hasattr(columns, "keys") else columns)
        key = getattr(projection, "key_column", "id")
        index = getattr(projection, "index_column", "ledger_index")
        found.append((projection.table, key, (*(c for c in names if c != key), index)))
    return found + list(LEDGER_TABLES)


def candidates(engine: Engine, table: str, key: str, columns: tuple[str, ...]) -> list[Any]:
    """(key, column, value) of every non-null field of `table` that a forger could change.

    SQLite hands booleans back as 0/1: they are turned into bools so an edit flips them (1 -> 2
    would still read as true, which is no edit at all)."""
    real = {c["name"]: c["type"] for c in inspect(engine).get_columns(table)}
    columns = tuple(c for c in columns if c in real)  # derived fields (a batch's inputs) aside
    flags = {c for c in columns if isinstance(real[c], Boolean)}
    with engine.connect() as conn:
        query = f"SELECT {key}, {', '.join(columns)} FROM {table}"  # noqa: S608 (our names)
        rows = conn.execute(text(query)).all()
    return [
        (row[0], column, bool(value) if column in flags and value is not None else value)
        for row in rows
        for column, value in zip(columns, row[1:], strict=True)
        if changed(value) is not None
    ]


def plain_update(engine: Engine, sql: str, **params: Any) -> int:
    """Domain tables have no append-only triggers: a forger just runs the UPDATE."""
    with engine.begin() as conn:
        return conn.execute(text(sql), params).rowcount


@pytest.fixture
def demo_app(app):  # type: ignore[no-untyped-def]
    from demo import seed

    with app.app_context(), session_scope(engine_of(app)) as session:
        seed.seed_all(session=session)
    from evidence import service as evidence

    key = app.extensions["foodtrace"].extras["ledger_key"]
    with session_scope(engine_of(app)) as session:
        evidence.sign_checkpoint(session=session, key=key)
    return app


@pytest.mark.timeout(900)
def test_every_random_single_field_edit_is_detected_and_named(demo_app):
    engine = engine_of(demo_app)
    extras = demo_app.extensions["foodtrace"].extras
    projections, public_key = extras["projections"], extras["ledger_key"].signer().public_key

    by_table = {p.table: p for p in projections}

    def verify(table: str | None = None) -> ledger.VerifyReport:
        """The whole verification, or for one edit the log plus that table's projection (the
        other projections never read the edited table, so they cannot change the verdict)."""
        scoped = projections if table is None else [by_table[t] for t in [table] if t in by_table]
        with Session(engine) as session:
            return ledger.verify(session, public_key=public_key, projections=scoped)

    assert verify().ok, "the demo data must verify before it is tampered with"
    fields = [
        (table, key, pick)
        for table, key, columns in targets(projections)
        for pick in candidates(engine, table, key, columns)
    ]
    tables = {table for table, _, _ in fields}
    assert {"ledger_entry", "orders", "ingredient_lots", "complaint_cases"} <= tables
    rng = random.Random(20261123)
    missed, applied, refused = [], 0, 0
    while applied < EDITS:
        table, key, (row, column, value) = rng.choice(fields)
        sql = f"UPDATE {table} SET {column} = :value WHERE {key} = :row"  # noqa: S608
        edit = tamper if table.startswith("ledger_") else plain_update
        try:
            assert edit(engine, sql, value=changed(value), row=row) == 1
        except IntegrityError:  # the database itself refuses it (a foreign or unique key)
            refused += 1
            continue
        applied += 1
        try:
            report = verify(table)
        finally:
            edit(engine, sql, value=value, row=row)
        problem = report.problem
        if problem is None:
            missed.append(f"{table}.{column} of {key}={row}: not detected")
        elif table.startswith("ledger_"):
            if problem.index is None and problem.table != table:
                missed.append(f"{table}.{column} of {key}={row}: named {problem}")
        elif problem.table != table:
            missed.append(f"{table}.{column} of {key}={row}: named {problem}")
    assert not missed, f"{len(missed)} of {EDITS} edits missed or misnamed:\n" + "\n".join(
        sorted(set(missed))[:40]
    )
    assert refused < EDITS, "most edits should reach the rows"
    assert verify().ok, "every edit was reverted"
