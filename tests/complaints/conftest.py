"""Fixtures for the complaint desk: one user per role (two students, two merchants), bearer
headers, cookie-signed-in clients, and a helper that opens a case through the API."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

import app as composition
from accounts import service as accounts
from tests.conftest import TEST_DB
from tests.e2e.conftest import browser_page, live_server  # noqa: F401  (browser fixtures)

PASSWORD = "long enough password"
ROLES = ("admin", "desk", "merchant", "courier", "student", "device")


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per run; tests get a copy (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("complaints-template") / "template.sqlite3"
    eng = composition.make_engine(f"sqlite:///{path}")
    composition.upgrade_database(eng)
    eng.dispose()  # the last connection to close folds the WAL back into the file
    assert not Path(f"{path}-wal").exists()
    return path


@pytest.fixture
def engine(settings: composition.Settings, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The test's migrated database: a copy of the template on SQLite (PostgreSQL databases
    are already cloned from a migrated template by tests/conftest.py)."""
    if TEST_DB == "sqlite":
        template = request.getfixturevalue("migrated_sqlite")
        shutil.copyfile(template, settings.database_url.removeprefix("sqlite:///"))
    eng = composition.make_engine(settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def shared_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One Flask app for the whole folder: building it registers every domain's blueprints,
    which costs more than most tests here; each test then points it at its own database."""
    folder = tmp_path_factory.mktemp("complaints-app")
    settings = composition.Settings.from_env(
        env={},
        instance_path=folder / "instance",
        database_url=f"sqlite:///{folder / 'unused.sqlite3'}",
        testing=True,
        rate_limit_storage_url="memory://",
    )
    flask_app = composition.create_app(settings)
    yield flask_app
    composition.engine_of(flask_app).dispose()


@pytest.fixture
def app(shared_app, settings: composition.Settings, engine: Engine):  # type: ignore[no-untyped-def]
    """The shared app on this test's database and instance folder (settings and engine are
    the test's own, swapped in app.extensions for the length of the test)."""
    state = shared_app.extensions["foodtrace"]
    saved = (state.settings, state.engine)
    state.settings, state.engine = settings, engine
    composition.task_runtime.flask_app = shared_app
    yield shared_app
    state.settings, state.engine = saved


@dataclass
class People:
    """Users by name and their bearer tokens."""

    users: dict[str, Any]
    tokens: dict[str, str]

    def auth(self, name: str) -> dict[str, str]:
        """Bearer header of a user."""
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def id(self, name: str) -> int:
        return int(self.users[name].id)


@pytest.fixture
def people(app) -> People:  # type: ignore[no-untyped-def]
    from web.db import get_session

    specs = {
        "admin": ("admin", None),
        "desk": ("desk", None),
        "desk2": ("desk", None),
        "merchant": ("merchant", 1),
        "merchant2": ("merchant", 2),
        "courier": ("courier", None),
        "student": ("student", None),
        "student2": ("student", None),
        "device": ("device", None),
    }
    users, tokens = {}, {}
    with app.app_context():
        s = get_session()
        for name, (role, merchant) in specs.items():
            made = accounts.create_user(
                session=s,
                email=f"{name}@uni.edu",
                role=role,
                password=PASSWORD,
                merchant_id=merchant,
                display_name=name.title(),
            )
            users[name], tokens[name] = made.user, made.api_token
    return People(users, tokens)


def signed_in(app, user):  # type: ignore[no-untyped-def]
    """A test client with a cookie session for `user` (as /login leaves it) and its CSRF
    token, for pages and forms. Pages answer in English unless a test asks otherwise."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    with client.session_transaction() as sess:
        sess["uid"] = user.id
        sess["csrf"] = "test-csrf-token"
    return client, "test-csrf-token"


def recent(hours: float = 3) -> str:
    """An onset a few hours ago, RFC 3339 with offset."""
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


def desk_case(**extra: Any) -> dict[str, Any]:
    """A valid body for the desk opening a phone case."""
    body: dict[str, Any] = {
        "category": "illness",
        "description": "Vomiting two hours after the chicken rice",
        "order_ids": [101, 102],
        "onset_at": recent(),
        "symptoms": ["vomiting", "nausea"],
        "channel": "phone",
        "complainant": {"name": "Zhang San", "phone": "+86 138 0013 8000", "email": "zs@mail.cn"},
    }
    body.update(extra)
    return body


@pytest.fixture
def open_case(client, people):  # type: ignore[no-untyped-def]
    """Open a case through the API as the desk (or as `as_`); returns the JSON answer."""

    def _open(as_: str = "desk", **extra: Any) -> dict[str, Any]:
        body = desk_case(**extra) if as_ != "student" else extra
        resp = client.post("/api/v1/cases", json=body, headers=people.auth(as_))
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()

    return _open
