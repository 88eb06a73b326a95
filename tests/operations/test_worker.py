"""A real Celery worker on Redis runs the heartbeat task enqueued by the app."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import app as composition
from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/15"


@pytest.mark.redis
@pytest.mark.timeout(120)
def test_a_real_worker_runs_enqueued_tasks(tmp_path, database_url, engine):
    require_service("Redis", "127.0.0.1", 6379)
    queue = f"ft-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": BROKER,
        "CELERY_QUEUE": queue,
        "FOODTRACE_INSTANCE": str(tmp_path / "instance"),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "app:celery",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        settings = composition.Settings.from_env(
            env={},
            instance_path=tmp_path / "instance",
            database_url=database_url,
            celery_broker_url=BROKER,
            celery_queue=queue,
        )
        flask_app = composition.create_app(settings)
        composition.task_runtime.flask_app = flask_app
        from operations import service, tasks

        composition.enqueue(tasks.heartbeat)
        deadline = time.monotonic() + 60
        seen = None
        while time.monotonic() < deadline and seen is None:
            with composition.session_scope(composition.engine_of(flask_app)) as s:
                seen = service.last_heartbeat(session=s)
            time.sleep(0.5)
        assert seen is not None, "the worker never ran the heartbeat"
    finally:
        worker.terminate()
        out = worker.communicate(timeout=30)[0].decode(errors="replace")
        composition.task_runtime.flask_app = None
        if "flask_app" in locals():
            composition.engine_of(flask_app).dispose()
    assert "Traceback" not in out, out
