"""Mixed load: orders, sensor readings, complaints and report generation at once, for 10 minutes.

    .venv/bin/python bench/load.py                   # 600 s of traffic (about 13 minutes)
    BENCH_SCALE=0.05 .venv/bin/python bench/load.py  # 30 s smoke run

The production form on this machine: gunicorn (2 workers x 8 threads) and one Celery worker
(reports render there) on a fresh PostgreSQL database (BENCH_POSTGRES_URL), Redis as broker and
rate-limit store (BENCH_REDIS_URL), the demo data plus 40 students and 5 sensors. Clients are
threads in this process sending on an open-loop schedule, so queueing counts in the latency:

- orders: 20/s (students spread so no per-student limit bites);
- readings: 10 requests/s of 100 readings (1,000 readings/s);
- complaints: one every 2 s, about an order the student placed;
- reports: one every 20 s, for a case opened in the run.

Rates are a fraction of each module's own target because they all share 2 cores with the
clients. Figures: per kind, the error rate (5xx, timeouts and refused connections; a 429 is
counted apart as shed load) and the p99 latency; baseline: `/healthz` p99 on the idle server
in the same run.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlmodel import Session  # noqa: E402

import app as composition  # noqa: E402
from bench.harness import record, write  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
SECONDS = max(20.0, 600.0 * SCALE)
PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
BIN = ROOT / ".venv" / "bin"
RATES = {"order": 20.0, "readings": 10.0, "complaint": 0.5, "report": 0.05}


class Client:
    """One keep-alive connection per thread; returns (status, json, seconds)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        data = None if body is None else json.dumps(body).encode()
        try:
            conn.request(
                method, path, body=data, headers={"Content-Type": "application/json", **headers}
            )
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            self.local.conn = None
            return 0, None
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, None


def fresh_database() -> str:
    name = f"foodtrace_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL.replace("postgresql://", "postgresql://", 1), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_URL, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(url: str, instance: Path) -> dict[str, Any]:
    """Migrate, seed the demo, and make the accounts the clients use."""
    from accounts import service as accounts
    from demo import seed
    from sensors import service as sensors

    settings = composition.Settings.from_env(env={}, instance_path=instance, database_url=url)
    flask_app = composition.create_app(settings)
    engine = composition.engine_of(flask_app)
    composition.upgrade_database(engine)
    with flask_app.app_context(), Session(engine) as session:
        seed.seed_all(session=session)
        students = [
            accounts.create_user(
                session=session, email=f"load{i}@uni.edu", role="student"
            ).api_token
            for i in range(40)
        ]
        desk = accounts.create_user(
            session=session, email="loaddesk@uni.edu", role="desk"
        ).api_token
        devices = [
            sensors.register_device(session=session, device_id=f"load-{i}", box_id=f"LB-{i}").token
            for i in range(5)
        ]
    engine.dispose()
    return {"students": students, "desk": desk, "devices": devices}


def start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main() -> None:
    print(f"mixed load for {SECONDS:.0f} s", flush=True)
    url = fresh_database()
    instance = Path(tempfile.mkdtemp(prefix="foodtrace-load-"))
    port = 5600 + random.randrange(300)
    queue = f"load-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": REDIS_URL,
        "RATE_LIMIT_STORAGE_URL": REDIS_URL,
        "CELERY_QUEUE": queue,
        "FOODTRACE_INSTANCE": str(instance),
        "ORDERS_USER_PER_MINUTE": "600",
        "PROMETHEUS_MULTIPROC_DIR": str(instance / "prometheus"),
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        accounts = prepare(url, instance)
        (instance / "prometheus").mkdir(parents=True, exist_ok=True)
        procs.append(
            start(
                [
                    str(BIN / "gunicorn"),
                    "--workers",
                    "2",
                    "--threads",
                    "8",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "app:create_app()",
                ],
                env,
            )
        )
        procs.append(
            start(
                [
                    str(BIN / "python"),
                    "-m",
                    "celery",
                    "-A",
                    "app:celery",
                    "worker",
                    "-Q",
                    queue,
                    "--concurrency",
                    "1",
                    "--loglevel",
                    "WARNING",
                ],
                env,
            )
        )
        client = Client(port)
        deadline = time.monotonic() + 60
        while client.call("GET", "/healthz")[0] != 200:
            if time.monotonic() > deadline:
                raise SystemExit("the server never became healthy")
            time.sleep(0.5)
        idle = []
        for _ in range(200):
            t0 = time.perf_counter()
            client.call("GET", "/healthz")
            idle.append(time.perf_counter() - t0)
        baseline_p99 = p99(idle) * 1000

        student_auth = [{"Authorization": f"Bearer {t}"} for t in accounts["students"]]
        _, found = client.call("GET", "/api/v1/merchants", **student_auth[0])
        dishes = []
        for merchant in found["merchants"]:
            _, menu = client.call(
                "GET", f"/api/v1/merchants/{merchant['id']}/menu", **student_auth[0]
            )
            dishes += [(merchant["id"], i["id"]) for i in menu["items"] if i["available"]]
        if not dishes:
            raise SystemExit("the demo has no dish to order")

        latencies: dict[str, list[float]] = defaultdict(list)
        outcomes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        placed: list[tuple[int, int]] = []  # (student index, order id)
        cases: list[int] = []
        lock = threading.Lock()
        counter = iter(range(10**9))

        def order() -> tuple[int, Any]:
            n = next(counter)
            who = n % len(student_auth)
            merchant_id, item = dishes[n % len(dishes)]
            body = {
                "merchant_id": merchant_id,
                "items": [{"menu_item_id": item, "quantity": 1}],
                "address": {"building": f"Dorm {who % 9}", "room": str(100 + who)},
            }
            status, answer = client.call(
                "POST",
                "/api/v1/orders",
                body,
                **student_auth[who],
                **{"Idempotency-Key": f"load-{n}"},
            )
            if status in (200, 201) and answer:
                with lock:
                    placed.append((who, int(answer["id"])))
            return status, answer

        def readings() -> tuple[int, Any]:
            n = next(counter)
            token = accounts["devices"][n % len(accounts["devices"])]
            start_at = datetime.now(UTC) - timedelta(seconds=30)
            body = [
                {
                    "time": (start_at + timedelta(microseconds=n * 1000 + i)).isoformat(),
                    "value": 4.0 + (i % 5) / 10,
                    "unit": "CEL",
                }
                for i in range(100)
            ]
            return client.call(
                "POST", "/api/v1/sensors/readings", body, Authorization=f"Bearer {token}"
            )

        def complaint() -> tuple[int, Any]:
            with lock:
                if not placed:
                    return -1, None
                who, order_id = placed[random.randrange(len(placed))]
            body = {
                "category": "illness",
                "description": "Nausea after lunch",
                "order_ids": [order_id],
                "symptoms": ["nausea"],
                "onset_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            }
            status, answer = client.call(
                "POST",
                "/api/v1/cases",
                body,
                **student_auth[who],
                **{"Idempotency-Key": f"case-{uuid.uuid4().hex}"},
            )
            if status == 201 and answer:
                with lock:
                    cases.append(int(answer["id"]))
            return status, answer

        def report() -> tuple[int, Any]:
            with lock:
                if not cases:
                    return -1, None
                case_id = cases[-1]
            return client.call(
                "POST",
                f"/api/v1/cases/{case_id}/reports",
                {"language": "en", "audience": "staff"},
                Authorization=f"Bearer {accounts['desk']}",
            )

        kinds = {"order": order, "readings": readings, "complaint": complaint, "report": report}
        stop_at = time.monotonic() + SECONDS

        def drive(kind: str, rate: float, workers: int) -> None:
            interval = 1.0 / rate
            schedule = time.monotonic()
            pool: list[threading.Thread] = []

            def fire(planned: float) -> None:
                status, _ = kinds[kind]()
                if status == -1:
                    return  # nothing to complain about yet
                elapsed = time.monotonic() - planned
                with lock:
                    if status == 429:
                        outcomes[kind]["shed"] += 1
                    elif status == 0 or status >= 500:
                        outcomes[kind]["error"] += 1
                    else:
                        outcomes[kind]["ok" if status < 400 else "4xx"] += 1
                        latencies[kind].append(elapsed)

            while schedule < stop_at:
                delay = schedule - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool = [t for t in pool if t.is_alive()]
                if len(pool) < workers:
                    thread = threading.Thread(target=fire, args=(schedule,), daemon=True)
                    thread.start()
                    pool.append(thread)
                else:
                    with lock:
                        outcomes[kind]["client_busy"] += 1
                schedule += interval
            for thread in pool:
                thread.join(timeout=60)

        drivers = [threading.Thread(target=drive, args=(k, r, 32)) for k, r in RATES.items()]
        for thread in drivers:
            thread.start()
        for thread in drivers:
            thread.join()

        for kind in RATES:
            counts = outcomes[kind]
            sent = sum(counts.values())
            errors = counts.get("error", 0)
            median = statistics.median(latencies[kind]) * 1000 if latencies[kind] else 0.0
            note = f"{SECONDS:.0f} s at {RATES[kind]}/s: {dict(counts)}; median {median:.0f} ms"
            record(
                f"load.{kind}.p99_ms",
                value=p99(latencies[kind]) * 1000,
                unit="ms",
                target=None,
                higher_is_better=False,
                baseline=baseline_p99,
                baseline_label="GET /healthz p99 on the idle server",
                note=note,
            )
            record(
                f"load.{kind}.error_rate",
                value=(errors / sent) if sent else 0.0,
                unit="fraction",
                target=None,
                higher_is_better=False,
                note=f"5xx, timeouts and refused connections of {sent} requests",
            )
        write()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        drop_database(url)


if __name__ == "__main__":
    main()
