"""Fixtures for reports: the complaint desk's per-test database and people, plus a campus
seeded with the demo data (merchants, lots, batches, orders, deliveries, readings) and one
illness case about six of its orders."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session

import app as composition
from columns import utcnow
from tests.complaints.conftest import (  # noqa: F401  (fixtures reused as they are)
    People,
    app,
    migrated_sqlite,
    people,
    shared_app,
)
from tests.conftest import TEST_DB
from tests.e2e.conftest import browser_page, live_server  # noqa: F401  (browser fixtures)

COMPLAINANT = {"name": "Li Wei", "phone": "13800138000", "email": "liwei@mail.cn"}


@pytest.fixture(scope="session")
def seeded_sqlite(
    migrated_sqlite: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The migrated template with the demo campus seeded once per run."""
    from demo.seed import seed_all

    path = tmp_path_factory.mktemp("reports-template") / "seeded.sqlite3"
    shutil.copyfile(migrated_sqlite, path)
    eng = composition.make_engine(f"sqlite:///{path}")
    with Session(eng, expire_on_commit=False) as s:
        seed_all(session=s)
    eng.dispose()
    return path


@pytest.fixture
def engine(settings: composition.Settings, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A seeded campus: a copy of the seeded template on SQLite, seeded here on PostgreSQL."""
    if TEST_DB == "sqlite":
        template = request.getfixturevalue("seeded_sqlite")
        shutil.copyfile(template, settings.database_url.removeprefix("sqlite:///"))
    eng = composition.make_engine(settings.database_url)
    if TEST_DB != "sqlite":
        from demo.seed import seed_all

        with Session(eng, expire_on_commit=False) as s:
            seed_all(session=s)
    yield eng
    eng.dispose()


def open_illness_case(session: Session, **extra: Any) -> int:
    """An illness case about orders 1-6 (merchants 1-3) with a named complainant."""
    from complaints import service

    data = {
        "channel": "phone",
        "category": "illness",
        "description": "Vomiting and diarrhoea after lunch",
        "symptoms": ["vomiting", "diarrhoea"],
        "onset_at": utcnow() - timedelta(hours=2),
        "n_party": 2,
        "n_ill": 2,
        "order_ids": [1, 2, 3, 4, 5, 6],
        "merchant_id": 1,
        "complainant": dict(COMPLAINANT),
        "consent": {"health_data_processing": True},
        **extra,
    }
    return int(service.open_case(session=session, data=data, actor="user:1").case.id)


@pytest.fixture
def case_id(app) -> int:  # type: ignore[no-untyped-def]  # noqa: F811
    from web.db import get_session

    with app.app_context():
        return open_illness_case(get_session())


def pdf_text(data: bytes) -> str:
    """All pages' text, whitespace collapsed (table cells wrap differently per language)."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((p.extract_text() or "").split()) for p in reader.pages)


def generate(
    client,
    people: People,  # noqa: F811
    case_id: int,
    who: str = "desk",
    **body: Any,
) -> dict:  # type: ignore[no-untyped-def]
    """POST a report request (tasks run before the response in tests) and read it back."""
    resp = client.post(f"/api/v1/cases/{case_id}/reports", json=body, headers=people.auth(who))
    assert resp.status_code == 202, resp.get_json()
    got = client.get(resp.headers["Location"], headers=people.auth(who))
    assert got.status_code == 200
    return got.get_json()
