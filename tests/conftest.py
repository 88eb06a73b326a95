"""Shared fixtures: settings, migrated SQLite and PostgreSQL engines, the app and its clients.

Services that are not running make their tests skip with a printed reason, except under
CI=true, where a missing service is a failure.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

import app as composition

IN_CI = os.environ.get("CI", "").lower() == "true"
# `DATABASE_URL=postgresql://...` runs the whole suite on PostgreSQL (a fresh database per test).
TEST_DB = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
PG_ADMIN_URL = (
    os.environ.get("DATABASE_URL")
    if TEST_DB == "postgresql"
    else os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> None:
    from accounts import passwords

    passwords.use_cheap_parameters_for_tests()


def port_open(host: str, port: int) -> bool:
    """Whether something listens on host:port (a cheap check before connecting)."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or fail under CI=true) when a service is not reachable."""
    if port_open(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: services must be up)")
    print(f"SKIP: {message}")
    pytest.skip(message)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database for one test: SQLite by default, PostgreSQL when DATABASE_URL says so."""
    if TEST_DB == "postgresql":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> composition.Settings:
    """Settings for one test: its own database and instance folder, in-process tasks."""
    return composition.Settings.from_env(
        env={},
        instance_path=tmp_path / "instance",
        database_url=database_url,
        testing=True,
        rate_limit_storage_url="memory://",
    )


@pytest.fixture
def engine(settings: composition.Settings) -> Iterator[Engine]:
    """The test's database, migrated to head."""
    eng = composition.make_engine(settings.database_url)
    if TEST_DB == "sqlite":
        composition.upgrade_database(eng)  # PostgreSQL databases are cloned from a migrated one
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the migrated SQLite database."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


def _pg_admin_engine() -> Engine:
    return composition.make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A PostgreSQL database migrated once per test run, cloned by `pg_url`."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"ft_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    eng = composition.make_engine(url)
    composition.upgrade_database(eng)
    eng.dispose()
    yield name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database for one test (dropped afterwards)."""
    name = f"ft_t_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated PostgreSQL database."""
    eng = composition.make_engine(pg_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database, whatever DATABASE_URL says."""
    eng = composition.make_engine(f"sqlite:///{tmp_path / 'sqlite-only.sqlite3'}")
    composition.upgrade_database(eng)
    yield eng
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on both databases."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_engine")
    return request.getfixturevalue("pg_engine")


@pytest.fixture
def app(settings: composition.Settings, engine: Engine):  # type: ignore[no-untyped-def]
    """The Flask app on a migrated SQLite database."""
    flask_app = composition.create_app(settings)
    yield flask_app
    composition.engine_of(flask_app).dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def runner(app):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()
