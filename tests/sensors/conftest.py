"""Fixtures for the sensors service tests: users of every role, registered devices, readings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from accounts import service as accounts
from sensors import service
from tests.e2e.conftest import browser_page, live_server  # noqa: F401  (browser tests here)

ROLES = ("admin", "desk", "merchant", "courier", "student", "device")
MERCHANT_ID = 7
PASSWORD = "long enough password"


def iso(moment: datetime) -> str:
    """RFC 3339 with a Z, as devices send."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def readings(start: datetime, values: list[float], step: timedelta = timedelta(minutes=1)):
    """JSON readings `values` (°C) at start, start + step, ..."""
    return [
        {"time": iso(start + i * step), "value": v, "unit": "CEL"} for i, v in enumerate(values)
    ]


@dataclass
class World:
    """Users of every role (with tokens) and a helper to register devices, in one app."""

    app: Any
    tokens: dict[str, str]
    user_ids: dict[str, int]

    def session(self) -> Session:
        from app import engine_of

        return Session(engine_of(self.app), expire_on_commit=False)

    def device(
        self, device_id: str, box_id: str | None = None, *, bound_at: datetime | None = None
    ):
        """Register a device (bound to box_id since bound_at); returns NewDevice."""
        with self.session() as s:
            return service.register_device(
                session=s, device_id=device_id, box_id=box_id, now=bound_at
            )

    def auth(self, role_or_token: str) -> dict[str, str]:
        token = self.tokens.get(role_or_token, role_or_token)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(app) -> World:  # type: ignore[no-untyped-def]
    return build_world(app)


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory) -> Iterator[World]:  # type: ignore[no-untyped-def]
    """One app (SQLite) and its users for a whole module: for the read-only role matrices."""
    import app as composition

    folder = tmp_path_factory.mktemp("sensors-shared")
    settings = composition.Settings.from_env(
        env={},
        instance_path=folder / "instance",
        database_url=f"sqlite:///{folder / 'shared.sqlite3'}",
        testing=True,
    )
    engine = composition.make_engine(settings.database_url)
    composition.upgrade_database(engine)
    engine.dispose()
    flask_app = composition.create_app(settings)
    yield build_world(flask_app)
    composition.engine_of(flask_app).dispose()


def build_world(app) -> World:  # type: ignore[no-untyped-def]
    """Create one user per role (merchant bound to MERCHANT_ID) in the app's database."""
    from app import engine_of

    tokens, ids = {}, {}
    with Session(engine_of(app), expire_on_commit=False) as s:
        for role in ROLES:
            created = accounts.create_user(
                session=s,
                email=f"{role}@uni.edu",
                role=role,
                password=PASSWORD,
                merchant_id=MERCHANT_ID if role == "merchant" else None,
            )
            tokens[role] = created.api_token
            ids[role] = created.user.id
    return World(app=app, tokens=tokens, user_ids=ids)


@pytest.fixture
def login(client, world) -> Callable[[str], Any]:  # type: ignore[no-untyped-def]
    """Sign the test client in as a role (cookie session, English pages)."""
    return signer(client)


def signer(client) -> Callable[[str], Any]:  # type: ignore[no-untyped-def]
    """A function signing `client` in as a role."""

    def sign_in(role: str) -> Any:
        client.get("/lang/en")
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        resp = client.post(
            "/login",
            data={"email": f"{role}@uni.edu", "password": PASSWORD, "csrf_token": token},
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client

    return sign_in


def csrf(client) -> str:  # type: ignore[no-untyped-def]
    """The session's CSRF token, read from a page that carries one."""
    page = client.get("/").get_data(as_text=True)
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
