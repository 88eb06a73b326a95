"""PostgreSQL goes away: requests get a quick 503 that names the problem, nothing is
half-written, and the service resumes by itself when the database is back."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlmodel import Session, select

import app as composition
import ledger
from accounts import service as accounts
from accounts.models import User
from tests.operations.proxy import TcpProxy


@pytest.fixture
def outage(pg_url, pg_engine, tmp_path):  # type: ignore[no-untyped-def]
    """(client, proxy, admin token): the app reaches PostgreSQL only through the proxy."""
    with Session(pg_engine) as session:
        token = accounts.create_user(session=session, email="admin@uni.edu", role="admin").api_token
    proxy = TcpProxy(urlsplit(pg_url).port or 5432).start()
    parts = urlsplit(pg_url)
    via_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    settings = composition.Settings.from_env(
        env={}, instance_path=tmp_path / "instance", database_url=via_proxy, testing=True
    )
    flask_app = composition.create_app(settings)
    yield flask_app.test_client(), proxy, token
    proxy.stop()
    composition.engine_of(flask_app).dispose()


def test_requests_get_a_quick_503_while_the_database_is_down_and_resume_after(outage, pg_engine):
    client, proxy, token = outage
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    size_before = _ledger_size(pg_engine)

    proxy.stop()  # the outage: pooled connections dropped, new ones refused
    started = time.monotonic()
    read = client.get("/api/v1/me", headers=auth)
    write = client.post(
        "/api/v1/users", headers=auth, json={"email": "late@uni.edu", "role": "desk"}
    )
    assert time.monotonic() - started < 10, "a request during an outage must fail quickly"
    for resp in (read, write):
        assert resp.status_code == 503
        assert resp.get_json()["error"]["code"] == "database_unavailable"
        assert resp.headers.get("Retry-After")

    proxy.start()  # back: the pool reconnects without a restart
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    with Session(pg_engine) as session:
        late = session.exec(select(User).where(User.email == "late@uni.edu")).first()
        assert late is None, "the write refused during the outage left a row"
        assert ledger.verify(session).ok
    assert _ledger_size(pg_engine) == size_before, "the refused write left a ledger entry"
    created = client.post(
        "/api/v1/users", headers=auth, json={"email": "late@uni.edu", "role": "desk"}
    )
    assert created.status_code == 201


def _ledger_size(engine) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return ledger.verify(session).size
