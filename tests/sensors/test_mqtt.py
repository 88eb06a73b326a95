"""The MQTT channel: message handling without a broker, acks after commit, and end to end."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session

from columns import utcnow
from sensors import service
from sensors.mqtt import BrokerAddress, MqttRunner, ReadingSubscriber, topic_for
from tests.conftest import require_service
from tests.sensors.conftest import iso


@pytest.fixture
def subscriber(engine):
    with Session(engine) as s:
        service.register_device(session=s, device_id="probe-m", box_id="BOX-M")
    stored = []
    return ReadingSubscriber(engine=engine, on_stored=stored.append), stored


def reading(minutes_ago=1.0, value=4.5):
    return {"time": iso(utcnow() - timedelta(minutes=minutes_ago)), "value": value, "unit": "CEL"}


def count(engine):
    with engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM sensor_readings")).scalar_one()


def test_one_message_is_stored_and_anchored(subscriber, engine):
    sub, stored = subscriber
    result = sub.handle(topic_for("probe-m"), json.dumps(reading()).encode())
    assert result is not None and result.accepted == 1 and len(result.batches) == 1
    assert stored == [result] and count(engine) == 1


def test_an_array_message_and_a_resent_message(subscriber, engine):
    sub, _ = subscriber
    body = json.dumps([reading(3), reading(2)]).encode()
    assert sub.handle(topic_for("probe-m"), body).accepted == 2
    again = sub.handle(topic_for("probe-m"), body)
    assert (again.accepted, again.duplicates) == (0, 2)


@pytest.mark.parametrize(
    ("topic", "payload", "logged"),
    [
        ("foodtrace/sensors/probe-m/readings", b"\xff\xfe", "malformed"),
        ("foodtrace/sensors/probe-m/readings", b'{"time": 1', "malformed"),
        ("foodtrace/sensors/probe-m/readings", b'"hello"', "malformed"),
        ("foodtrace/sensors/nobody/readings", json.dumps(reading()).encode(), "unknown"),
        ("foodtrace/other/probe-m", json.dumps(reading()).encode(), "unexpected topic"),
    ],
)
def test_bad_messages_are_logged_and_dropped(subscriber, engine, caplog, topic, payload, logged):
    sub, _ = subscriber
    with caplog.at_level(logging.WARNING, logger="foodtrace.sensors.mqtt"):
        assert sub.handle(topic, payload) is None
    assert logged in caplog.text
    assert count(engine) == 0


def test_bad_readings_in_a_good_message_are_logged_and_the_rest_stored(subscriber, engine, caplog):
    sub, _ = subscriber
    body = json.dumps([reading(2), {"time": "yesterday", "value": 1, "unit": "CEL"}]).encode()
    with caplog.at_level(logging.WARNING, logger="foodtrace.sensors.mqtt"):
        assert sub.handle(topic_for("probe-m"), body).accepted == 1
    assert "rejected reading 1" in caplog.text


def test_a_revoked_device_is_dropped(subscriber, engine, caplog):
    sub, _ = subscriber
    with Session(engine) as s:
        service.revoke_device(session=s, device_id="probe-m")
    with caplog.at_level(logging.WARNING, logger="foodtrace.sensors.mqtt"):
        assert sub.handle(topic_for("probe-m"), json.dumps(reading()).encode()) is None
    assert "revoked" in caplog.text


def test_a_flush_of_many_devices_is_one_transaction(subscriber, engine):
    sub, _ = subscriber
    with Session(engine) as s:
        service.register_device(session=s, device_id="probe-n")
    messages = [
        (topic_for(d), json.dumps(reading(i)).encode())
        for i in (1, 2)
        for d in ("probe-m", "probe-n")
    ]
    flush = sub.handle_many([*messages, (topic_for("probe-m"), b"junk")])
    assert (flush.stored_messages, flush.dropped) == (4, 1)
    assert sorted(r.accepted for r in flush.results) == [2, 2]


class FakeClient:
    def __init__(self):
        self.acks = []

    def ack(self, mid, qos):
        self.acks.append((mid, qos))

    def disconnect(self):
        pass

    def loop_stop(self):
        pass


def test_messages_are_acknowledged_only_after_their_commit(subscriber, engine, monkeypatch):
    sub, _ = subscriber
    runner = MqttRunner(sub, BrokerAddress("127.0.0.1", 1883), flush_wait=0.001)
    runner.client = FakeClient()
    runner.pending.extend([(1, 1, topic_for("probe-m"), json.dumps(reading()).encode())])
    calls = {"n": 0}
    real = sub.handle_many

    def failing_once(messages):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database is down")
        return real(messages)

    monkeypatch.setattr(sub, "handle_many", failing_once)
    monkeypatch.setattr(runner.stop, "wait", lambda _t=None: False)
    assert runner.flush_once() == 0
    assert runner.client.acks == [] and len(runner.pending) == 1 and count(engine) == 0
    assert runner.flush_once() == 1
    assert runner.client.acks == [(1, 1)] and count(engine) == 1


def test_broker_urls():
    assert BrokerAddress.parse("mqtt://u:p@broker:1884") == BrokerAddress("broker", 1884, "u", "p")
    assert BrokerAddress.parse("mqtt://127.0.0.1").port == 1883
    with pytest.raises(ValueError):
        BrokerAddress.parse("http://x")


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.mqtt
def test_end_to_end_through_mosquitto(subscriber, engine):
    require_service("Mosquitto", "127.0.0.1", 1883)
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    sub, _ = subscriber
    runner = MqttRunner(
        sub,
        BrokerAddress("127.0.0.1", 1883),
        client_id=f"ft-test-{uuid.uuid4().hex[:8]}",
        flush_wait=0.02,
        session_expiry=0,
    )
    runner.start()
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    try:
        assert runner.connected.wait(10), "subscriber did not connect"
        time.sleep(0.3)  # the SUBACK
        publisher.connect("127.0.0.1", 1883)
        publisher.loop_start()
        publisher.publish(topic_for("probe-m"), b"{not json", qos=1).wait_for_publish(5)
        publisher.publish(
            topic_for("probe-m"), json.dumps(reading(2)).encode(), qos=1
        ).wait_for_publish(5)
        assert wait_for(lambda: count(engine) == 1), "the reading was not stored"
        assert thread.is_alive(), "a malformed message stopped the subscriber"
        publisher.publish(
            topic_for("probe-m"), json.dumps(reading(1)).encode(), qos=1
        ).wait_for_publish(5)
        assert wait_for(lambda: count(engine) == 2)
        with engine.connect() as c:
            types = (
                c.execute(
                    text(
                        "SELECT e.type FROM ledger_entry e "
                        "JOIN sensor_readings r ON r.ledger_index = e.idx"
                    )
                )
                .scalars()
                .all()
            )
        assert types == ["sensor.readings", "sensor.readings"]
        assert wait_for(lambda: runner.stored == 3)  # all three acknowledged, the bad one too
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        runner.stop.set()
        thread.join(timeout=10)


def test_a_share_group_subscribes_through_an_mqtt5_shared_subscription():
    from sensors.mqtt import TOPIC_FILTER, subscription

    assert subscription(None) == TOPIC_FILTER
    assert subscription("ingest") == "$share/ingest/foodtrace/sensors/+/readings"
    for bad in ("", "a/b", "a+b", "x" * 65):
        with pytest.raises(ValueError):
            subscription(bad)


@pytest.mark.mqtt
def test_two_subscribers_of_one_share_group_split_the_stream_and_store_each_reading_once(
    subscriber, engine
):
    require_service("Mosquitto", "127.0.0.1", 1883)
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    sub, _ = subscriber
    group = f"ft-test-{uuid.uuid4().hex[:8]}"
    runners = [
        MqttRunner(
            sub,
            BrokerAddress("127.0.0.1", 1883),
            client_id=f"{group}-{n}",
            flush_wait=0.02,
            session_expiry=0,
            share_group=group,
        )
        for n in range(2)
    ]
    threads = []
    for runner in runners:
        runner.start()
        threads.append(threading.Thread(target=runner.run, daemon=True))
        threads[-1].start()
    publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    try:
        assert all(r.connected.wait(10) for r in runners), "a subscriber did not connect"
        time.sleep(0.3)  # the SUBACKs
        publisher.connect("127.0.0.1", 1883)
        publisher.loop_start()
        for n in range(40):
            publisher.publish(
                topic_for("probe-m"), json.dumps(reading(30 - n * 0.5)).encode(), qos=1
            ).wait_for_publish(5)
        assert wait_for(lambda: sum(r.stored for r in runners) == 40), "not every message stored"
        assert count(engine) == 40  # each reading once, not once per subscriber
        assert all(r.stored > 0 for r in runners), "the broker did not share the stream"
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        for runner, thread in zip(runners, threads, strict=True):
            runner.stop.set()
            thread.join(timeout=10)
