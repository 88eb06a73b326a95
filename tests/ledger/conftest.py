"""Database fixtures for the ledger tests: a migrated SQLite file per test, and a PostgreSQL
database per module (reset between tests). PostgreSQL tests skip with the reason when the server
is unreachable, except under CI=true, where they fail."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from app import make_engine, upgrade_database
from ledger.keys import Signer, load_or_create_signing_key

PG_HOST = "127.0.0.1"
PG_ADMIN = f"host={PG_HOST} port=5432 user=postgres dbname=test connect_timeout=3"
ORIGIN = "foodtrace.test/ledger"


def pg_url(database: str) -> str:
    """SQLAlchemy URL of a database on the test PostgreSQL server."""
    return f"postgresql+psycopg://postgres@{PG_HOST}:5432/{database}"


@cache
def _pg_unreachable() -> str | None:
    try:
        psycopg.connect(PG_ADMIN, autocommit=True).close()
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def require_postgres() -> None:
    """Skip (or fail under CI=true) when PostgreSQL is unreachable."""
    reason = _pg_unreachable()
    if reason is None:
        return
    message = f"PostgreSQL unreachable at {PG_HOST}:5432: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; tests copy it."""
    path = tmp_path_factory.mktemp("ledger-template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the main file
    return path


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A fresh migrated SQLite database for one test."""
    path = tmp_path / "ledger.sqlite3"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A migrated PostgreSQL database for one test module, dropped afterwards."""
    require_postgres()
    name = f"ledger_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        engine = make_engine(pg_url(name))
        upgrade_database(engine)
        engine.dispose()
        yield name
    finally:  # also when the migration itself fails
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_engine(pg_database: str) -> Iterator[Engine]:
    """The module's PostgreSQL database with an empty ledger."""
    engine = make_engine(pg_url(pg_database), pool_size=2, max_overflow=2)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # skip triggers
        conn.exec_driver_sql("DELETE FROM ledger_salt")
        conn.exec_driver_sql("DELETE FROM ledger_checkpoint")
        conn.exec_driver_sql("DELETE FROM ledger_entry")
        conn.execute(text("UPDATE ledger_head SET size = 0, frontier = :empty"), {"empty": b""})
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The test runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_engine")


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the parametrised engine."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    """A fresh Ed25519 signing key named like a log origin."""
    return load_or_create_signing_key(tmp_path / "keys" / "ledger.pem", name=ORIGIN)
