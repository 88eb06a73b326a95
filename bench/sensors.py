"""Sensors benchmarks: HTTP batch ingest, bytes per reading, judging 10M stored readings, MQTT.

    .venv/bin/python bench/sensors.py                   # full scale (about 10 minutes)
    BENCH_SCALE=0.02 .venv/bin/python bench/sensors.py  # smoke run

- HTTP ingest: 1,000 readings a request through the Flask test client (in-process: the full
  WSGI app - auth, JSON parsing, validation, dedupe, the ledger batch entry, bulk insert - but
  no socket), on SQLite (the embedded default) and PostgreSQL (COPY). Baseline: the same rows
  inserted bare (sqlite3 executemany / psycopg COPY, one transaction per 1,000).
- Bytes per reading: table + indexes of sensor_readings after the HTTP run (SQLite dbstat,
  PostgreSQL pg_total_relation_size); the ledger's share per reading is in the note.
- Judging: 10,000,000 readings bulk-loaded bare (100 devices in 100 boxes, one every 10 s),
  read back from the database and judged across their ~40-minute deliveries by
  sensors.history.judge_stored_deliveries. Baseline: the bare read of the same readings.
- MQTT: a publisher process sends one-reading QoS 1 messages at 5,000/s for 60 s to
  Mosquitto (127.0.0.1:1883); the subscriber (sensors.mqtt, in this process) stores them;
  every published message must be stored and acknowledged. Baseline: the same publisher at
  full speed against a subscriber that only counts and acknowledges. Beside it, the
  subscriber's own capacity without a broker (flushes of 1,000 messages from 50 devices).
PostgreSQL figures use BENCH_POSTGRES (default postgres@127.0.0.1:5432); unreachable services
are skipped with a printed reason.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

import app as composition  # noqa: E402
from bench.harness import record, write  # noqa: E402
from sensors import service, store  # noqa: E402
from sensors.history import judge_stored_deliveries  # noqa: E402
from sensors.records import to_micros  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
PG_ADMIN = os.environ.get("BENCH_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=test")
PER_REQUEST = 1000
COLUMNS = "at, celsius, ledger_index, device, position, flags"
MQTT_RATE = 5000
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
START = datetime(2025, 9, 1, tzinfo=UTC)


def scaled(n: int, least: int = 1) -> int:
    return max(least, int(n * SCALE))


# --------------------------------------------------------------------------- databases


@contextmanager
def sqlite_url() -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="bench-sensors-"))
    try:
        yield f"sqlite:///{folder / 'sensors.sqlite3'}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_url() -> Iterator[str | None]:
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        print(f"PostgreSQL figures skipped: unreachable ({exc})", flush=True)
        yield None
        return
    name = f"bench_sensors_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    params = psycopg.conninfo.conninfo_to_dict(PG_ADMIN)
    user, host = params.get("user", "postgres"), params.get("host", "127.0.0.1")
    url = f"postgresql://{user}@{host}:{params.get('port', 5432)}/{name}"
    try:
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def make_app(url: str) -> Any:
    folder = Path(tempfile.mkdtemp(prefix="bench-sensors-app-"))
    settings = composition.Settings.from_env(
        env={}, instance_path=folder, database_url=url, testing=True
    )
    engine = composition.make_engine(settings.database_url)
    composition.upgrade_database(engine)
    engine.dispose()
    return composition.create_app(settings)


# --------------------------------------------------------------------------- HTTP ingest


def request_bodies(count: int, offset: int) -> list[bytes]:
    """`count` JSON bodies of 1,000 one-second-apart readings (distinct times)."""
    bodies = []
    for r in range(count):
        base = START + timedelta(seconds=(offset + r) * PER_REQUEST)
        items = [
            {
                "time": (base + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
                "value": round(4 + 2 * math.sin(i / 50), 2),
                "unit": "CEL",
            }
            for i in range(PER_REQUEST)
        ]
        bodies.append(json.dumps(items).encode())
    return bodies


def http_ingest(flask_app: Any, requests: int) -> tuple[float, float, int]:
    """Readings per second through POST /api/v1/sensors/readings; returns (rate, rate per
    second of this process's CPU time, stored)."""
    engine = composition.engine_of(flask_app)
    with Session(engine) as session:
        token = service.register_device(session=session, device_id="bench-1", box_id="B1").token
    client = flask_app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    warm = request_bodies(3, 0)
    bodies = request_bodies(requests, 3)
    for body in warm:
        assert (
            client.post("/api/v1/sensors/readings", data=body, headers=headers).status_code == 201
        )
    t0, c0 = time.perf_counter(), time.process_time()
    for body in bodies:
        resp = client.post("/api/v1/sensors/readings", data=body, headers=headers)
        assert resp.status_code == 201, resp.get_data(as_text=True)[:300]
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    readings = requests * PER_REQUEST
    return readings / elapsed, readings / cpu, (requests + 3) * PER_REQUEST


def bare_rows(count: int) -> list[list[tuple[int, float, int, int, int, int]]]:
    """The same row shape the ingest writes, 1,000 a transaction."""
    base = to_micros(START)
    return [
        [(base + (b * PER_REQUEST + i) * 1_000_000, 4.5, b, 1, i, 0) for i in range(PER_REQUEST)]
        for b in range(count)
    ]


def bare_sqlite(count: int) -> float:
    """Baseline: sqlite3 executemany into a table shaped like sensor_readings (WAL)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-bare-"))
    conn = sqlite3.connect(folder / "bare.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE r (id INTEGER PRIMARY KEY, at BIGINT NOT NULL, celsius FLOAT NOT NULL, "
        "ledger_index BIGINT NOT NULL, device INTEGER NOT NULL, position SMALLINT NOT NULL, "
        "flags SMALLINT NOT NULL, UNIQUE (device, at))"
    )
    batches = bare_rows(count)
    t0 = time.perf_counter()
    for rows in batches:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO r (at, celsius, ledger_index, device, position, flags) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    shutil.rmtree(folder, ignore_errors=True)
    return count * PER_REQUEST / elapsed


def bare_postgres(url: str, count: int) -> float:
    """Baseline: psycopg COPY into a table shaped like sensor_readings."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE bare_r (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, celsius FLOAT "
            "NOT NULL, ledger_index BIGINT NOT NULL, device INTEGER NOT NULL, position SMALLINT "
            "NOT NULL, flags SMALLINT NOT NULL, UNIQUE (device, at))"
        )
        conn.commit()
        batches = bare_rows(count)
        t0 = time.perf_counter()
        for rows in batches:
            data = "".join(f"{a}\t{c!r}\t{i}\t{d}\t{p}\t{f}\n" for a, c, i, d, p, f in rows)
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY bare_r (at, celsius, ledger_index, device, position, flags) FROM STDIN"
                ) as copy,
            ):
                copy.write(data)
            conn.commit()
        elapsed = time.perf_counter() - t0
        conn.execute("DROP TABLE bare_r")
        conn.commit()
    return count * PER_REQUEST / elapsed


def bytes_per_reading(engine: Engine) -> tuple[float, float]:
    """(bytes of sensor_readings and its indexes, bytes of the ledger) per stored reading."""
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM sensor_readings")).scalar_one()
        if engine.dialect.name == "sqlite":
            sizes: dict[str, int] = dict(
                conn.execute(text("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")).all()
            )
            index = [k for k in sizes if k.startswith("sqlite_autoindex_sensor_readings")]
            readings = sizes["sensor_readings"] + sum(sizes[k] for k in index)
            ledger = sum(v for k, v in sizes.items() if "ledger" in k)
        else:
            conn.execute(text("ANALYZE"))
            readings = conn.execute(
                text("SELECT pg_total_relation_size('sensor_readings')")
            ).scalar_one()
            ledger = conn.execute(
                text(
                    "SELECT pg_total_relation_size('ledger_entry') + "
                    "pg_total_relation_size('ledger_head')"
                )
            ).scalar_one()
    return readings / n, ledger / n


def http_figures(label: str, url: str, requests: int) -> None:
    flask_app = make_app(url)
    rate, cpu_rate, stored = http_ingest(flask_app, requests)
    engine = composition.engine_of(flask_app)
    if label == "sqlite":
        baseline, base_label = bare_sqlite(requests), "bare sqlite3 executemany of the same rows"
    else:
        baseline, base_label = bare_postgres(url, requests), "bare psycopg COPY of the same rows"
    target = 50_000 if label == "sqlite" else 100_000
    record(
        f"sensors.http_ingest.{label}",
        value=rate,
        unit="readings/s",
        target=target,
        higher_is_better=True,
        baseline=baseline,
        baseline_label=base_label,
        note=f"{requests:,} requests of 1,000 via the Flask test client, validated and anchored; "
        f"{cpu_rate:,.0f} readings/s of this process's CPU time; load {os.getloadavg()[0]:.1f}",
    )
    per, ledger_per = bytes_per_reading(engine)
    record(
        f"sensors.bytes_per_reading.{label}",
        value=per,
        unit="bytes",
        target=None,
        higher_is_better=False,
        note=f"sensor_readings + indexes over {stored:,} readings; the ledger adds "
        f"{ledger_per:.2f} bytes a reading (one entry per 1,000)",
    )
    engine.dispose()


# --------------------------------------------------------------------------- judging


def load_readings(engine: Engine, devices: list[int], per_device: int, step_s: int) -> float:
    """Bulk-load bare readings (no ledger entries: this measures judging); returns seconds."""
    base = to_micros(START)
    rng = np.random.default_rng(7)
    t0 = time.perf_counter()
    pg = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        dbapi: Any = conn.connection.dbapi_connection
        for k, device in enumerate(devices):
            at = base + np.arange(per_device, dtype=np.int64) * step_s * 1_000_000
            hot = k % 2 == 0  # box k carries hot food when k is even (see judging_figures)
            level = 65.0 if hot else 4.0
            celsius = (
                level + 2.5 * np.sin(np.arange(per_device) / 40) + rng.normal(0, 0.4, per_device)
            )
            dips = rng.integers(0, per_device, per_device // 500)
            for d in dips:  # an excursion of a few minutes every ~80 minutes of data
                celsius[d : d + 20] += -12.0 if hot else 6.0
            celsius = np.round(celsius, 2)
            conn.execute(text("SELECT 1"))  # begin the transaction the raw calls join
            if pg:
                data = "".join(
                    f"{a}\t{c!r}\t0\t{device}\t0\t0\n"
                    for a, c in zip(at.tolist(), celsius.tolist(), strict=True)
                )
                with (
                    dbapi.cursor() as cur,
                    cur.copy(f"COPY sensor_readings ({COLUMNS}) FROM STDIN") as copy,
                ):
                    copy.write(data)
            else:
                rows = [
                    (a, c, 0, device, 0, 0)
                    for a, c in zip(at.tolist(), celsius.tolist(), strict=True)
                ]
                conn.exec_driver_sql(
                    f"INSERT INTO sensor_readings ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608
                    rows,
                )
            conn.commit()
    return time.perf_counter() - t0


def judging_figures(label: str, url: str) -> None:
    n_devices = 100
    per_device = scaled(100_000, 100)
    step_s = 10
    engine = composition.make_engine(url)
    composition.upgrade_database(engine)
    with Session(engine, expire_on_commit=False) as session:
        devices: list[int] = []
        for k in range(n_devices):
            made = service.register_device(
                session=session,
                device_id=f"judge-{k}",
                box_id=f"BOX-{k}",
                now=START - timedelta(days=1),
            )
            assert made.device.id is not None
            devices.append(made.device.id)
    load_s = load_readings(engine, devices, per_device, step_s)
    total = n_devices * per_device
    # Back-to-back deliveries of 40 minutes with 5 minutes between, in every box.
    span = per_device * step_s
    starts = np.arange(0, span - 45 * 60, 45 * 60)
    rows = []
    classes = ("hot", "cold")
    delivery = 0
    for k in range(n_devices):
        pickup = pd.to_datetime(to_micros(START) + starts * 1_000_000, unit="us", utc=True)
        for p in pickup:
            rows.append((delivery, f"BOX-{k}", p, p + timedelta(minutes=40), classes[k % 2]))
            delivery += 1
    deliveries = pd.DataFrame(
        rows, columns=["delivery_id", "box_id", "pickup_at", "dropoff_at", "food_class"]
    )
    with Session(engine) as session:
        t0 = time.perf_counter()
        result = judge_stored_deliveries(session=session, deliveries=deliveries, profile="gb31654")
        judge_s = time.perf_counter() - t0
        session.rollback()
        t0 = time.perf_counter()
        scanned = store.scan_devices(session.connection(), devices, 0, 2**62)
        read_s = time.perf_counter() - t0
    judged = int(result["n_readings"].sum())
    verdicts = result["verdict"].value_counts().to_dict()
    target = 20.0 * total / 10_000_000
    record(
        f"sensors.judge_stored.{label}",
        value=judge_s,
        unit="s",
        target=round(target, 3),
        higher_is_better=False,
        baseline=read_s,
        baseline_label=f"bare read of the {len(scanned):,} readings",
        note=f"{total:,} stored readings ({judged:,} inside {len(deliveries):,} deliveries) read "
        f"back and judged; verdicts {verdicts}; bulk load took {load_s:.0f} s",
    )
    engine.dispose()


# --------------------------------------------------------------------------- MQTT


def publisher(rate: int, seconds: float, devices: list[str], out: Any, go: Any) -> None:
    """Publish one-reading QoS 1 messages at `rate`/s (0: as fast as the client goes)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

    acked = {"n": 0}
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}"
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(20_000)  # message ids wrap at 65,535: keep well below

    def on_publish(_c: Any, _u: Any, _mid: int, _rc: Any, _p: Any) -> None:
        acked["n"] += 1

    client.on_publish = on_publish
    client.connect(MQTT_HOST, MQTT_PORT)
    client.loop_start()
    # Messages are made before the clock starts: the publisher measures the channel, not itself.
    base = datetime.now(UTC) - timedelta(hours=2)
    planned = int((rate or 20_000) * seconds * 1.05) + 1000
    messages = [
        (
            f"foodtrace/sensors/{devices[k % len(devices)]}/readings",
            json.dumps(
                {
                    "time": (base + timedelta(milliseconds=k)).isoformat().replace("+00:00", "Z"),
                    "value": 4 + k % 7 / 10,
                    "unit": "CEL",
                }
            ),
        )
        for k in range(planned)
    ]
    go.wait()
    sent = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        now = time.perf_counter()
        if now >= deadline or sent >= len(messages):
            break
        due = int((now - t0) * rate) + 1 if rate else sent + 500
        while sent < min(due, len(messages)):
            topic, body = messages[sent]
            while client.publish(topic, body, qos=1).rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                time.sleep(0.001)  # back-pressure: the broker has not acked enough yet
            sent += 1
        if rate:
            time.sleep(0.001)
    publish_s = time.perf_counter() - t0
    deadline = time.monotonic() + 60
    while acked["n"] < sent and time.monotonic() < deadline:
        time.sleep(0.01)
    client.loop_stop()
    client.disconnect()
    out.put((sent, acked["n"], publish_s))


def publisher_result(proc: Any, out: Any, timeout: float) -> tuple[int, int, float]:
    """Wait for the publisher's (sent, acked, seconds); fail fast if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not out.empty():
            return out.get()
        if proc.exitcode not in (None, 0):
            raise RuntimeError(f"the publisher process failed (exit code {proc.exitcode})")
        time.sleep(0.2)
    raise TimeoutError("the publisher did not finish")


def run_publisher(rate: int, seconds: float, devices: list[str]) -> tuple[Any, Any, Any]:
    ctx = multiprocessing.get_context("spawn")
    out, go = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=publisher, args=(rate, seconds, devices, out, go), daemon=True)
    proc.start()
    return proc, out, go


def mqtt_baseline(devices: list[str], seconds: float) -> float:
    """The paho publish loop at full speed against a subscriber that only counts and acks."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    count = {"n": 0}
    done = threading.Event()
    sub = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"bench-bare-{uuid.uuid4().hex[:6]}",
    )

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        count["n"] += 1

    sub.on_message = on_message
    sub.on_subscribe = lambda *_a: done.set()
    sub.connect(MQTT_HOST, MQTT_PORT)
    sub.loop_start()
    sub.subscribe("foodtrace/sensors/+/readings", qos=1)
    done.wait(5)
    proc, out, go = run_publisher(0, seconds, devices)
    time.sleep(1.0)
    go.set()
    sent, _acked, publish_s = publisher_result(proc, out, seconds + 120)
    proc.join(10)
    deadline = time.monotonic() + 30
    while count["n"] < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    sub.loop_stop()
    sub.disconnect()
    return min(count["n"], sent) / publish_s


def mqtt_figures(label: str, url: str) -> None:
    from sensors.mqtt import BrokerAddress, MqttRunner, ReadingSubscriber
    from tests.conftest import port_open

    if not port_open(MQTT_HOST, MQTT_PORT):
        print(
            f"MQTT figures skipped: Mosquitto is not reachable on {MQTT_HOST}:{MQTT_PORT}",
            flush=True,
        )
        return
    seconds = max(5.0, 60.0 * SCALE)
    engine = composition.make_engine(url)
    composition.upgrade_database(engine)
    devices = [f"mqtt-{k}" for k in range(50)]
    with Session(engine) as session:
        for device in devices:
            service.register_device(session=session, device_id=device, box_id=f"MBOX-{device}")
    runner = MqttRunner(
        ReadingSubscriber(engine=engine),
        BrokerAddress(MQTT_HOST, MQTT_PORT),
        client_id=f"bench-ingest-{uuid.uuid4().hex[:6]}",
        session_expiry=0,
    )
    runner.start()
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    assert runner.connected.wait(10)
    time.sleep(0.5)
    proc, out, go = run_publisher(MQTT_RATE, seconds, devices)
    time.sleep(1.0)
    go.set()
    t0 = time.perf_counter()
    sent, acked, publish_s = publisher_result(proc, out, seconds + 180)
    proc.join(10)
    deadline = time.monotonic() + 120
    while runner.stored < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    drained_s = time.perf_counter() - t0
    runner.stop.set()
    thread.join(30)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM sensor_readings")).scalar_one()
    engine.dispose()
    lost = sent - stored
    rate = stored / max(publish_s, drained_s)
    baseline = mqtt_baseline(devices, min(seconds, 10.0))
    record(
        f"sensors.mqtt_sustained.{label}",
        value=rate,
        unit="messages/s",
        target=MQTT_RATE,
        higher_is_better=True,
        baseline=baseline,
        baseline_label="paho publish loop at full speed, subscriber only counting",
        note=f"{sent:,} published at {MQTT_RATE}/s for {publish_s:.0f} s, {stored:,} stored "
        f"({lost} lost; broker acked {acked:,}); all stored {drained_s - publish_s:.1f} s "
        "after the last publish",
    )
    record(
        f"sensors.mqtt_lost.{label}",
        value=lost,
        unit="messages",
        target=0,
        higher_is_better=False,
        note=f"of {sent:,} QoS 1 messages",
    )


def flush_capacity(label: str, url: str) -> None:
    """The MQTT path without a broker: ReadingSubscriber.handle_many on flushes of 1,000
    one-reading messages from 50 devices (where the subscriber's own time goes)."""
    from sensors.mqtt import ReadingSubscriber, topic_for

    engine = composition.make_engine(url)
    composition.upgrade_database(engine)
    devices = [f"flush-{k}" for k in range(50)]
    with Session(engine) as session:
        for device in devices:
            service.register_device(session=session, device_id=device, box_id=f"FBOX-{device}")
    subscriber = ReadingSubscriber(engine=engine)
    base = datetime.now(UTC) - timedelta(hours=3)
    flushes = scaled(60, 3)
    batches = [
        [
            (
                topic_for(devices[k % 50]),
                json.dumps(
                    {
                        "time": (base + timedelta(milliseconds=k)).isoformat(),
                        "value": 4.5,
                        "unit": "CEL",
                    }
                ).encode(),
            )
            for k in range(f * 1000, (f + 1) * 1000)
        ]
        for f in range(flushes + 2)
    ]
    for batch in batches[:2]:
        subscriber.handle_many(batch)
    t0 = time.perf_counter()
    for batch in batches[2:]:
        subscriber.handle_many(batch)
    elapsed = time.perf_counter() - t0
    engine.dispose()
    record(
        f"sensors.mqtt_flush_capacity.{label}",
        value=flushes * 1000 / elapsed,
        unit="messages/s",
        target=None,
        higher_is_better=True,
        note=f"{flushes} flushes of 1,000 messages from 50 devices through ReadingSubscriber, "
        "no broker: validation, one ledger write, bulk insert, commit",
    )


def main() -> None:
    requests = scaled(200, 5)
    with sqlite_url() as url:
        http_figures("sqlite", url, requests)
    with postgres_url() as url:
        if url is not None:
            http_figures("postgresql", url, requests)
    with sqlite_url() as url:
        judging_figures("sqlite", url)
    with postgres_url() as url:
        if url is not None:
            judging_figures("postgresql", url)
    with postgres_url() as url:
        if url is not None:
            flush_capacity("postgresql", url)
    with sqlite_url() as url:
        flush_capacity("sqlite", url)
    with postgres_url() as url:
        if url is not None:
            mqtt_figures("postgresql", url)
    with sqlite_url() as url:
        mqtt_figures("sqlite", url)
    write()


if __name__ == "__main__":
    main()
