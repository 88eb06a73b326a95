"""Ordering benchmarks: order placement over HTTP, an order storm, a payment gateway outage.

    .venv/bin/python bench/orders.py                   # full scale (about 6 minutes)
    BENCH_SCALE=0.1 .venv/bin/python bench/orders.py   # smoke run

The server is production-style: gunicorn (2 workers x 16 threads, gthread) as a subprocess on a
loopback port, on a fresh PostgreSQL database (BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/test), rate limits in Redis (BENCH_REDIS_URL, default
redis://127.0.0.1:6379/14), the simulated payment gateway. Clients are separate processes with
threads speaking HTTP/1.1 over keep-alive sockets (a minimal client: the load generator shares
the 2 cores, so it must cost the server as little CPU as possible), on the same machine.

- Placement: closed loop, 64 connections, each POST /api/v1/orders (one dish, a fresh
  Idempotency-Key, charged at once): orders/s and latency. Rate limits raised out of the way.
  Baseline: GET /healthz on the same server with the same clients. Also the embedded default
  (gunicorn 1 worker x 8 threads on SQLite, as `make run` serves).
- Storm: open loop offering 5 x 300 orders/s for 60 s with the default limits (20 orders a
  minute per student, 50 a second per merchant, 64 in flight): every 201 must be an order in
  the database with its ledger entry, the rest 429; p99 latency of accepted orders (measured
  from the scheduled send time, so queueing counts).
- Outage: the gateway is down for 60 s under 150 orders/s; every accepted order must be
  `deferred`, none lost; after recovery reconciliation must charge each exactly once.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import signal
import socket
import subprocess
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

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

import app as composition  # noqa: E402
from bench import harness  # noqa: E402
from bench.harness import record, write  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
TARGET = 300.0  # orders/s
MERCHANTS = 10
STUDENTS = max(60, int(1200 * SCALE))
CLIENT_PROCS = 4
ONLY = set(os.environ.get("BENCH_ONLY", "placement,storm,outage,embedded").split(","))
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
FAST_LIMITS = {
    "ORDERS_USER_PER_MINUTE": 1_000_000,
    "ORDERS_MERCHANT_PER_SECOND": 1_000_000,
    "ORDERS_MAX_IN_FLIGHT": 1_000,
    "ORDERS_MAX_IN_FLIGHT_PER_PROCESS": 1_000,
}
# order_rules.json: 20/min a student, 50/s a merchant, 64 in flight, 8 a process
DEFAULT_LIMITS: dict[str, Any] = {}
RETRY = {"ORDERS_PAYMENT_RETRY_MAX_SECONDS": 5.0, "ORDERS_PAYMENT_TIMEOUT_SECONDS": 2.0}


def wsgi_app() -> Any:
    """gunicorn's factory: the app with ordering config from BENCH_ORDERS_CONFIG (JSON). The
    edge admission gate (orders/edge.py) is installed by orders.views.init_app;
    BENCH_EDGE_GATE=0 turns it off (ORDERS_EDGE_GATE) to compare with the in-app gate."""
    flask_app = composition.create_app()
    flask_app.config.update(json.loads(os.environ.get("BENCH_ORDERS_CONFIG", "{}")))
    if os.environ.get("BENCH_EDGE_GATE", "1") == "0":
        flask_app.config["ORDERS_EDGE_GATE"] = False
    return flask_app


# --------------------------------------------------------------------------- database


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new PostgreSQL database (dropped afterwards); yields its URL."""
    admin = composition.make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"ft_bench_orders_{os.getpid()}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def seed(url: str, students: int) -> dict[str, Any]:
    """Merchants with one dish each (a 10^6-portion batch open), students, an admin."""
    from accounts import service as accounts
    from orders import menu
    from orders.access import Actor
    from trace import masterdata
    from trace import service as trace_service
    from trace.access import SYSTEM, Viewer
    from trace.commands import BatchProduction, InputUse, LotReceipt

    engine = composition.make_engine(url)
    composition.upgrade_database(engine)
    now = datetime.now(UTC)
    out: dict[str, Any] = {"merchants": [], "tokens": []}
    with Session(engine, expire_on_commit=False) as s:
        grain = masterdata.register_product(session=s, viewer=SYSTEM, name="grain").id
        for m in range(MERCHANTS):
            merchant = masterdata.register_merchant(
                session=s, viewer=SYSTEM, name=f"Stall {m}", licence_number=f"BENCH-{m}",
                licence_expires_on=(now + timedelta(days=365)).date(),
            ).id  # fmt: skip
            dish = masterdata.register_product(
                session=s, viewer=SYSTEM, name=f"dish {m}", category="dish"
            ).id
            viewer = Viewer(actor="bench", role="merchant", merchant_id=merchant)
            lot = trace_service.receive_lot(
                session=s, viewer=viewer,
                receipt=LotReceipt(tlc=f"L{m}", product_id=grain or 0, quantity=1e6, unit="kg",
                                   received_at=now - timedelta(hours=3)),
            ).id  # fmt: skip
            batch = trace_service.produce_batch(
                session=s, viewer=viewer,
                production=BatchProduction(
                    batch_code=f"B{m}", product_id=dish or 0, quantity=1e6, unit="portion",
                    completed_at=now - timedelta(hours=1),
                    inputs=(InputUse(quantity=1.0, unit="kg", kind="lot", id=lot),),
                ),
            ).id  # fmt: skip
            chef = Actor(0, "admin")
            item = menu.save_menu_item(
                session=s, actor=chef, merchant_id=merchant,
                data=menu.MenuItemData(name=f"Rice {m}", price_fen=1500, product_id=dish or 0,
                                       food_class="hot"),
            ).id  # fmt: skip
            menu.open_batch(session=s, actor=chef, menu_item_id=item or 0, batch_id=batch or 0)
            out["merchants"].append((merchant, item))
        for i in range(students):
            created = accounts.create_user(
                session=s, email=f"s{i}@bench.test", role="student", display_name=f"s{i}"
            )
            out["tokens"].append(created.api_token)
        out["admin"] = accounts.create_user(
            session=s, email="admin@bench.test", role="admin"
        ).api_token
    engine.dispose()
    return out


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gunicorn(
    url: str, config: dict[str, Any], *, workers: int = 2, threads: int = 16
) -> Iterator[int]:
    """gunicorn serving the app on a loopback port (killed afterwards); yields the port."""
    port = free_port()
    instance = tempfile.mkdtemp(prefix="ft-bench-orders-")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FOODTRACE_INSTANCE": instance,
        "RATE_LIMIT_STORAGE_URL": REDIS_URL if url.startswith("postgres") else "memory://",
        "BENCH_ORDERS_CONFIG": json.dumps(config),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CELERY_BROKER_URL", None)
    proc = subprocess.Popen(
        [GUNICORN, "--workers", str(workers), "--worker-class", "gthread", "--threads",
         str(threads), "--bind", f"127.0.0.1:{port}", "--backlog", "2048",
         "--keep-alive", "30", "--log-level", "warning", "bench.orders:wsgi_app()"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status in (200, 503):
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("gunicorn did not start")
        SERVERS[port] = proc.pid
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


# --------------------------------------------------------------------------- CPU and load

SERVERS: dict[int, int] = {}  # port -> gunicorn master pid
TICK = os.sysconf("SC_CLK_TCK")


def _procs() -> list[tuple[int, int, str, float]]:
    """(pid, ppid, command, CPU seconds) of every process."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICK
        out.append((int(entry.name), int(fields[1]), comm, cpu))
    return out


def cpu_seconds(port: int) -> dict[str, float]:
    """CPU seconds used so far by the server's processes and by PostgreSQL's (every backend,
    other users' included), and the machine's busy CPU seconds (all processes)."""
    procs = _procs()
    tree = {SERVERS[port]}
    grew = True
    while grew:
        grew = False
        for pid, ppid, _comm, _cpu in procs:
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    busy = sum(int(v) for v in Path("/proc/stat").read_text().split()[1:9]) - sum(
        int(v) for v in Path("/proc/stat").read_text().split()[4:6]
    )
    return {
        "server": sum(cpu for pid, _pp, _c, cpu in procs if pid in tree),
        "postgres": sum(cpu for _p, _pp, comm, cpu in procs if comm.startswith("postgres")),
        "machine": busy / TICK,
    }


@contextmanager
def measured(port: int) -> Iterator[dict[str, Any]]:
    """CPU seconds used during the block and the load average before and after it."""
    out: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    before = cpu_seconds(port)
    t0 = time.monotonic()
    yield out
    wall = time.monotonic() - t0
    after = cpu_seconds(port)
    out.update({k: after[k] - before[k] for k in after})
    out["wall"] = wall
    out["load_after"] = os.getloadavg()[0]


def cpu_note(m: dict[str, Any]) -> str:
    return (
        f"wall {m['wall']:.1f} s; CPU s: server {m['server']:.1f}, PostgreSQL {m['postgres']:.1f}, "
        f"whole machine {m['machine']:.1f} of {2 * m['wall']:.1f}; load average "
        f"{m['load_before']:.2f} -> {m['load_after']:.2f}"
    )


# --------------------------------------------------------------------------- clients


def _client(args: dict[str, Any]) -> list[tuple[int, float, int]]:
    """One client process: threads sending requests; returns (status, latency ms, order id)."""
    results: list[tuple[int, float, int]] = []
    lock = threading.Lock()
    start = args["start"]
    stop = start + args["duration"]
    threads = args["threads"]
    rate = args.get("rate")  # per process; None: closed loop

    def run(t: int) -> None:
        conn = Client(args["port"])
        mine: list[tuple[int, float, int]] = []
        n = 0
        tokens = args["tokens"][t::threads] or args["tokens"]
        interval = threads / rate if rate else 0.0
        due = start + (t / threads) * interval
        while True:
            if rate:
                now = time.time()
                if due > now:
                    time.sleep(due - now)
                sent = due
                due += interval
            else:
                sent = time.time()
            if sent >= stop:
                break
            token = tokens[n % len(tokens)]
            n += 1
            status, order_id = _send(conn, args, token, n)
            if status < 0 or conn.closed:
                conn.close()
                conn = Client(args["port"])
            mine.append((status, (time.time() - sent) * 1000, order_id))
        with lock:
            results.extend(mine)

    while time.time() < start:
        time.sleep(0.001)
    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results


class Client:
    """A keep-alive HTTP/1.1 connection that sends prepared bytes and reads the status, the
    headers it is asked about and the body (Content-Length or chunked) - far cheaper than
    http.client, whose header parsing would eat the cores the server needs."""

    def __init__(self, port: int) -> None:
        self.port, self.buf, self.closed = port, b"", False
        self.sock: socket.socket | None = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()

    def _fill(self) -> None:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        self.buf += data

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def request(self, raw: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        if self.sock is None:  # connect lazily: a refused connection is a failed request
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0][9:12])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while size := int(self._line().split(b";")[0], 16):
                parts.append(self._take(size))
                self._take(2)
            while self._line():  # trailers, then the blank line
                pass
            body = b"".join(parts)
        else:
            body = self._take(int(headers.get(b"content-length", b"0")))
        self.closed = headers.get(b"connection", b"").lower() == b"close"  # reconnect after
        return status, headers, body


def _raw(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if body or method != "GET":
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


HEALTHZ = _raw("GET", "/healthz", {})


def _send(conn: Client, args: dict[str, Any], token: str, n: int) -> tuple[int, int]:
    try:
        if args["kind"] == "healthz":
            return conn.request(HEALTHZ)[0], 0
        merchant, item = args["merchants"][n % len(args["merchants"])]
        body = json.dumps({
            "merchant_id": merchant, "items": [{"menu_item_id": item, "quantity": 1}],
            "address": {"building": "Dorm 1", "room": str(n % 500)},
        }).encode()  # fmt: skip
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex,
                   "Content-Type": "application/json"}  # fmt: skip
        status, got, data = conn.request(_raw("POST", "/api/v1/orders", headers, body))
        if status in (200, 201):
            return status, json.loads(data)["id"]
        if status != 429:
            return status, 0
        # a refusal: 2 x its gate (1 system, 2 user, 3 merchant, 0 other) + 1 with Retry-After
        try:
            scope = json.loads(data)["error"]["details"]["scope"]
        except (ValueError, KeyError, TypeError):
            scope = ""
        gate = {"system": 1, "user": 2, "merchant": 3}.get(scope, 0)
        return status, 2 * gate + int(b"retry-after" in got)
    except (OSError, ValueError):
        return -1, 0


def load(
    port: int,
    seeded: dict[str, Any],
    *,
    duration: float,
    kind: str = "order",
    rate: float | None = None,
    connections: int = 64,
) -> tuple[list[tuple[int, float, int]], float]:
    """Run the clients; returns every (status, latency ms, order id) and the elapsed time."""
    start = time.time() + 1.0
    per_proc = max(1, connections // CLIENT_PROCS)
    jobs = [
        {
            "port": port, "kind": kind, "start": start, "duration": duration,
            "threads": per_proc, "rate": rate / CLIENT_PROCS if rate else None,
            "tokens": seeded["tokens"][p::CLIENT_PROCS], "merchants": seeded["merchants"],
        }
        for p in range(CLIENT_PROCS)
    ]  # fmt: skip
    with multiprocessing.get_context("fork").Pool(CLIENT_PROCS) as pool:
        parts = pool.map(_client, jobs)
    elapsed = time.time() - start
    return [r for part in parts for r in part], elapsed


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(results: list[tuple[int, float, int]]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for status, _ms, _id in results:
        counts[status] = counts.get(status, 0) + 1
    return counts


# --------------------------------------------------------------------------- checks


def persisted(url: str, order_ids: set[int]) -> tuple[int, int]:
    """How many of these orders are in the database, and how many have their placing entry."""
    engine = composition.make_engine(url)
    ids = sorted(order_ids)
    rows = entries = 0
    with engine.connect() as conn:
        for start in range(0, len(ids), 5000):
            part = ids[start : start + 5000]
            rows += conn.execute(
                text("SELECT count(*) FROM orders WHERE id = ANY(:ids)"), {"ids": part}
            ).scalar_one()
            entries += conn.execute(
                text(
                    "SELECT count(*) FROM orders o JOIN ledger_entry e ON e.idx = o.placed_index "
                    "WHERE o.id = ANY(:ids) AND e.type = 'orders.order_placed'"
                ),
                {"ids": part},
            ).scalar_one()
    engine.dispose()
    return int(rows), int(entries)


def admin_call(port: int, token: str, method: str, path: str, body: Any = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    return json.loads(resp.read() or b"null")


# --------------------------------------------------------------------------- benchmarks


def bench_placement(url: str, seeded: dict[str, Any]) -> float:
    duration = max(5.0, 30 * SCALE)
    with gunicorn(url, {**FAST_LIMITS, **RETRY}) as port:
        load(port, seeded, duration=2, kind="healthz", connections=16)  # warm-up
        with measured(port) as mb:
            base, base_elapsed = load(port, seeded, duration=duration, kind="healthz")
        load(port, seeded, duration=2, connections=16)  # warm-up
        with measured(port) as m:
            results, elapsed = load(port, seeded, duration=duration)
    ok = [ms for status, ms, _ in results if status == 201]
    healthz_ok = sum(1 for s, _ms, _ in base if s == 200)
    healthz = healthz_ok / base_elapsed
    rate = len(ok) / elapsed
    per_order = 1000 * (m["server"] + m["postgres"]) / max(1, len(ok))
    record(
        "orders.placement_cpu_per_order.postgresql", value=per_order, unit="CPU ms",
        target=2000 / TARGET, higher_is_better=False,
        baseline=1000 * (mb["server"] + mb["postgres"]) / max(1, healthz_ok),
        baseline_label="CPU ms per GET /healthz, same server",
        note=(f"server {1000 * m['server'] / max(1, len(ok)):.2f} + PostgreSQL (every backend, "
              f"other users' too) {1000 * m['postgres'] / max(1, len(ok)):.2f} CPU ms an order; "
              f"the target is what 300 orders/s on 2 dedicated cores allows (clients elsewhere): "
              f"this cost allows {2000 / per_order:.0f} orders/s; healthz run: {cpu_note(mb)}"),
    )  # fmt: skip
    record(
        "orders.placement_http.postgresql", value=rate, unit="orders/s", target=TARGET,
        higher_is_better=True, baseline=healthz,
        baseline_label="req/s GET /healthz, same server and clients",
        note=(f"gunicorn 2x16 gthread, 64 keep-alive connections from {CLIENT_PROCS} client "
              f"processes on the same 2 cores; p50 {pct(ok, 0.5):.0f} ms, p99 {pct(ok, 0.99):.0f} "
              f"ms; statuses {summary(results)}; each order charged (simulated gateway); "
              f"{cpu_note(m)}; server CPU ms per order {1000 * m['server'] / max(1, len(ok)):.2f}"),
    )  # fmt: skip
    return rate


def bench_embedded(seeded_sqlite: tuple[str, dict[str, Any]]) -> None:
    url, seeded = seeded_sqlite
    duration = max(5.0, 20 * SCALE)
    with gunicorn(url, {**FAST_LIMITS, **RETRY}, workers=1, threads=8) as port:
        load(port, seeded, duration=2, connections=8)
        with measured(port) as m:
            results, elapsed = load(port, seeded, duration=duration, connections=16)
        base, base_elapsed = load(port, seeded, duration=duration, kind="healthz", connections=16)
    ok = [ms for status, ms, _ in results if status == 201]
    record(
        "orders.placement_http.sqlite_embedded", value=len(ok) / elapsed, unit="orders/s",
        target=None, higher_is_better=True,
        baseline=sum(1 for s, _ms, _ in base if s == 200) / base_elapsed,
        baseline_label="req/s GET /healthz, same server and clients",
        note=(f"the embedded default: gunicorn 1x8 gthread on SQLite, 16 connections; p50 "
              f"{pct(ok, 0.5):.0f} ms, p99 {pct(ok, 0.99):.0f} ms; statuses {summary(results)}; "
              f"{cpu_note(m)}"),
    )  # fmt: skip


def bench_storm(url: str, seeded: dict[str, Any]) -> None:
    duration = max(6.0, 60 * SCALE)
    offered = 5 * TARGET
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    with gunicorn(url, {**DEFAULT_LIMITS, **RETRY}) as port, measured(port) as m:
        results, elapsed = load(port, seeded, duration=duration, rate=offered, connections=256)
    accepted = {order_id for status, _ms, order_id in results if status == 201}
    ok_ms = [ms for status, ms, _ in results if status == 201]
    refused_ms = [ms for status, ms, _ in results if status == 429]
    refused = [code for status, _ms, code in results if status == 429]
    retry_after = sum(code % 2 for code in refused)
    gates = {
        name: sum(1 for code in refused if code // 2 == n)
        for n, name in enumerate(("other", "system", "user", "merchant"))
    }
    counts = summary(results)
    rows, entries = persisted(url, accepted)
    p99 = pct(ok_ms, 0.99)
    record(
        "orders.storm_accepted_p99", value=p99, unit="ms", target=500.0, higher_is_better=False,
        note=(f"offered {offered:.0f} orders/s for {duration:.0f} s ({len(results)} sent, "
              f"{len(results) / elapsed:.0f}/s achieved); statuses {counts}; accepted "
              f"{len(accepted)} = {len(accepted) / elapsed:.0f}/s, in the database {rows}, with "
              f"their ledger entry {entries}; p50 accepted {pct(ok_ms, 0.5):.0f} ms, p99 of "
              f"the 429s {pct(refused_ms, 0.99):.0f} ms; 429s with Retry-After "
              f"{retry_after}, by gate {gates}; latency from the scheduled send time; "
              f"{cpu_note(m)}"),
    )  # fmt: skip
    record(
        "orders.storm_accepted_lost", value=len(accepted) - min(rows, entries), unit="orders",
        target=0, higher_is_better=False,
        note=f"{len(accepted)} answered 201; {rows} rows; {entries} order_placed entries",
    )  # fmt: skip


def bench_outage(url: str, seeded: dict[str, Any]) -> None:
    from orders import billing
    from orders.gateway_sim import SimulatedGateway
    from orders.rules import OrdersConfig

    duration = max(6.0, 60 * SCALE)
    config = {**FAST_LIMITS, **RETRY}
    with gunicorn(url, config) as port:
        admin_call(port, seeded["admin"], "PUT", "/api/v1/payments/gateway", {"mode": "down"})
        with measured(port) as m:
            results, _elapsed = load(port, seeded, duration=duration, rate=150.0, connections=64)
        admin_call(port, seeded["admin"], "PUT", "/api/v1/payments/gateway", {"mode": "healthy"})
    accepted = {order_id for status, _ms, order_id in results if status == 201}
    engine = composition.make_engine(url)
    gateway = SimulatedGateway(engine)
    rules = OrdersConfig.from_mapping(config)
    t0 = time.monotonic()
    with Session(engine) as s:
        while time.monotonic() - t0 < 300:
            billing.reconcile_payments(session=s, gateway=gateway, config=rules, limit=2000)
            left = s.execute(text(
                "SELECT count(*) FROM orders WHERE id = ANY(:ids) AND payment_status <> 'paid'"
            ), {"ids": sorted(accepted)}).scalar_one()  # fmt: skip
            s.rollback()
            if not left:
                break
            time.sleep(0.5)
        reconciled_in = time.monotonic() - t0
        charges = s.execute(text(
            "SELECT count(*), count(DISTINCT reference) FROM payment_sim_charges "
            "WHERE kind = 'charge' AND reference = ANY(:refs)"
        ), {"refs": [f"order-{i}" for i in accepted]}).one()  # fmt: skip
    engine.dispose()
    rows, entries = persisted(url, accepted)
    lost = len(accepted) - min(rows, entries)
    record(
        "orders.outage_orders_lost", value=lost, unit="orders", target=0, higher_is_better=False,
        note=(f"gateway down {duration:.0f} s under 150 orders/s: {len(accepted)} accepted "
              f"(statuses {summary(results)}), {rows} in the database; all paid "
              f"{reconciled_in:.1f} s after recovery with {charges[0]} charges for "
              f"{charges[1]} references (exactly one each: {charges[0] == len(accepted)}); "
              f"during the outage {cpu_note(m)}"),
    )  # fmt: skip
    record(
        "orders.outage_reconciled_s", value=reconciled_in, unit="s", target=None,
        higher_is_better=False,
        note=f"{left} of {len(accepted)} deferred orders still unpaid at the end",
    )  # fmt: skip


def main() -> None:
    """BENCH_WRITE=0: print the figures only (bench/results.json is left alone);
    BENCH_ONLY=placement,storm,outage,embedded runs a subset."""
    print(f"seeding {MERCHANTS} merchants and {STUDENTS} students (PostgreSQL) ...", flush=True)
    with fresh_postgres() as url:
        seeded = seed(url, STUDENTS)
        if "placement" in ONLY:
            bench_placement(url, seeded)
        if "storm" in ONLY:
            bench_storm(url, seeded)
        if "outage" in ONLY:
            bench_outage(url, seeded)
    if "embedded" in ONLY:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.sqlite3"
            print("seeding the embedded default (SQLite) ...", flush=True)
            bench_embedded((url, seed(url, max(60, STUDENTS // 4))))
    for name, entry in harness._pending.items():
        print(f"{name}: {entry['note']}", flush=True)
    if os.environ.get("BENCH_WRITE", "1") != "0":
        write()


if __name__ == "__main__":
    main()
