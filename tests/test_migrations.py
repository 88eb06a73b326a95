"""The same migrations build the same schema from empty on SQLite and PostgreSQL."""

import sqlalchemy as sa
from sqlmodel import SQLModel

import app as composition
import models_registry  # noqa: F401


def test_migrations_create_every_model_table_on_both_databases(any_engine):
    tables = set(sa.inspect(any_engine).get_table_names())
    expected = set(SQLModel.metadata.tables)
    assert expected <= tables, f"tables without a migration: {expected - tables}"


def test_migrations_downgrade_to_empty_and_upgrade_again(any_engine):
    composition.upgrade_database(any_engine, "head")
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(composition.ROOT / "alembic.ini"))
    with any_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(sa.inspect(any_engine).get_table_names()) <= {"alembic_version"}
    composition.upgrade_database(any_engine)
    assert "users" in sa.inspect(any_engine).get_table_names()


def test_model_columns_match_the_migrated_columns(any_engine):
    inspector = sa.inspect(any_engine)
    for name, table in SQLModel.metadata.tables.items():
        migrated = {c["name"] for c in inspector.get_columns(name)}
        assert {c.name for c in table.columns} == migrated, name
