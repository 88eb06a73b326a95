"""The production form started as `make run-prod` starts it: honcho runs the Procfile's web
(gunicorn, two workers), Celery worker and beat and the MQTT subscriber against PostgreSQL,
Redis and Mosquitto; each process does its job."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

import app as composition
from columns import utcnow
from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def request(port: int, method: str, path: str, body: bytes | None = None, **headers: str) -> int:
    """The status of one HTTP request to the served app (0 when nothing answers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        return int(conn.getresponse().status)
    except OSError:
        return 0
    finally:
        conn.close()


def readings_stored(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM sensor_readings")).scalar_one())


@pytest.mark.timeout(240)
def test_the_procfile_runs_web_worker_beat_and_mqtt_on_real_services(tmp_path, pg_url, pg_engine):
    require_service("Redis", "127.0.0.1", 6379)
    require_service("Mosquitto", "127.0.0.1", 1883)
    if not (VENV_BIN / "honcho").exists():
        pytest.fail("honcho is not installed in .venv (requirements.txt pins it)")
    from sensors import service as sensors

    device_id = f"probe-{uuid.uuid4().hex[:8]}"
    with Session(pg_engine) as session:
        token = sensors.register_device(session=session, device_id=device_id, box_id="BOX-1").token

    port, queue = free_port(), f"ft-prod-{uuid.uuid4().hex[:8]}"
    instance = tmp_path / "instance"
    (tmp_path / "prometheus").mkdir()
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "DATABASE_URL": pg_url,
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/3",
        "RATE_LIMIT_STORAGE_URL": "redis://127.0.0.1:6379/4",
        "CELERY_QUEUE": queue,
        "FOODTRACE_INSTANCE": str(instance),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "BIND": f"127.0.0.1:{port}",
        "WORKER_CONCURRENCY": "1",
        "MQTT_CLIENT_ID": f"ft-{queue}",
        "IN_PROCESS_BEAT": "false",
    }
    honcho = subprocess.Popen(
        [str(VENV_BIN / "honcho"), "start", "-f", "Procfile"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # web: gunicorn answers, and /healthz sees the database and the broker
        assert wait_for(lambda: request(port, "GET", "/healthz") == 200, 90), "web never healthy"
        body = json.dumps(
            [{"time": (utcnow() - timedelta(minutes=2)).isoformat(), "value": 3.5, "unit": "CEL"}]
        ).encode()
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        assert request(port, "POST", "/api/v1/sensors/readings", body, **auth) == 201
        assert readings_stored(pg_engine) == 1

        # mqtt: a QoS 1 message published to the broker is stored by the subscriber
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        publisher.connect("127.0.0.1", 1883)
        publisher.loop_start()
        try:
            reading = {"time": (utcnow() - timedelta(minutes=1)).isoformat(), "value": 4.0}
            reading["unit"] = "CEL"

            def published_and_stored() -> bool:
                topic = f"foodtrace/sensors/{device_id}/readings"
                publisher.publish(topic, json.dumps(reading).encode(), qos=1).wait_for_publish(5)
                return wait_for(lambda: readings_stored(pg_engine) == 2, 5)

            # the subscriber may still be connecting: a reading published twice is stored once
            assert wait_for(published_and_stored, 60), "the MQTT subscriber stored nothing"
        finally:
            publisher.loop_stop()
            publisher.disconnect()

        # worker: a task sent to the queue runs (the heartbeat it records is what beat sends)
        settings = composition.Settings.from_env(
            env={},
            instance_path=instance,
            database_url=pg_url,
            celery_broker_url=env["CELERY_BROKER_URL"],
            celery_queue=queue,
        )
        composition.configure_celery(settings)
        composition.celery.send_task("ops.heartbeat", queue=queue)
        from operations import service as operations

        def heartbeat_seen() -> bool:
            with Session(pg_engine) as session:
                return operations.last_heartbeat(session=session) is not None

        assert wait_for(heartbeat_seen, 60), "the Celery worker never ran the task"
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        try:
            out = honcho.communicate(timeout=60)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            out = honcho.communicate()[0].decode(errors="replace")
    for process in ("web.1", "worker.1", "beat.1", "mqtt.1"):
        assert f"{process} " in out or f"{process}|" in out, f"{process} never started:\n{out}"
    # while serving, no process failed; at shutdown the signal reaches Celery's pool children
    # too, and a task cut short there is logged as WorkerLostError (redelivered: acks_late)
    serving = out.split("SIGTERM received")[0]
    assert "Traceback" not in serving, serving
