"""Ledger benchmarks: append throughput, proofs at 5M leaves, full verification of 1M entries.

    .venv/bin/python bench/ledger.py          # full scale (several minutes, ~2 GB of SQLite)
    BENCH_SCALE=0.01 .venv/bin/python bench/ledger.py   # smoke run

Every figure is recorded beside a raw baseline measured in the same run: bare executemany
inserts of the same rows, hashlib SHA-256 of the same leaves, bare primary-key selects.
PostgreSQL figures use BENCH_POSTGRES (default postgres@127.0.0.1:5432) and are skipped with a
printed reason when it is unreachable.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

import ledger  # noqa: E402
from app import make_engine, upgrade_database  # noqa: E402
from bench.harness import record, write  # noqa: E402
from ledger.proofs import complete_subtrees, inclusion_ranges  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
PG_ADMIN = os.environ.get("BENCH_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=test")
BATCH = 1000  # entries per transaction in the batched-append figures
ORIGIN = "bench.foodtrace.example/ledger"
# the baseline table has ledger_entry's shape (on SQLite the index is the rowid, as there)
BARE_TABLE_SQLITE = (
    "CREATE TABLE bench_bare (idx INTEGER PRIMARY KEY, type VARCHAR(120), entry BLOB, "
    "leaf_hash BLOB, nodes BLOB)"
)
BARE_TABLE_PG = (
    "CREATE TABLE bench_bare (idx BIGINT PRIMARY KEY, type VARCHAR(120), entry BYTEA, "
    "leaf_hash BYTEA, nodes BYTEA)"
)
SAMPLES = 500  # proofs timed per figure
CHECKPOINT_EVERY = 10_000  # entries between the checkpoints signed while appending


def scaled(n: int, least: int = 10) -> int:
    return max(least, int(n * SCALE))


def order_events(start: int, count: int) -> list[ledger.Event]:
    """Realistic small domain events (an order with a few fields)."""
    return [
        ledger.Event(
            "order.placed",
            {"items": 3, "total_cents": 4590 + i % 97, "note": "不要辣", "celsius": 4.5},
            actor=f"user:{i % 5000}",
            subject={"order": start + i, "merchant": i % 40},
        )
        for i in range(count)
    ]


def append_batched(
    engine: Engine, total: int, signer: ledger.Signer, per_txn: int = BATCH
) -> tuple[float, float]:
    """Append `total` order events, `per_txn` a transaction; return wall-clock seconds and this
    process's CPU seconds (the machine is shared: CPU time shows what the code itself costs).
    A checkpoint is signed every CHECKPOINT_EVERY entries (untimed), so verify has signatures
    to check."""
    pool = order_events(0, per_txn)
    elapsed = cpu = 0.0
    for n in range(total // per_txn):
        t0, c0 = time.perf_counter(), time.process_time()
        with Session(engine) as session:
            ledger.append_many(session, pool)
            session.commit()
        elapsed += time.perf_counter() - t0
        cpu += time.process_time() - c0
        if (n + 1) * per_txn % CHECKPOINT_EVERY == 0:
            with Session(engine) as session:
                ledger.checkpoint(session, signer)
                session.commit()
    return elapsed, cpu


def bare_inserts(engine: Engine, total: int) -> float:
    """Baseline: the same rows (entry bytes, leaf hash) by bare DBAPI executemany; seconds."""
    rows = []
    for n, event in enumerate(order_events(0, BATCH)):
        data = ledger.events.encode(event, ts="2026-01-01T00:00:00.000000Z")[1]
        rows.append((n, event.type, data, hashlib.sha256(b"\x00" + data).digest(), b""))
    pg = engine.dialect.name == "postgresql"
    mark = "%s" if pg else "?"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        begin = "BEGIN" if not pg else "SELECT 1"  # app.make_engine puts sqlite3 in autocommit
        cur.execute(BARE_TABLE_PG if pg else BARE_TABLE_SQLITE)
        raw.commit()
        sql = f"INSERT INTO bench_bare VALUES ({', '.join([mark] * 5)})"  # noqa: S608
        elapsed = 0.0
        for b in range(total // BATCH):
            batch = [(b * BATCH + n, *rest) for n, *rest in rows]
            t0 = time.perf_counter()
            cur.execute(begin)
            cur.executemany(sql, batch)
            raw.commit()
            elapsed += time.perf_counter() - t0
        cur.execute("DROP TABLE bench_bare")
        raw.commit()
    finally:
        raw.close()
    return elapsed


def single_appends(engine: Engine, count: int) -> float:
    """Append one event per transaction; return seconds."""
    events = order_events(10**9, count)
    t0 = time.perf_counter()
    for event in events:
        with Session(engine) as session:
            ledger.append(session, event)
            session.commit()
    return time.perf_counter() - t0


def median_ms(fn: Callable[[int], object], args: list[int]) -> float:
    samples = []
    for arg in args:
        t0 = time.perf_counter()
        fn(arg)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def hash_leaves(engine: Engine, size: int) -> float:
    """Baseline for verify: hashlib SHA-256 of the same entry bytes (read beforehand); seconds."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT entry FROM ledger_entry WHERE idx < :n ORDER BY idx"), {"n": size}
        ).all()
    sha = hashlib.sha256
    t0 = time.perf_counter()
    for (data,) in rows:
        sha(b"\x00" + data).digest()
    return time.perf_counter() - t0


RESTART_PROBE = """
import sys, time
from sqlmodel import Session
import ledger
from app import make_engine
url, index, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
engine = make_engine(url)  # at worker start-up: no connection yet, loads the dialect module
t0 = time.perf_counter()
with Session(engine) as session:
    ledger.prove_inclusion(session, index, size)
print((time.perf_counter() - t0) * 1000)
"""

BARE_RESTART_PROBE = """
import sys, time, sqlite3
path, index = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
con = sqlite3.connect(path)
con.execute("SELECT leaf_hash, nodes FROM ledger_entry WHERE idx = ?", (index,)).fetchone()
print((time.perf_counter() - t0) * 1000)
"""


def fresh_process_ms(code: str, *args: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return float(out.stdout.strip().splitlines()[-1])


def proof_figures(engine: Engine, size: int, label: str) -> None:
    """Inclusion/consistency proof generation and verification at `size` leaves."""
    rng = random.Random(7)
    indexes = [rng.randrange(size) for _ in range(SAMPLES)]
    firsts = [rng.randrange(1, size) for _ in range(SAMPLES)]
    with Session(engine) as session:
        root = ledger.root_at(session, size)
        inc = median_ms(lambda i: ledger.prove_inclusion(session, i, size), indexes)
        con = median_ms(lambda m: ledger.prove_consistency(session, m, size), firsts)
        proofs = [(i, ledger.prove_inclusion(session, i, size)) for i in indexes[:100]]
        leaves = {i: ledger.entry_at(session, i).leaf_hash for i, _ in proofs}
        old_roots = {m: ledger.root_at(session, m) for m in firsts[:50]}
        cons = [(m, ledger.prove_consistency(session, m, size)) for m in old_roots]
        raw = session.connection().connection.driver_connection
        bare = median_ms(lambda i: _bare_path_rows(raw, engine, i, size), indexes)
    verify_inc = median_ms(
        lambda k: ledger.verify_inclusion(
            leaves[proofs[k][0]], proofs[k][0], size, proofs[k][1], root
        ),
        list(range(len(proofs))),
    )
    verify_con = median_ms(
        lambda k: ledger.verify_consistency(
            cons[k][0], size, old_roots[cons[k][0]], root, cons[k][1]
        ),
        list(range(len(cons))),
    )
    depth = len(proofs[0][1])
    hashing = median_ms(lambda _: _hash_chain(depth), list(range(200)))
    base = f"bare PK select of the same rows ({label})"
    note = f"{size:,} leaves, {label}, in an open session"
    record(
        f"ledger.prove_inclusion.{label}",
        value=inc,
        unit="ms",
        target=1.0,
        higher_is_better=False,
        baseline=bare,
        baseline_label=base,
        note=note,
    )
    record(
        f"ledger.prove_consistency.{label}",
        value=con,
        unit="ms",
        target=1.0,
        higher_is_better=False,
        baseline=bare,
        baseline_label=base,
        note=note,
    )
    hash_label = f"hashlib SHA-256 of {depth} nodes"
    record(
        f"ledger.verify_inclusion_proof.{label}",
        value=verify_inc,
        unit="ms",
        target=0.1,
        higher_is_better=False,
        baseline=hashing,
        baseline_label=hash_label,
        note=note,
    )
    record(
        f"ledger.verify_consistency_proof.{label}",
        value=verify_con,
        unit="ms",
        target=0.1,
        higher_is_better=False,
        baseline=hashing,
        baseline_label=hash_label,
        note=note,
    )


def _bare_path_rows(raw: object, engine: Engine, index: int, size: int) -> None:
    ids = sorted(
        {e - 1 for s, e in inclusion_ranges(index, size) for _, e in complete_subtrees(s, e)}
    )
    marks = ", ".join(["%s" if engine.dialect.name == "postgresql" else "?"] * len(ids))
    sql = f"SELECT idx, leaf_hash, nodes FROM ledger_entry WHERE idx IN ({marks})"  # noqa: S608
    cur = raw.cursor()  # type: ignore[attr-defined]
    cur.execute(sql, ids)
    cur.fetchall()


def _hash_chain(depth: int) -> None:
    node = bytes(32)
    for _ in range(depth):
        node = hashlib.sha256(b"\x01" + node + node).digest()


def restart_figure(engine: Engine, size: int, path: Path) -> None:
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    rng = random.Random(11)
    firsts = [
        fresh_process_ms(RESTART_PROBE, url, str(rng.randrange(size)), str(size)) for _ in range(5)
    ]
    bare = [
        fresh_process_ms(BARE_RESTART_PROBE, str(path), str(rng.randrange(size))) for _ in range(5)
    ]
    record(
        "ledger.first_proof_after_restart.sqlite",
        value=statistics.median(firsts),
        unit="ms",
        target=10.0,
        higher_is_better=False,
        baseline=statistics.median(bare),
        baseline_label="fresh process: sqlite3 connect + one PK select",
        note=f"{size:,} leaves; median of 5 fresh processes; first connect and proof timed "
        "(imports and engine creation happen at start-up)",
    )


def verify_figure(engine: Engine, size: int, label: str, signer: ledger.Signer) -> None:
    with Session(engine) as session:
        t0 = time.perf_counter()
        report = ledger.verify(session, public_key=signer.public_key)
        elapsed = time.perf_counter() - t0
    assert report.ok and report.size == size, report
    record(
        f"ledger.verify_full.{label}",
        value=elapsed,
        unit="s",
        target=60.0 * size / 1e6,
        higher_is_better=False,
        baseline=hash_leaves(engine, size),
        baseline_label="hashlib SHA-256 of the same leaves",
        note=f"{size:,} entries, {report.checkpoints_checked} signed checkpoints "
        "(target scaled from 60 s per 1M)",
    )


@contextmanager
def sqlite_database() -> Iterator[tuple[Engine, Path]]:
    folder = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    path = folder / "ledger.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    try:
        yield engine, path
    finally:
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_database() -> Iterator[Engine | None]:
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        print(f"PostgreSQL figures skipped: unreachable ({exc})", flush=True)
        yield None
        return
    name = f"bench_ledger_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    conninfo = psycopg.conninfo.conninfo_to_dict(PG_ADMIN)
    user, host = conninfo.get("user", "postgres"), conninfo.get("host", "127.0.0.1")
    url = f"postgresql+psycopg://{user}@{host}:{conninfo.get('port', 5432)}/{name}"
    engine = make_engine(url)
    try:
        upgrade_database(engine)
        yield engine
    finally:
        engine.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def fill(engine: Engine, size: int) -> None:
    """Grow the log to `size` entries with small events, 20,000 a transaction (not timed)."""
    with Session(engine) as session:
        have = ledger.tree_size(session)
    while have < size:
        count = min(20_000, size - have)
        events = [ledger.Event("bench.fill", {"n": have + i}) for i in range(count)]
        with Session(engine) as session:
            ledger.append_many(session, events)
            session.commit()
        have += count
        if have % 500_000 < count:
            print(f"  filled {have:,} leaves", flush=True)


def sqlite_figures() -> None:
    appended = scaled(1_000_000, BATCH) // BATCH * BATCH
    with sqlite_database() as (engine, path):
        signer = ledger.load_or_create_signing_key(path.with_suffix(".pem"), name=ORIGIN)
        seconds, cpu = append_batched(engine, appended, signer)
        bare = bare_inserts(engine, scaled(200_000, BATCH) // BATCH * BATCH)
        record(
            "ledger.append_batched.sqlite",
            value=appended / seconds,
            unit="entries/s",
            target=100_000,
            higher_is_better=True,
            baseline=scaled(200_000, BATCH) // BATCH * BATCH / bare,
            baseline_label="bare executemany of the same rows",
            note=f"{BATCH} a transaction, {appended:,} entries; process CPU "
            f"{cpu / appended * 1e6:.1f} us/entry",
        )
        single = scaled(1000, 50)
        record(
            "ledger.append_single_commit.sqlite",
            value=single / single_appends(engine, single),
            unit="entries/s",
            target=None,
            higher_is_better=True,
            note="one entry and one commit per transaction (WAL, synchronous=NORMAL)",
        )
        size = appended + single
        verify_figure(engine, size, "sqlite", signer)
        big = scaled(5_000_000, 1000)
        fill(engine, big)
        proof_figures(engine, big, "sqlite")
        restart_figure(engine, big, path)


def postgres_figures() -> None:
    with postgres_database() as engine:
        if engine is None:
            return
        appended = scaled(200_000, BATCH) // BATCH * BATCH
        folder = Path(tempfile.mkdtemp(prefix="bench-ledger-key-"))
        signer = ledger.load_or_create_signing_key(folder / "key.pem", name=ORIGIN)
        shutil.rmtree(folder)
        seconds, cpu = append_batched(engine, appended, signer)
        bare = bare_inserts(engine, scaled(100_000, BATCH) // BATCH * BATCH)
        record(
            "ledger.append_batched.postgresql",
            value=appended / seconds,
            unit="entries/s",
            target=30_000,
            higher_is_better=True,
            baseline=scaled(100_000, BATCH) // BATCH * BATCH / bare,
            baseline_label="bare executemany of the same rows",
            note=f"{BATCH} a transaction, {appended:,} entries (binary COPY); client CPU "
            f"{cpu / appended * 1e6:.1f} us/entry",
        )
        single = scaled(1000, 50)
        record(
            "ledger.append_single_commit.postgresql",
            value=single / single_appends(engine, single),
            unit="entries/s",
            target=None,
            higher_is_better=True,
            note="one entry and one commit per transaction",
        )
        proof_figures(engine, appended + single, "postgresql")
        verify_figure(engine, appended + single, "postgresql", signer)


def main() -> None:
    print(f"ledger benchmarks at BENCH_SCALE={SCALE}", flush=True)
    sqlite_figures()
    postgres_figures()
    write()


if __name__ == "__main__":
    main()
