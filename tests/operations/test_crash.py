"""kill -9 during an order stream and a sensor stream: the web server and the MQTT subscriber die
mid-write and are restarted; every order and reading that was acknowledged is stored, and the
ledger verifies."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session

import ledger
from columns import utcnow
from tests.conftest import require_service
from tests.operations.test_production import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def call(port: int, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(
            method, path, body=data, headers={"Content-Type": "application/json", **headers}
        )
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw[:1] in (b"{", b"[") else None)
    except (OSError, http.client.HTTPException):
        return 0, None  # the server died under us: not acknowledged
    finally:
        conn.close()


class Process:
    """A service process in its own process group, killed with SIGKILL like a crash."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args, self.env = args, env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


@pytest.mark.timeout(300)
def test_acknowledged_orders_and_readings_survive_kill_9_of_web_and_subscriber(
    tmp_path, pg_url, pg_engine
):
    require_service("Mosquitto", "127.0.0.1", 1883)
    from accounts import service as accounts
    from demo import seed
    from sensors import service as sensors

    with Session(pg_engine) as session:
        seed.seed_all(session=session)
        student = accounts.create_user(session=session, email="crash@uni.edu", role="student")
        device_id = f"probe-{uuid.uuid4().hex[:8]}"
        device = sensors.register_device(session=session, device_id=device_id, box_id="BOX-C")
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "DATABASE_URL": pg_url,
        "FOODTRACE_INSTANCE": str(tmp_path / "instance"),
        "CELERY_BROKER_URL": "",  # tasks in-process: this test is about the web and the subscriber
        # set, even empty, prometheus_client writes its files there (empty: the working dir)
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }
    (tmp_path / "prometheus").mkdir()
    web = Process(
        [str(VENV_BIN / "gunicorn"), "--workers", "2", "--threads", "4", "--bind",
         f"127.0.0.1:{port}", "app:create_app()"], env,
    )  # fmt: skip
    client_id = f"ft-crash-{uuid.uuid4().hex[:8]}"
    subscriber = Process(
        [str(VENV_BIN / "flask"), "--app", "app", "sensors", "mqtt", "--client-id", client_id], env
    )
    web.start()
    subscriber.start()
    student_auth = {"Authorization": f"Bearer {student.api_token}"}
    device_auth = {"Authorization": f"Bearer {device.token}"}
    try:
        assert wait_for(lambda: call(port, "GET", "/healthz")[0] == 200, 90), "web never up"
        status, merchants = call(port, "GET", "/api/v1/merchants", **student_auth)
        assert status == 200
        menu = []
        for merchant in merchants["merchants"] if isinstance(merchants, dict) else merchants:
            _, found = call(port, "GET", f"/api/v1/merchants/{merchant['id']}/menu", **student_auth)
            menu += [(merchant["id"], i["id"]) for i in found["items"] if i["available"]]
        assert menu, "the demo has dishes to order"

        acknowledged_orders: list[int] = []
        acknowledged_http_readings: list[int] = []
        published_mqtt = 0
        stop = threading.Event()
        start_at = utcnow() - timedelta(hours=1)

        def order_stream() -> None:
            n = 0
            while not stop.is_set():
                merchant_id, item_id = menu[n % len(menu)]
                key = f"crash-{n}"
                line = {"menu_item_id": item_id, "quantity": 1}
                address = {"building": "Dorm 7", "room": "301"}
                body = {"merchant_id": merchant_id, "items": [line], "address": address}
                status, answer = call(port, "POST", "/api/v1/orders", body,
                                      **student_auth, **{"Idempotency-Key": key})  # fmt: skip
                if status in (200, 201, 202):
                    acknowledged_orders.append(int(answer["id"]))
                n += 1
                time.sleep(0.05)

        def http_readings() -> None:
            n = 0
            while not stop.is_set():
                at = start_at + timedelta(seconds=n)
                body = [{"time": at.isoformat(), "value": 4.0, "unit": "CEL"}]
                if call(port, "POST", "/api/v1/sensors/readings", body, **device_auth)[0] == 201:
                    acknowledged_http_readings.append(n)
                n += 1
                time.sleep(0.02)

        def mqtt_readings() -> None:
            nonlocal published_mqtt
            import paho.mqtt.client as mqtt
            from paho.mqtt.enums import CallbackAPIVersion

            publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
            publisher.connect("127.0.0.1", 1883)
            publisher.loop_start()
            try:
                n = 0
                while not stop.is_set():
                    at = start_at + timedelta(minutes=30, seconds=n)
                    payload = json.dumps({"time": at.isoformat(), "value": 3.0, "unit": "CEL"})
                    info = publisher.publish(
                        f"foodtrace/sensors/{device_id}/readings", payload, qos=1
                    )
                    info.wait_for_publish(10)  # the broker has it (PUBACK)
                    published_mqtt += 1
                    n += 1
                    time.sleep(0.02)
            finally:
                publisher.loop_stop()
                publisher.disconnect()

        time.sleep(2)  # the subscriber's persistent session exists before anything is published
        streams = [threading.Thread(target=f) for f in (order_stream, http_readings, mqtt_readings)]
        for thread in streams:
            thread.start()
        time.sleep(5)
        before_crash = (len(acknowledged_orders), len(acknowledged_http_readings), published_mqtt)
        web.kill()  # crash mid-write
        subscriber.kill()
        time.sleep(2)
        web.start()
        subscriber.start()
        assert wait_for(lambda: call(port, "GET", "/healthz")[0] == 200, 90), "web not back"
        time.sleep(5)
        stop.set()
        for thread in streams:
            thread.join(timeout=30)

        after = (len(acknowledged_orders), len(acknowledged_http_readings), published_mqtt)
        assert all(before_crash), f"the streams were running when it crashed: {before_crash}"
        assert all(a > b for a, b in zip(after, before_crash, strict=True)), (
            f"the streams went on after the restart: {before_crash} -> {after}"
        )
        with pg_engine.connect() as conn:
            stored_orders = set(conn.execute(text("SELECT id FROM orders")).scalars())
        missing = set(acknowledged_orders) - stored_orders
        assert not missing, f"acknowledged orders lost: {sorted(missing)[:20]}"

        def readings_stored() -> int:
            with pg_engine.connect() as conn:
                return int(conn.execute(text("SELECT count(*) FROM sensor_readings")).scalar_one())

        # the broker redelivers what the killed subscriber had not acknowledged
        expected = len(acknowledged_http_readings) + published_mqtt
        assert wait_for(lambda: readings_stored() >= expected, 60), (
            f"{readings_stored()} readings stored, {expected} acknowledged"
        )
        with Session(pg_engine) as session:
            report = ledger.verify(session)
        assert report.ok, str(report.problem)
    finally:
        web.kill()
        subscriber.kill()
