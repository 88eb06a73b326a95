"""Fixtures of the trace tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

import app as composition
from tests.conftest import TEST_DB
from tests.trace.campus import Campus, build_campus


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per run; each test gets a copy (migrating takes ~1 s)."""
    path = tmp_path_factory.mktemp("trace-template") / "template.sqlite3"
    engine = composition.make_engine(f"sqlite:///{path}")
    composition.upgrade_database(engine)
    engine.dispose()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture
def engine(settings: composition.Settings, migrated_sqlite: Path) -> Iterator[Engine]:
    """The test's database at head: a copy of the migrated template (SQLite) or a fresh clone
    of the migrated PostgreSQL template (see tests/conftest.py)."""
    if TEST_DB == "sqlite":
        shutil.copyfile(migrated_sqlite, settings.database_url.removeprefix("sqlite:///"))
    eng = composition.make_engine(settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def campus(session: Session) -> Campus:
    """Two merchants, two suppliers (one with an expired certificate), four products."""
    return build_campus(session)


@dataclass
class Caller:
    """A user of the API: bearer headers."""

    role: str
    token: str
    merchant_id: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def callers(app, campus: Campus) -> dict[str, Caller]:  # type: ignore[no-untyped-def]
    """One API user per role; "merchant" is bound to the North Canteen, "other" to the South."""
    from accounts import service as accounts
    from web.db import get_session

    out = {}
    with app.app_context():
        session = get_session()
        for name, role, merchant in (
            ("admin", "admin", None),
            ("desk", "desk", None),
            ("merchant", "merchant", campus.north),
            ("other", "merchant", campus.south),
            ("courier", "courier", None),
            ("student", "student", None),
            ("device", "device", None),
        ):
            created = accounts.create_user(
                session=session,
                email=f"{name}@trace.test",
                role=role,
                merchant_id=merchant,
                password="trace-tests-password",
            )
            out[name] = Caller(role, created.api_token, merchant)
    return out
