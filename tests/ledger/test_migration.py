"""0002_ledger: append-only triggers on SQLite and PostgreSQL; erasable salts; downgrade."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

import ledger
from ledger import Event


@pytest.fixture
def filled(engine: Engine, signer: ledger.Signer) -> Engine:
    with Session(engine) as session:
        ledger.append_many(
            session,
            [Event("test.fact", {"phone": "1"}, personal=frozenset({"phone"})) for _ in range(3)],
        )
        ledger.checkpoint(session, signer)
        session.commit()
    return engine


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entry SET entry = :b WHERE idx = 1",
        "UPDATE ledger_entry SET idx = 9 WHERE idx = 2",
        "DELETE FROM ledger_entry WHERE idx = 2",
        "DELETE FROM ledger_entry",
        "UPDATE ledger_checkpoint SET root = :b",
        "DELETE FROM ledger_checkpoint",
        "UPDATE ledger_salt SET salt = :b",
    ],
)
def test_triggers_reject_changes_to_the_log(filled: Engine, statement: str) -> None:
    with filled.connect() as conn:
        with pytest.raises(IntegrityError, match="rejected"):
            conn.execute(text(statement), {"b": b"forged"})
        conn.rollback()
    with Session(filled) as session:
        assert ledger.verify(session).ok


@pytest.mark.parametrize("table", ["ledger_entry", "ledger_checkpoint"])
def test_postgresql_rejects_truncate(pg_engine: Engine, table: str) -> None:
    with pg_engine.connect() as conn:
        with pytest.raises(DBAPIError, match="rejected"):
            conn.exec_driver_sql(f"TRUNCATE {table} CASCADE")
        conn.rollback()


def test_salts_can_be_deleted_for_erasure(filled: Engine) -> None:
    with filled.begin() as conn:
        assert conn.execute(text("DELETE FROM ledger_salt WHERE idx = 1")).rowcount == 1


def test_upgrade_then_downgrade_of_0002_alone(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from app import ROOT, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'steps.sqlite3'}")
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002_ledger")  # later revisions stay out of this test
    assert {"ledger_entry", "ledger_head", "ledger_checkpoint", "ledger_salt"} <= set(
        inspect(engine).get_table_names()
    )
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001_accounts")
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert not {t for t in tables if t.startswith("ledger_")}
    assert "users" in tables
