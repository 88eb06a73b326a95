"""Complaint desk benchmarks: opening a case, a food-history survey (part 1); source ranking
and opening a case with its automatic trace-back (part 2).

    .venv/bin/python bench/complaints.py                    # full scale
    BENCH_SCALE=0.05 .venv/bin/python bench/complaints.py   # smoke run (do not commit results)
    BENCH_SEMESTER_DAYS=120 ...                             # the semester's length (default 120)
    BENCH_COMPLAINTS_DB=/path/semester.sqlite3 ...          # reuse a kept semester file
    BENCH_COMPLAINTS_PG=postgresql://postgres@127.0.0.1:5432  # figure 3 on PostgreSQL too

1. Opening a case without known orders (validation, numbering, triage, rows, acknowledgement
   messages, the cluster check, ledger entries in one transaction) on SQLite: p95 through the
   service and through the HTTP API. Baseline: appending one ledger entry of the same size and
   committing, the floor any recorded write pays.
2. Analysing a 5,000-respondent, 40-item questionnaire. Baseline: pandas.read_csv alone.
3. Source ranking (POST /api/v1/investigations' service) for a cluster of 50 cases on a campus
   semester in SQLite: 40 merchants, 60 suppliers, ~14,300 orders a day (100,000 in the last
   7 days at BENCH_SCALE=1), each with 1-2 lines served from that day's batches (made from 2
   lots, a tenth also from a sauce sub-batch), 70 % delivered by one of 200 couriers; one
   lettuce lot feeds three merchants' salads for the last three days and 50 of their eaters
   complain. Figures: the last 7 days, and the whole semester. Baseline: reading the same
   rows with bare SQL (orders, lines, allocations, deliveries of the window, fetchall) - the
   floor any ranking pays. The semester's order, lot and batch rows are written with Core
   inserts (no ledger entries: the ranking only reads them); the cases through the service.
   Before the rankings, the daily exposure roll-ups (complaints.exposure_rollups) of the
   settled days are computed as the periodic task would, with the semester's end as "now": its
   last 2 days are not settled and are read raw by the rankings. That roll-up is its own
   figure ("roll-up of N settled days"; baseline: the bare read of the same days' rows). Wall
   times are printed with the process CPU time and the load average (the machine is shared).
4. Opening a case about one semester order with its automatic trace-back: POST
   /api/v1/cases then GET /api/v1/cases/{id} (the trace-back and cold-chain panel), p95.
   Baseline: the trace module's own backward traces of the same order's lines, p95.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
from sqlmodel import Session

import app as composition
import ledger
from accounts import service as accounts
from bench.harness import record, write
from complaints import service
from complaints.survey import SurveyMapping, read_survey, survey_analysis

SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
OPENINGS = max(30, int(600 * SCALE))
RESPONDENTS = max(200, int(5000 * SCALE))
ITEMS = 40


def scaled_note(text: str) -> str:
    return text if SCALE == 1.0 else f"{text}; BENCH_SCALE={SCALE}"


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[94]


def intake(k: int, now: datetime) -> dict[str, object]:
    return {
        "channel": "phone",
        "category": "illness",
        "description": f"Vomiting and cramps after lunch, case {k}",
        "onset_at": (now - timedelta(hours=3)).isoformat(),
        "symptoms": ["vomiting", "cramps", "diarrhoea"],
        "n_party": 3,
        "n_ill": 1 + k % 3,
        "medical_care": "doctor",
        "order_ids": [10_000 + k, 20_000 + k],
        "remedy_sought": ["refund"],
        "consent": {"health_data_processing": True},
        "complainant": {"name": f"Student {k}", "phone": "13800138000", "email": f"s{k}@x.cn"},
        "merchant_id": 1 + k % 7,
    }


def on_database(flask_app, tmp: Path, name: str):  # type: ignore[no-untyped-def]
    """Point the one app of this run at a fresh database (some domains' blueprints cannot be
    set up twice in one process, so the app is built once and its engine swapped)."""
    settings = composition.Settings.from_env(
        env={}, instance_path=tmp, database_url=f"sqlite:///{tmp}/{name}", testing=True
    )
    engine = composition.make_engine(settings.database_url)
    composition.upgrade_database(engine)
    state = flask_app.extensions["foodtrace"]
    state.settings, state.engine = settings, engine
    return engine


def bench_open_case(flask_app, tmp: Path) -> None:  # type: ignore[no-untyped-def]
    engine = on_database(flask_app, tmp, "bench.sqlite3")
    with Session(engine, expire_on_commit=False) as s:
        desk = accounts.create_user(session=s, email="desk@uni.edu", role="desk")
    now = datetime.now(UTC)
    payload_size = len(json.dumps(intake(0, now)))

    baseline = []
    for k in range(OPENINGS):
        event = ledger.Event(
            type="bench.floor",
            actor="user:1",
            subject={"case": k},
            payload={"blob": "x" * payload_size},
            personal=frozenset({"blob"}),
        )
        t0 = time.perf_counter()
        with Session(engine) as s:
            ledger.append(s, event)
            s.commit()
        baseline.append(time.perf_counter() - t0)

    via_service = []
    for k in range(OPENINGS):
        data = intake(k, now)
        t0 = time.perf_counter()
        with Session(engine, expire_on_commit=False) as s:
            service.open_case(session=s, data=data, actor="user:1", now=now)
        via_service.append(time.perf_counter() - t0)

    client = flask_app.test_client()
    headers = {"Authorization": f"Bearer {desk.api_token}"}
    via_api = []
    for k in range(OPENINGS):
        body = intake(OPENINGS + k, now)
        t0 = time.perf_counter()
        resp = client.post(
            "/api/v1/cases", json=body, headers={**headers, "Idempotency-Key": f"bench-{k}"}
        )
        via_api.append(time.perf_counter() - t0)
        assert resp.status_code == 201, resp.get_json()
    engine.dispose()

    base = p95(baseline) * 1000
    record(
        "complaints.open_case_service_p95_ms",
        value=p95(via_service) * 1000,
        unit="ms",
        target=300,
        higher_is_better=False,
        baseline=base,
        baseline_label="p95 of one ledger append + commit of the same payload size",
        note=scaled_note(
            f"{OPENINGS} openings on SQLite, median {statistics.median(via_service) * 1000:.1f} "
            "ms; orders unknown to the orders module (no trace-back; cluster check runs)"
        ),
    )
    record(
        "complaints.open_case_api_p95_ms",
        value=p95(via_api) * 1000,
        unit="ms",
        target=300,
        higher_is_better=False,
        baseline=base,
        baseline_label="p95 of one ledger append + commit of the same payload size",
        note=scaled_note(
            f"POST /api/v1/cases with Idempotency-Key via the Flask test client, {OPENINGS} "
            f"requests, median {statistics.median(via_api) * 1000:.1f} ms; orders unknown"
        ),
    )


def questionnaire(respondents: int, items: int, seed: int = 11) -> tuple[bytes, dict]:
    """A picnic: item 7 is the vehicle (AR 60 % vs 8 %), the rest are noise; ~2 % unknown."""
    rng = random.Random(seed)
    names = [f"food {i:02d}" for i in range(items)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "ill", *names])
    for r in range(respondents):
        ate = [rng.random() < 0.45 for _ in names]
        ill = rng.random() < (0.6 if ate[7] else 0.08)
        cells = ["?" if rng.random() < 0.02 else ("yes" if a else "no") for a in ate]
        writer.writerow([f"R{r:05d}", "yes" if ill else "no", *cells])
    mapping = {"id_column": "id", "ill_column": "ill", "item_columns": names}
    return out.getvalue().encode(), mapping


def bench_survey() -> None:
    data, raw_mapping = questionnaire(RESPONDENTS, ITEMS)
    mapping = SurveyMapping.from_dict(raw_mapping)

    def analyse() -> list[dict]:
        frame = read_survey(io.BytesIO(data), "survey.csv")
        return survey_analysis(frame, mapping)[0]

    samples, table = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        table = analyse()
        samples.append(time.perf_counter() - t0)
    assert table[0]["label"] == "food 07", table[0]
    floor = []
    for _ in range(5):
        t0 = time.perf_counter()
        pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
        floor.append(time.perf_counter() - t0)
    record(
        "complaints.survey_analysis_s",
        value=statistics.median(samples),
        unit="s",
        target=None,
        higher_is_better=False,
        baseline=statistics.median(floor),
        baseline_label="pandas.read_csv of the same CSV alone",
        note=scaled_note(
            f"{RESPONDENTS} respondents x {ITEMS} items ({len(data) / 1e6:.1f} MB CSV): read, "
            "code, ranked attack-rate table, counts; median of 5; planted vehicle ranked first"
        ),
    )


# --------------------------------------------------------------------------- part 2: semester

SEMESTER_DAYS = int(os.environ.get("BENCH_SEMESTER_DAYS", "120"))
ORDERS_PER_DAY = max(200, int(100_000 / 7 * SCALE))
MERCHANTS, SUPPLIERS, INGREDIENTS, ITEMS_EACH = 40, 60, 300, 6
STUDENTS, COURIERS = max(500, int(20_000 * SCALE)), 200
CASES = 50
OUTBREAK_DAYS = 3  # the planted lot feeds merchants 0-2's salads on the last three days


def _insert(conn, table, rows: list[dict]) -> list[int]:  # type: ignore[no-untyped-def]
    """Bulk insert; returns the new ids (consecutive on a fresh SQLite table)."""
    from sqlalchemy import func, insert, select

    if not rows:
        return []
    before = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    conn.execute(insert(table), rows)
    return list(range(before + 1, before + 1 + len(rows)))


ORDER_DEFAULTS = {
    "request_digest": "0" * 64, "status": "delivered", "payment_status": "paid",
    "total_fen": 1500, "building": "", "room": "", "phone": "", "note": "",
    "payment_reference": "", "payment_attempts": 0, "refunded_fen": 0,
}  # fmt: skip


def _input(batch: int, *, lot: int | None = None, sub: int | None = None) -> dict[str, object]:
    return {"batch_id": batch, "lot_id": lot, "input_batch_id": sub, "quantity": 1.0, "unit": "kg"}


def generate_semester(engine, start: datetime, days: int = SEMESTER_DAYS) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Write the semester (see the module docstring); returns ids the figures need."""
    from accounts.models import User
    from orders.models import Delivery, MenuItem, Order, OrderLine
    from trace.models import (
        BatchAllocation,
        DishBatch,
        IngredientLot,
        Merchant,
        Product,
        Supplier,
        TransformationInput,
    )

    rng = random.Random(2026)
    t = {m: m.__table__ for m in (User, Delivery, MenuItem, Order, OrderLine, BatchAllocation,
                                  DishBatch, IngredientLot, Merchant, Product, Supplier,
                                  TransformationInput)}  # fmt: skip
    with engine.begin() as conn:
        merchants = _insert(conn, t[Merchant], [
            {"name": f"Stall {i}", "licence_number": f"JY-B{i:03d}", "licence_expires_on":
             (start + timedelta(days=400)).date(), "location": "", "contact": "",
             "created_at": start} for i in range(MERCHANTS)])  # fmt: skip
        suppliers = _insert(conn, t[Supplier], [
            {"name": f"Farm {i}", "licence_number": f"SC-B{i:03d}", "address": "", "contact": "",
             "created_at": start} for i in range(SUPPLIERS)])  # fmt: skip
        ingredients = _insert(conn, t[Product], [
            {"name": f"Ingredient {i}", "category": "ingredient", "created_at": start}
            for i in range(INGREDIENTS)])  # fmt: skip
        dishes = _insert(
            conn,
            t[Product],
            [
                {"name": f"Dish {i}", "category": "dish", "created_at": start}
                for i in range(ITEMS_EACH + 1)
            ],
        )  # fmt: skip  (the last: sauce)
        students = _insert(conn, t[User], [
            {"email": f"s{i}@bench.edu", "display_name": "", "role": "student",
             "is_active": True, "created_at": start} for i in range(STUDENTS)])  # fmt: skip
        couriers = _insert(conn, t[User], [
            {"email": f"c{i}@bench.edu", "display_name": "", "role": "courier",
             "is_active": True, "created_at": start} for i in range(COURIERS)])  # fmt: skip
        items = {
            m: _insert(
                conn,
                t[MenuItem],
                [
                    {
                        "merchant_id": m,
                        "product_id": dishes[k],
                        "name": f"Dish {k} of {m}",
                        "description": "",
                        "price_fen": 1200 + 100 * k,
                        "allergens": [],
                        "food_class": "cold" if k == 0 else "hot",
                        "available": True,
                        "created_at": start,
                    }
                    for k in range(ITEMS_EACH)
                ],
            )
            for m in merchants
        }
    hot_lot = None
    hot_orders: list[int] = []
    end = start + timedelta(days=days)
    for day in range(days):
        t0 = start + timedelta(days=day)
        outbreak = day >= days - OUTBREAK_DAYS
        with engine.begin() as conn:
            lot_rows = [
                {"merchant_id": m, "tlc": f"L{day}-{m}-{j}", "product_id": rng.choice(ingredients),
                 "quantity": 50.0, "unit": "kg", "supplier_id": rng.choice(suppliers),
                 "received_at": t0 + timedelta(hours=6), "status": "active", "created_at": t0}
                for m in merchants for j in range(3)
            ]  # fmt: skip
            lots = _insert(conn, t[IngredientLot], lot_rows)
            lots_of = {m: lots[i * 3 : i * 3 + 3] for i, m in enumerate(merchants)}
            if outbreak and hot_lot is None:
                [hot_lot] = _insert(conn, t[IngredientLot], [
                    {"merchant_id": merchants[0], "tlc": "LET-HOT", "product_id": ingredients[0],
                     "quantity": 100.0, "unit": "kg", "supplier_id": suppliers[0],
                     "received_at": t0, "status": "active", "created_at": t0}])  # fmt: skip
            batch_rows, owner = [], []
            for m in merchants:
                for k in range(ITEMS_EACH + 1):
                    batch_rows.append(
                        {"merchant_id": m, "batch_code": f"B{day}-{m}-{k}",
                         "product_id": dishes[k], "quantity": 500.0, "unit": "portion",
                         "completed_at": t0 + timedelta(hours=9), "status": "active",
                         "created_at": t0})  # fmt: skip
                    owner.append((m, k))
            batches = _insert(conn, t[DishBatch], batch_rows)
            batch_of = dict(zip(owner, batches, strict=True))
            inputs = []
            for (m, k), b in batch_of.items():
                for lot in rng.sample(lots_of[m], 2 if k < ITEMS_EACH else 1):
                    inputs.append(_input(b, lot=lot))
                if k < ITEMS_EACH and rng.random() < 0.1:
                    inputs.append(_input(b, sub=batch_of[(m, ITEMS_EACH)]))
                if outbreak and k == 0 and m in merchants[:3]:
                    inputs.append(_input(b, lot=hot_lot))
            conn.execute(t[TransformationInput].insert(), inputs)
            order_rows, plan = [], []
            for i in range(ORDERS_PER_DAY):
                m = merchants[rng.randrange(MERCHANTS)]
                at = t0 + timedelta(hours=10, seconds=rng.randrange(11 * 3600))
                chosen = rng.sample(range(ITEMS_EACH), rng.choice((1, 1, 2)))
                order_rows.append(
                    {**ORDER_DEFAULTS, "user_id": rng.choice(students), "merchant_id": m,
                     "idempotency_key": f"b{day}-{i}", "created_at": at})  # fmt: skip
                plan.append((m, chosen, at))
            orders = _insert(conn, t[Order], order_rows)
            line_rows, line_plan = [], []
            for o, (m, chosen, at) in zip(orders, plan, strict=True):
                for k in chosen:
                    line_rows.append(
                        {"order_id": o, "menu_item_id": items[m][k], "name": f"Dish {k}",
                         "unit_price_fen": 1500, "quantity": 1, "food_class": "hot"})  # fmt: skip
                    line_plan.append((batch_of[(m, k)], at))
                    if outbreak and k == 0 and m in merchants[:3]:
                        hot_orders.append(o)
            lines = _insert(conn, t[OrderLine], line_rows)
            conn.execute(t[BatchAllocation].insert(), [
                {"order_line_id": ln, "batch_id": b, "quantity": 1.0, "allocated_at": at}
                for ln, (b, at) in zip(lines, line_plan, strict=True)])  # fmt: skip
            conn.execute(t[Delivery].insert(), [
                {"order_id": o, "courier_id": rng.choice(couriers), "status": "delivered",
                 "food_class": "hot", "assigned_at": at}
                for o, (_m, _c, at) in zip(orders, plan, strict=True) if rng.random() < 0.7
            ])  # fmt: skip
    return {"hot_lot": hot_lot, "hot_orders": sorted(set(hot_orders)), "end": end,
            "orders": ORDERS_PER_DAY * days}  # fmt: skip


def _bare_reads(engine, since: datetime, until: datetime) -> None:  # type: ignore[no-untyped-def]
    """The rows any ranking must read, with bare SQL (the baseline)."""
    from sqlalchemy import bindparam, text

    from columns import UTCDateTime

    sqls = [
        "SELECT o.id, o.user_id, o.merchant_id, l.menu_item_id, a.batch_id, d.courier_id "
        "FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id "
        "LEFT JOIN batch_allocations a ON a.order_line_id = l.id "
        "LEFT JOIN order_deliveries d ON d.order_id = o.id "
        "WHERE o.created_at >= :since AND o.created_at <= :until",
    ]
    with engine.connect() as conn:
        for sql in sqls:
            stmt = text(sql).bindparams(
                bindparam("since", since, type_=UTCDateTime()),
                bindparam("until", until, type_=UTCDateTime()),
            )
            conn.execute(stmt).fetchall()


def _open_cases(engine, orders: list[int], end: datetime) -> list[int]:  # type: ignore[no-untyped-def]
    ids = []
    with Session(engine, expire_on_commit=False) as s:
        for k, order in enumerate(orders):
            opened = service.open_case(
                session=s,
                data={
                    "channel": "phone", "category": "illness", "description": f"ill {k}",
                    "onset_at": end - timedelta(hours=2), "symptoms": ["diarrhoea"],
                    "order_ids": [order],
                    "complainant": {"name": f"Caller {k}", "phone": f"1390000{k:04d}"},
                },
                actor="user:1",
                now=end,
            )  # fmt: skip
            assert opened.case.id is not None
            ids.append(opened.case.id)
    return ids


def _reuse(engine, start: datetime) -> tuple[dict[str, object], list[int]]:  # type: ignore[no-untyped-def]
    """What generate_semester returned, read back from a kept file (its first cases)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        hot = conn.execute(text("SELECT id FROM ingredient_lots WHERE tlc = 'LET-HOT'")).scalar()
        cases = [r[0] for r in conn.execute(text(
            "SELECT id FROM complaint_cases ORDER BY id LIMIT :n"), {"n": CASES})]  # fmt: skip
        days = conn.execute(text("SELECT COUNT(DISTINCT date(created_at)) FROM orders")).scalar()
    end = start + timedelta(days=int(days or SEMESTER_DAYS))
    return {"hot_lot": hot, "end": end, "hot_orders": []}, cases


def bench_semester(flask_app, tmp: Path) -> None:  # type: ignore[no-untyped-def]
    keep = os.environ.get("BENCH_COMPLAINTS_DB")  # a semester file kept from an earlier run
    start = datetime(2026, 2, 23, tzinfo=UTC)
    if keep and Path(keep).exists():
        engine = on_database(flask_app, tmp, "unused.sqlite3")
        engine.dispose()
        engine = composition.make_engine(f"sqlite:///{keep}")
        composition.upgrade_database(engine)  # a file kept from before the roll-up tables
        flask_app.extensions["foodtrace"].engine = engine
        made, case_ids = _reuse(engine, start)
        end = made["end"]
        assert isinstance(end, datetime)
        rng = random.Random(7)
        n_cases = len(case_ids)
    else:
        engine = on_database(flask_app, tmp, "semester.sqlite3")
        t0 = time.perf_counter()
        made = generate_semester(engine, start)
        print(f"semester written in {time.perf_counter() - t0:.0f} s", flush=True)
        if keep:
            print(f"(copy {tmp}/semester.sqlite3 to {keep} to reuse it)", flush=True)
        end = made["end"]
        assert isinstance(end, datetime)
        rng = random.Random(7)
        hot = made["hot_orders"]
        assert isinstance(hot, list) and hot
        n_cases = min(CASES, len(hot))  # fewer only in smoke runs
        case_ids = _open_cases(engine, rng.sample(hot, n_cases), end)
    roll_up_figure(engine, start, end, "SQLite", "")
    rank_figures(engine, start, end, case_ids, made["hot_lot"], "SQLite", "")
    bench_open_with_trace(flask_app, engine, end, rng)
    engine.dispose()


def _load() -> str:
    return "load {:.2f}/{:.2f}/{:.2f}".format(*os.getloadavg())


def roll_up_figure(engine, start: datetime, end: datetime, db: str, suffix: str) -> None:  # type: ignore[no-untyped-def]
    """The roll-up of every settled day, from empty, with the semester's end as "now"."""
    from sqlalchemy import delete

    from complaints import exposure_rollups
    from complaints.models import ExposureDay, ExposureRollupDay

    with Session(engine) as s:  # a kept file may hold an earlier run's roll-ups
        s.execute(delete(ExposureDay))
        s.execute(delete(ExposureRollupDay))
        s.commit()
    load, c0, t0 = _load(), time.process_time(), time.perf_counter()
    with Session(engine) as s:
        days = exposure_rollups.roll_up(session=s, now=end, max_days=None)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    t1 = time.perf_counter()
    _bare_reads(engine, start, end - exposure_rollups.DEFAULT_HORIZON)
    floor = time.perf_counter() - t1
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    record(
        f"complaints.exposure_rollup{suffix}_s",
        value=wall,
        unit="s",
        target=None,
        higher_is_better=False,
        baseline=floor,
        baseline_label="the same days' rows read with one bare SQL query (fetchall)",
        note=scaled_note(
            f"roll-up of {len(days)} settled days on {db} (now = the semester's end, horizon "
            f"48 h), from empty; one run; process CPU {cpu:.1f} s; {_load()} (before: {load})"
        ),
    )


def rank_figures(  # type: ignore[no-untyped-def]
    engine, start: datetime, end: datetime, case_ids: list[int], hot_lot: object, db: str,
    suffix: str,
) -> None:  # fmt: skip
    """Figure 3: the ranking over the last week and the whole semester, beside the bare read."""
    from complaints import investigation

    week = (end - timedelta(days=7), end)
    semester = (start, end)
    for label, (since, until), target in (("week", week, 1.0), ("semester", semester, 5.0)):
        samples, floor, cpu = [], [], []
        result = None
        load = _load()
        for _ in range(3):
            c1, t1 = time.process_time(), time.perf_counter()
            with Session(engine) as s:
                result = investigation.investigate(
                    session=s, case_ids=case_ids, since=since, until=until, limit=50
                )
            samples.append(time.perf_counter() - t1)
            cpu.append(time.process_time() - c1)
            t1 = time.perf_counter()
            _bare_reads(engine, since, until)
            floor.append(time.perf_counter() - t1)
        assert result is not None
        top = result.candidates[0]
        assert (top.kind, top.id) == ("lot", str(hot_lot)), top
        days = min(7, (end - start).days) if label == "week" else (end - start).days
        record(
            f"complaints.source_ranking_{label}{suffix}_s",
            value=statistics.median(samples),
            unit="s",
            target=target,
            higher_is_better=False,
            baseline=statistics.median(floor),
            baseline_label="the same rows read with one bare SQL query (fetchall)",
            note=scaled_note(
                f"{len(case_ids)} cases, {days} days, {result.n_orders} orders, "
                f"{result.n_candidates} candidates on {db}; median of 3; planted lot first; "
                f"through daily roll-ups, last 2 days raw; process CPU median "
                f"{statistics.median(cpu):.2f} s; {_load()} (before: {load})"
            ),
        )


def bench_semester_pg() -> None:
    """Figure 3 on PostgreSQL (BENCH_COMPLAINTS_PG=postgresql://user@host:port; the semester's
    length BENCH_PG_DAYS, default the SQLite semester's); skipped without it."""
    import uuid

    base = os.environ.get("BENCH_COMPLAINTS_PG")
    if not base:
        print("PostgreSQL ranking skipped: set BENCH_COMPLAINTS_PG", flush=True)
        return
    name = f"ft_bench_complaints_{uuid.uuid4().hex[:8]}"
    admin = composition.make_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine = composition.make_engine(f"{base}/{name}")
    try:
        composition.upgrade_database(engine)
        days = int(os.environ.get("BENCH_PG_DAYS", str(SEMESTER_DAYS)))
        start = datetime(2026, 2, 23, tzinfo=UTC)
        made = generate_semester(engine, start, days=days)
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        end = made["end"]
        assert isinstance(end, datetime)
        hot = made["hot_orders"]
        assert isinstance(hot, list) and hot
        rng = random.Random(7)
        case_ids = _open_cases(engine, rng.sample(hot, min(CASES, len(hot))), end)
        roll_up_figure(engine, start, end, "PostgreSQL", "_pg")
        rank_figures(engine, start, end, case_ids, made["hot_lot"], "PostgreSQL", "_pg")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def bench_open_with_trace(flask_app, engine, end: datetime, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    """Opening a case about one recent semester order, with its trace-back (figure 4)."""
    from accounts import service as accounts_service
    from trace import queries as trace_queries
    from trace.access import Viewer

    with Session(engine, expire_on_commit=False) as s:
        email = f"desk{time.time_ns()}@bench.edu"
        desk = accounts_service.create_user(session=s, email=email, role="desk")
    client = flask_app.test_client()
    headers = {"Authorization": f"Bearer {desk.api_token}"}
    desk_viewer = Viewer(actor="bench", role="desk")
    from sqlalchemy import text

    with engine.connect() as conn:
        recent = [r[0] for r in conn.execute(text(
            "SELECT id FROM orders ORDER BY id DESC LIMIT 2000")).fetchall()]  # fmt: skip
    samples, floor = [], []
    n = max(30, int(300 * SCALE))
    for k in range(n):
        order = rng.choice(recent)
        body = {
            "category": "illness", "description": f"ill after order {order}",
            "order_ids": [order], "onset_at": (end - timedelta(hours=1)).isoformat(),
            "symptoms": ["vomiting"], "channel": "phone",
            "complainant": {"name": f"Open {k}", "phone": f"1370000{k:04d}"},
        }  # fmt: skip
        t1 = time.perf_counter()
        resp = client.post("/api/v1/cases", json=body, headers=headers)
        assert resp.status_code == 201, resp.get_json()
        detail = client.get(f"/api/v1/cases/{resp.get_json()['id']}", headers=headers)
        samples.append(time.perf_counter() - t1)
        assert detail.get_json()["traceback"]["orders"][0]["known"]
        with Session(engine) as s:
            lines = (
                s.connection()
                .execute(text("SELECT id FROM order_lines WHERE order_id = :o"), {"o": order})
                .fetchall()
            )
            t1 = time.perf_counter()
            for (line,) in lines:
                trace_queries.trace(
                    session=s, viewer=desk_viewer, kind="order_line", ident=line,
                    direction="backward",
                )  # fmt: skip
            floor.append(time.perf_counter() - t1)
    record(
        "complaints.open_case_with_trace_p95_ms",
        value=p95(samples) * 1000,
        unit="ms",
        target=300,
        higher_is_better=False,
        baseline=p95(floor) * 1000,
        baseline_label="p95 of trace.queries backward traces of the same order's lines alone",
        note=scaled_note(
            f"POST /api/v1/cases + GET /api/v1/cases/{{id}} (trace-back, cold chain, cluster "
            f"check) on the semester, {n} cases, median {statistics.median(samples) * 1000:.1f} ms"
        ),
    )


def main() -> None:
    print(f"complaint benchmarks at BENCH_SCALE={SCALE}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = composition.Settings.from_env(
            env={}, instance_path=Path(tmp), database_url=f"sqlite:///{tmp}/app.sqlite3",
            testing=True,
        )  # fmt: skip
        flask_app = composition.create_app(settings)
        composition.engine_of(flask_app).dispose()
        with tempfile.TemporaryDirectory() as sub:
            bench_open_case(flask_app, Path(sub))
        bench_survey()
        with tempfile.TemporaryDirectory() as sub:
            bench_semester(flask_app, Path(sub))
    bench_semester_pg()
    write()


if __name__ == "__main__":
    main()
