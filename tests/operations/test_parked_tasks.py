"""A broker outage never fails a request: tasks the broker refuses are parked in the database
and relayed to the workers once it is back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlmodel import Session

import app as composition
from operations import service, tasks
from tests.conftest import require_service
from tests.operations.proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
BROKER_DB = 15


@pytest.fixture
def broker():  # type: ignore[no-untyped-def]
    """Redis behind a proxy the test cuts (the outage) and restores; down at first."""
    proxy = TcpProxy(6379)
    yield proxy
    proxy.stop()


@pytest.fixture
def broker_app(tmp_path, database_url, engine, broker, monkeypatch):  # type: ignore[no-untyped-def]
    """An app in production mode whose broker is the proxy; yields (app, queue)."""
    # Celery reads CELERY_BROKER_URL from the environment before its own config (CI sets it)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    queue = f"ft-test-{uuid.uuid4().hex[:8]}"
    settings = composition.Settings.from_env(
        env={},
        instance_path=tmp_path / "instance",
        database_url=database_url,
        celery_broker_url=f"redis://127.0.0.1:{broker.port}/{BROKER_DB}",
        celery_queue=queue,
    )
    flask_app = composition.create_app(settings)
    previous = composition.task_runtime.flask_app
    composition.task_runtime.flask_app = flask_app
    composition.task_runtime.broker_down_until = 0.0
    yield flask_app, queue
    composition.task_runtime.flask_app = previous
    composition.task_runtime.broker_down_until = 0.0
    composition.engine_of(flask_app).dispose()


def parked(engine) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return service.parked_count(session=session)


def test_a_task_sent_while_the_broker_is_down_is_parked_and_the_next_ones_do_not_wait(
    broker_app, engine
):
    composition.enqueue(tasks.heartbeat)
    assert parked(engine) == 1
    started = time.monotonic()
    for _ in range(5):
        composition.enqueue(tasks.heartbeat)
    assert time.monotonic() - started < 1.0, "sends right after a failure must not retry"
    assert parked(engine) == 6


def test_the_relay_sends_oldest_first_and_keeps_the_rest_when_the_broker_fails(session):
    for n in range(4):
        service.park_task(session=session, task="ops.heartbeat", args=[n], error="down")
    sent: list[list[int]] = []

    def flaky(name: str, args: list[int]) -> None:
        if len(sent) == 2:
            raise ConnectionError("broker went away again")
        sent.append(args)

    assert service.relay_parked_tasks(session=session, send=flaky) == 2
    assert sent == [[0], [1]]
    assert service.parked_count(session=session) == 2
    assert service.relay_parked_tasks(session=session, send=lambda n, a: sent.append(a)) == 2
    assert sent == [[0], [1], [2], [3]]
    assert service.parked_count(session=session) == 0


@pytest.mark.redis
@pytest.mark.timeout(180)
def test_parked_tasks_run_on_a_real_worker_once_the_broker_is_back(
    broker_app, broker, engine, database_url, tmp_path
):
    require_service("Redis", "127.0.0.1", 6379)
    flask_app, queue = broker_app
    composition.enqueue(tasks.heartbeat)  # the outage: parked
    assert parked(engine) == 1

    broker.start()  # the broker is back: a real worker takes what the relay sends
    url = flask_app.extensions["foodtrace"].settings.celery_broker_url
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "app:celery", "worker", "--pool", "solo",
         "--loglevel", "WARNING", "-Q", queue, "--without-gossip", "--without-mingle"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": url,
             "CELERY_QUEUE": queue, "FOODTRACE_INSTANCE": str(tmp_path / "instance")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert tasks.relay_parked_tasks.apply().get() == 1  # what beat runs every 15 s
        assert parked(engine) == 0
        deadline, seen = time.monotonic() + 60, None
        while time.monotonic() < deadline and seen is None:
            with Session(engine) as session:
                seen = service.last_heartbeat(session=session)
            time.sleep(0.5)
        assert seen is not None, "the relayed task never ran on the worker"
    finally:
        worker.terminate()
        out = worker.communicate(timeout=30)[0].decode(errors="replace")
    assert "Traceback" not in out, out
