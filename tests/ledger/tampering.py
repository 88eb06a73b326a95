"""Tampering as an attacker with direct database access would do it: around the triggers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text


def tamper(engine: Engine, sql: str, **params: Any) -> int:
    """Run one statement with the append-only triggers bypassed; return the rows affected."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            return conn.execute(text(sql), params).rowcount
        triggers = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
        ).all()
        for name, _ in triggers:
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
        count = conn.execute(text(sql), params).rowcount
        for _, ddl in triggers:
            conn.exec_driver_sql(ddl)
        return count
