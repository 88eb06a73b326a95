"""Alembic environment: runs on the connection app.upgrade_database() hands over, or on the
database named by the application settings when invoked as the plain `alembic` command."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import app

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = app.make_engine(app.Settings.from_env().database_url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
