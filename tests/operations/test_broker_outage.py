"""Redis (the broker and the rate-limit store) goes away under use: students still order and
report problems, and the work their requests queued runs once Redis is back."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlmodel import Session

import app as composition
from accounts import service as accounts
from columns import utcnow
from operations import service as operations
from tests.conftest import require_service
from tests.operations.proxy import TcpProxy


@pytest.fixture
def outage(tmp_path, database_url, engine, monkeypatch):  # type: ignore[no-untyped-def]
    """(client, proxy, student token, menu) with Redis reachable only through the proxy."""
    # Celery reads CELERY_BROKER_URL from the environment before its own config (CI sets it)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    require_service("Redis", "127.0.0.1", 6379)
    from demo import seed

    proxy = TcpProxy(6379).start()
    settings = composition.Settings.from_env(
        env={},
        instance_path=tmp_path / "instance",
        database_url=database_url,
        celery_broker_url=f"redis://127.0.0.1:{proxy.port}/15",
        celery_queue=f"ft-test-{uuid.uuid4().hex[:8]}",
        rate_limit_storage_url=f"redis://127.0.0.1:{proxy.port}/14",
        testing=True,
    )
    flask_app = composition.create_app(settings)
    previous = composition.task_runtime.flask_app
    composition.task_runtime.flask_app = flask_app
    composition.task_runtime.broker_down_until = 0.0
    with flask_app.app_context(), composition.session_scope(engine) as session:
        seed.seed_all(session=session)
        token = accounts.create_user(session=session, email="s@uni.edu", role="student").api_token
    yield flask_app.test_client(), proxy, token
    proxy.stop()
    composition.task_runtime.flask_app = previous
    composition.task_runtime.broker_down_until = 0.0
    composition.engine_of(flask_app).dispose()


def test_orders_and_complaints_are_accepted_while_redis_is_down(outage, engine):
    client, proxy, token = outage
    auth = {"Authorization": f"Bearer {token}"}
    merchants = client.get("/api/v1/merchants", headers=auth).get_json()["merchants"]
    dish = None
    for merchant in merchants:
        items = client.get(f"/api/v1/merchants/{merchant['id']}/menu", headers=auth).get_json()
        available = [i for i in items["items"] if i["available"]]
        if available:
            dish = (merchant["id"], available[0]["id"])
            break
    assert dish is not None, "the demo has a dish to order"

    proxy.stop()  # Redis is gone: broker and rate-limit storage
    order = client.post(
        "/api/v1/orders",
        headers={**auth, "Idempotency-Key": "outage-1"},
        json={
            "merchant_id": dish[0],
            "items": [{"menu_item_id": dish[1], "quantity": 1}],
            "address": {"building": "Dorm 3", "room": "204"},
        },
    )
    assert order.status_code in (201, 202), order.get_json()
    case = client.post(
        "/api/v1/cases",
        headers={**auth, "Idempotency-Key": "outage-case-1"},
        json={
            "category": "illness",
            "description": "Stomach cramps after lunch",
            "order_ids": [order.get_json()["id"]],
            "onset_at": (utcnow() - timedelta(hours=2)).isoformat(),
            "symptoms": ["cramps"],
        },
    )
    assert case.status_code == 201, case.get_json()
    assert client.get(f"/api/v1/orders/{order.get_json()['id']}", headers=auth).status_code == 200
    from operations import tasks

    composition.enqueue(tasks.heartbeat)  # work a request queues during the outage is parked

    proxy.start()  # back: what was parked is sent
    with Session(engine) as session:
        parked = operations.parked_count(session=session)
        sent = operations.relay_parked_tasks(
            session=session,
            send=lambda name, args: composition.celery.send_task(name, args=args),
        )
        assert parked >= 1 and sent == parked, (sent, parked)
        assert operations.parked_count(session=session) == 0
    import redis

    queue = client.application.extensions["foodtrace"].settings.celery_queue
    waiting = redis.Redis(port=6379, db=15)
    try:
        assert waiting.llen(queue) == parked, "the relayed tasks wait in the broker's queue"
        waiting.delete(queue)
    finally:
        waiting.close()
