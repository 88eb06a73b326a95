"""Trace benchmarks on a campus semester: traces both ways, the FSMA 204 sheet, CSV import.

    .venv/bin/python bench/trace.py                    # full scale (a few minutes, ~1 GB)
    BENCH_SCALE=0.01 .venv/bin/python bench/trace.py   # smoke run
    BENCH_ONLY=import .venv/bin/python bench/trace.py  # only the CSV import, merged into results

The semester (120 days, 40 merchants) has 50,000 lots, 200,000 batches (a tenth of them use a
sub-batch such as a sauce) and 1,000,000 order lines. Order tables belong to the orders module:
the order lines here exist only as batch allocations (trace's link order line → batch), which
is what the traces walk. The data is written by trace.service's bulk write path (Core inserts,
chunks of 1,000 rows anchored by one ledger entry each), so `ledger verify` holds; the checks
that the single-record services run are skipped. One "hot" rice lot feeds 150 batches that
served 12,000 order lines: the forward-trace figure starts there.

Baselines, same run: a recursive SQL query returning the same node set (traces), a bare
SELECT of the same rows (sheet), bare executemany of the same rows (import).
PostgreSQL figures use BENCH_POSTGRES and are skipped with a printed reason when unreachable.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app import make_engine, upgrade_database  # noqa: E402
from bench.harness import record, write  # noqa: E402
from trace import exports, imports, masterdata, queries, recording, service  # noqa: E402
from trace.access import Viewer  # noqa: E402
from trace.columns import COLUMNS  # noqa: E402
from trace.commands import BatchProduction, LotReceipt, ResolvedInput  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
PG_ADMIN = os.environ.get("BENCH_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=test")
DAYS, MERCHANTS, SUPPLIERS, PRODUCTS = 120, 40, 60, 300
START = datetime(2025, 2, 17, tzinfo=UTC)
DESK = Viewer(actor="bench", role="desk")
HOT_BATCHES, HOT_LINES_EACH = 150, 80  # the hot lot's batches and the order lines each served


def scaled(n: int, least: int = 1) -> int:
    return max(least, int(n * SCALE))


def generate(engine: Engine) -> dict[str, object]:
    """Write the semester; returns what the figures need (ids, counts, the hot lot)."""
    rng = random.Random(2025)
    # Rounded up so the semester reaches at least the stated sizes.
    lots_per_day = max(MERCHANTS, math.ceil(scaled(50_000) / DAYS))
    batches_each = max(1, math.ceil(scaled(200_000) / DAYS / MERCHANTS))  # per merchant a day
    dishes_each = batches_each - max(1, batches_each // 10)  # the rest are sauces (sub-batches)
    lines_each = max(1, math.ceil(scaled(1_000_000) / (DAYS * MERCHANTS * max(1, dishes_each))))
    admin = Viewer(actor="bench", role="admin")
    with Session(engine, expire_on_commit=False) as session:
        merchants = [
            masterdata.register_merchant(
                session=session,
                viewer=admin,
                name=f"Merchant {i}",
                licence_number=f"JY{i:05d}",
                licence_expires_on=date(2030, 1, 1),
                location=f"Canteen {i % 6}",
            ).id
            for i in range(MERCHANTS)
        ]
        suppliers = [
            masterdata.register_supplier(
                session=session, viewer=admin, name=f"Supplier {i}", licence_number=f"SC{i:05d}"
            ).id
            for i in range(SUPPLIERS)
        ]
        products = [
            masterdata.add_product(session, "bench", name=f"Product {i}", category="ingredient").id
            for i in range(PRODUCTS)
        ]
        session.commit()
    line = 0
    recent: dict[int, list[tuple[int, datetime]]] = {m: [] for m in merchants}
    hot_lot: int | None = None
    hot_done = False
    for day in range(DAYS):
        t0 = START + timedelta(days=day)
        with Session(engine, expire_on_commit=False) as session:
            receipts: dict[int, list[LotReceipt]] = {m: [] for m in merchants}
            for i in range(lots_per_day):
                merchant = merchants[i % MERCHANTS]
                receipts[merchant].append(
                    LotReceipt(
                        tlc=f"L{day:03d}-{i:05d}",
                        product_id=rng.choice(products),
                        quantity=float(rng.randint(5, 80)),
                        unit="kg",
                        received_at=t0 + timedelta(hours=6, minutes=i % 60),
                        supplier_id=rng.choice(suppliers),
                        tlc_source="farm",
                        location="cold room",
                        reference_document_type="Invoice",
                        reference_document_number=f"D{day}-{i}",
                        expiry_date=(t0 + timedelta(days=10)).date(),
                        storage="chilled",
                    )
                )
            for merchant, items in receipts.items():
                ids = recording.insert_lots(session, merchant, items, actor="bench")
                at = t0 + timedelta(hours=7)
                recent[merchant] = [*((i, at) for i in ids), *recent[merchant]][:40]
            if hot_lot is None:
                hot_lot = recent[merchants[0]][0][0]
            allocations: list[tuple[int, int, float, datetime | None]] = []
            for merchant in merchants:
                count = batches_each
                hot = merchant == merchants[0] and not hot_done
                made = _batches(
                    session,
                    rng,
                    merchant,
                    t0,
                    count,
                    recent[merchant],
                    products,
                    hot_lot if hot else None,
                )
                for batch_id, completed in made:
                    for _ in range(lines_each):
                        line += 1
                        allocations.append((line, batch_id, 1.0, completed + timedelta(hours=1)))
                if hot:
                    for batch_id, completed in made[: scaled(HOT_BATCHES)]:
                        for _ in range(HOT_LINES_EACH):
                            line += 1
                            allocations.append(
                                (line, batch_id, 1.0, completed + timedelta(hours=2))
                            )
                    hot_done = True
            service.record_allocations(
                session=session, allocations=allocations, actor="bench", commit=False
            )
            session.commit()
        if day % 20 == 0:
            print(f"  day {day}: {line} order lines", flush=True)
    return {
        "lines": line,
        "hot_lot": hot_lot,
        "merchant": merchants[1],
        "products": products,
        "suppliers": suppliers,
    }


def _batches(
    session: Session,
    rng: random.Random,
    merchant: int,
    day: datetime,
    count: int,
    lots: list[tuple[int, datetime]],
    products: list[int],
    hot_lot: int | None,
) -> list[tuple[int, datetime]]:
    """A day's batches of one merchant: a few sauces first, then dishes (1 in 10 uses a sauce)."""
    sauces = max(1, count // 10)
    made: list[tuple[int, datetime]] = []
    for stage in ("sauce", "dish"):
        productions, resolved = [], []
        n = sauces if stage == "sauce" else count - sauces
        if hot_lot is not None and stage == "dish":
            n = max(n, scaled(HOT_BATCHES))
        for i in range(n):
            completed = day + timedelta(hours=9 if stage == "sauce" else 10, minutes=i % 50)
            picks = rng.sample(lots, k=min(len(lots), rng.randint(2, 3)))
            if hot_lot is not None and stage == "dish" and i < scaled(HOT_BATCHES):
                picks = [(hot_lot, day), *[p for p in picks if p[0] != hot_lot][:2]]
            sources = [ResolvedInput("lot", lot_id, merchant, "active", day) for lot_id, _ in picks]
            if stage == "dish" and made and i % 10 == 0:
                sources.append(
                    ResolvedInput("batch", made[i % len(made)][0], merchant, "active", day)
                )
            productions.append(
                BatchProduction(
                    batch_code=f"{stage[0].upper()}{day:%m%d}-{merchant}-{i}",
                    product_id=rng.choice(products),
                    quantity=40.0,
                    unit="portion",
                    completed_at=completed,
                    inputs=tuple(_use(s) for s in sources),
                    location="kitchen",
                    reference_document_type="log",
                    reference_document_number=f"PL{i}",
                )
            )
            resolved.append(sources)
        ids = recording.insert_batches(session, merchant, productions, resolved, actor="bench")
        made += [(batch_id, p.completed_at) for batch_id, p in zip(ids, productions, strict=True)]
    return made[sauces:]  # dishes are what order lines are served from


def _use(source: ResolvedInput):  # type: ignore[no-untyped-def]
    from trace.commands import InputUse

    return InputUse(quantity=1.0, unit="kg", kind=source.kind, id=source.id)


BACKWARD_CTE = """
WITH RECURSIVE up(kind, id) AS (
  SELECT 'batch', batch_id FROM batch_allocations WHERE order_line_id = :line
  UNION
  SELECT CASE WHEN ti.lot_id IS NULL THEN 'batch' ELSE 'lot' END,
         COALESCE(ti.lot_id, ti.input_batch_id)
  FROM transformation_inputs ti JOIN up ON up.kind = 'batch' AND ti.batch_id = up.id
)
SELECT kind, id FROM up
UNION SELECT 'supplier', l.supplier_id
FROM ingredient_lots l JOIN up ON up.kind = 'lot' AND l.id = up.id
"""
FORWARD_CTE = """
WITH RECURSIVE down(id) AS (
  SELECT batch_id FROM transformation_inputs WHERE lot_id = :lot
  UNION
  SELECT ti.batch_id FROM transformation_inputs ti JOIN down ON ti.input_batch_id = down.id
)
SELECT COUNT(*) FROM (
  SELECT DISTINCT a.order_line_id FROM batch_allocations a JOIN down ON a.batch_id = down.id
) x
"""


def trace_figures(engine: Engine, data: dict[str, object], label: str) -> None:
    rng = random.Random(7)
    lines = [rng.randint(1, int(data["lines"])) for _ in range(300)]  # type: ignore[call-overload]
    with Session(engine) as session:
        for line in lines[:20]:  # warm the caches
            queries.trace(
                session=session, viewer=DESK, kind="order_line", ident=line, direction="backward"
            )
        samples, cpu = [], []
        for line in lines:
            t, c = time.perf_counter(), time.process_time()
            result = queries.trace(
                session=session, viewer=DESK, kind="order_line", ident=line, direction="backward"
            )
            result.as_dict()
            samples.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        base = []
        for line in lines:
            t = time.perf_counter()
            session.execute(text(BACKWARD_CTE), {"line": line}).all()
            base.append((time.perf_counter() - t) * 1000)
        p95 = statistics.quantiles(samples, n=20)[18]
        record(
            f"trace.backward_order_line_p95.{label}",
            value=p95,
            unit="ms",
            target=10.0,
            higher_is_better=False,
            baseline=statistics.quantiles(base, n=20)[18],
            baseline_label="recursive SQL query of the same node set (p95)",
            note=f"{len(samples)} random order lines, JSON answer built; CPU-time p95 "
            f"{statistics.quantiles(cpu, n=20)[18]:.1f} ms; load {os.getloadavg()[0]:.1f}",
        )
        hot = int(data["hot_lot"])  # type: ignore[call-overload]
        timings, forward_cpu, reached = [], [], 0
        for _ in range(7):
            t, c = time.perf_counter(), time.process_time()
            result = queries.trace(
                session=session, viewer=DESK, kind="lot", ident=hot, direction="forward"
            )
            result.as_dict()
            timings.append((time.perf_counter() - t) * 1000)
            forward_cpu.append((time.process_time() - c) * 1000)
            reached = result.count("order_line")
        base_ms = []
        for _ in range(7):
            t = time.perf_counter()
            session.execute(text(FORWARD_CTE), {"lot": hot}).scalar()
            base_ms.append((time.perf_counter() - t) * 1000)
        record(
            f"trace.forward_lot_to_order_lines.{label}",
            value=statistics.median(timings[1:]),
            unit="ms",
            target=300.0,
            higher_is_better=False,
            baseline=statistics.median(base_ms[1:]),
            baseline_label="recursive SQL count of the reached order lines (median)",
            note=f"{reached} order lines reached (median of 6 after one warm-up); CPU time "
            f"{statistics.median(forward_cpu[1:]):.0f} ms; load {os.getloadavg()[0]:.1f}",
        )


def sheet_figure(engine: Engine, label: str) -> None:
    since = (START + timedelta(days=30)).date()
    selection = exports.Selection(since=since, until=since + timedelta(days=29))
    with Session(engine) as session:
        t, c = time.perf_counter(), time.process_time()
        data = exports.fsma_file(session=session, viewer=DESK, selection=selection, fmt="xlsx")
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        rows = len(exports.fsma_events(session=session, viewer=DESK, selection=selection))
        t = time.perf_counter()
        exports.receiving_rows(session, selection, None, "Asia/Shanghai")
        exports.transformation_rows(session, selection, None, "Asia/Shanghai")
        bare = time.perf_counter() - t
    record(
        f"trace.fsma_sheet_30_days.{label}",
        value=seconds,
        unit="s",
        target=10.0,
        higher_is_better=False,
        baseline=bare,
        baseline_label="bare SELECT of the same rows",
        note=f"XLSX, {rows} events, {len(data) // 1024} KiB; CPU time {cpu:.1f} s; "
        f"load {os.getloadavg()[0]:.1f}",
    )


def import_figure(engine: Engine, data: dict[str, object], label: str) -> None:
    rows = scaled(50_000, 100)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.en for c in COLUMNS["receiving"]])
    received = (START + timedelta(days=DAYS - 1)).date().isoformat()
    run = uuid.uuid4().hex[:6]  # fresh codes each run: a kept database may hold earlier ones
    for i in range(rows):
        writer.writerow(
            [
                f"IMP-{run}-{i:06d}",
                f"Product {i % PRODUCTS}",
                "12.5",
                "kg",
                f"SC{i % SUPPLIERS:05d}",
                "farm",
                "",
                received,
                "cold room",
                "Invoice",
                f"INV-{i}",
                "",
                "chilled",
            ]
        )
    payload = buffer.getvalue().encode()
    merchant = int(data["merchant"])  # type: ignore[call-overload]
    viewer = Viewer(actor="bench", role="merchant", merchant_id=merchant)
    with Session(engine, expire_on_commit=False) as session:
        t, c = time.perf_counter(), time.process_time()
        submitted = imports.submit_upload(
            session=session,
            viewer=viewer,
            data=payload,
            filename="b.csv",
            kind="receiving",
            max_bytes=len(payload) + 1,
        )
        upload = imports.process_upload(
            session=session, upload_id=submitted.upload.id, now=START + timedelta(days=DAYS)
        )
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        assert submitted.pending and upload.outcome == "accepted", upload.errors[:3]
        parsed = list(csv.reader(io.StringIO(payload.decode())))[1:]
        conn = session.connection()
        conn.exec_driver_sql(
            "CREATE TABLE bench_bare_lots (tlc TEXT, product TEXT, quantity TEXT, "
            "unit TEXT, supplier TEXT, a TEXT, b TEXT, c TEXT, d TEXT, e TEXT, "
            "f TEXT, g TEXT, h TEXT)"
        )
        mark = "%s" if engine.dialect.name == "postgresql" else "?"
        insert = "INSERT INTO bench_bare_lots VALUES (" + ", ".join([mark] * 13) + ")"  # noqa: S608
        t = time.perf_counter()
        conn.exec_driver_sql(insert, [tuple(r) for r in parsed])
        bare = time.perf_counter() - t
        session.rollback()
    record(
        f"trace.csv_import.{label}",
        value=rows / seconds,
        unit="rows/s",
        target=20000.0,
        higher_is_better=True,
        baseline=rows / bare,
        baseline_label="bare executemany of the parsed rows (no validation, no ledger)",
        note=f"{rows} receiving rows; {rows / cpu:.0f} rows/s of CPU time; "
        f"load {os.getloadavg()[0]:.1f}",
    )


@contextmanager
def sqlite_database() -> Iterator[Engine]:
    keep = os.environ.get("BENCH_TRACE_DB")  # reuse a generated semester between runs
    folder = Path(keep).parent if keep else Path(tempfile.mkdtemp(prefix="bench-trace-"))
    path = Path(keep) if keep else folder / "trace.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_database() -> Iterator[Engine | None]:
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        print(f"PostgreSQL figures skipped: unreachable ({exc})", flush=True)
        yield None
        return
    name = f"bench_trace_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(PG_ADMIN)
    user, host, port = info.get("user", "postgres"), info.get("host", "127.0.0.1"), info.get("port")
    url = f"postgresql+psycopg://{user}@{host}:{port or 5432}/{name}"
    engine = make_engine(url)
    try:
        upgrade_database(engine)
        yield engine
    finally:
        engine.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def run(engine: Engine, label: str) -> None:
    t = time.perf_counter()
    sidecar = Path(os.environ.get("BENCH_TRACE_DB", "-")).with_suffix(".json")
    if label == "sqlite" and sidecar.exists():
        data = json.loads(sidecar.read_text())
    else:
        data = generate(engine)
        if os.environ.get("BENCH_TRACE_DB") and label == "sqlite":
            sidecar.write_text(json.dumps(data))
    seconds = time.perf_counter() - t
    print(f"{label}: {data['lines']} order lines ready in {seconds:.0f} s", flush=True)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    if os.environ.get("BENCH_ONLY") != "import":
        trace_figures(engine, data, label)
        sheet_figure(engine, label)
    import_figure(engine, data, label)


def main() -> None:
    print(f"trace benchmarks at BENCH_SCALE={SCALE}", flush=True)
    if os.environ.get("BENCH_SKIP_SQLITE") != "1":
        with sqlite_database() as engine:
            run(engine, "sqlite")
    if os.environ.get("BENCH_SKIP_POSTGRES") != "1":
        with postgres_database() as engine:
            if engine is not None:
                run(engine, "postgresql")
    if SCALE >= 1.0:
        write()
    else:
        print("(scaled-down run: bench/results.json left unchanged)")


if __name__ == "__main__":
    main()
