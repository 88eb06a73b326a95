"""Report benchmarks: laying out a large case report as a PDF.

    .venv/bin/python bench/reports.py                    # full scale
    BENCH_SCALE=0.1 .venv/bin/python bench/reports.py    # smoke run (do not commit results)

A case with 1,000 affected orders (1,000 judged deliveries, over 3 merchants and 7 days) and
10,000 temperature readings (the charted deliveries' series), 40 timeline events, a 60-node
trace and 200 cited records with RFC 9162 proof bundles of realistic size: reports.pdf renders
the whole document (cover with QR code, charts, tables, appendix) and embeds the proof bundle.
Target (issue 8): <= 3 s. Baseline: a bare reportlab document of the same page count (one
paragraph per page), built in the same run - the floor of any PDF that long.

2. The same, end to end on SQLite: the demo campus plus 1,000 orders of one case delivered in
   one box whose probe logged 10,000 readings; `service.render_report` gathers (case, SLA,
   trace, bulk cold-chain verdicts, charts' readings, ranking), signs a checkpoint, builds the
   proofs, lays out and stores the PDF. (Intake caps a case at 20 orders, so the bench links the
   other 980 through `case_orders` rows directly, each with a ledger entry.) Same baseline.

3. The administrators' dashboard over a campus semester: a copy of the kept semester file
   BENCH_SEMESTER_DB (default /tmp/semester-full.sqlite3, `flask demo generate --students 30000
   --days 100`, ~30 min) when it exists, else `demo.semester.generate` writes one on SQLite
   through the services (BENCH_SEMESTER_STUDENTS x BENCH_SEMESTER_DAYS, default 3,000 x 20).
   The finished deliveries' verdicts are stored first (`sensors.verdicts.judge_finished`, the
   background task's work, timed and printed apart), then `reports.campus.tables` computes
   every dashboard table (complaints over time and per 1,000
   orders, SLA compliance, cold-chain verdicts of every delivery by merchant and courier, open
   clusters with their source ranking, certificate expiries) over the whole semester. Target
   (issue 8): <= 1 s. Baseline in the same run: reading the semester's orders (id, merchant)
   and deliveries into pandas, the floor of any dashboard over those rows.
"""

from __future__ import annotations

import base64
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reportlab.lib.pagesizes import A4
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

from bench.harness import record, write
from reports import content, pdf, proofs

SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
ORDERS = max(50, int(1000 * SCALE))
READINGS = max(500, int(10_000 * SCALE))
CITED = 200


def _hash(rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(32)).decode()


def big_case() -> tuple[content.CaseReport, bytes, str]:
    rng = random.Random(8)
    t0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
    temps = []
    charted = pdf.MAX_CHARTS
    per_chart = READINGS // charted
    for i in range(ORDERS):
        start = t0 + timedelta(hours=i % 160, minutes=i % 50)
        end = start + timedelta(minutes=25)
        points: tuple[tuple[datetime, float], ...] = ()
        if i < charted:
            step = (end - start) / per_chart
            points = tuple((start + step * k, 3.0 + rng.random() * 4) for k in range(per_chart))
        temps.append(
            content.TemperatureFigure(
                delivery_id=i + 1,
                order_id=i + 1,
                box_id=f"BOX-{i % 40:03d}",
                start=start,
                end=end,
                points=points,
                low_c=None,
                high_c=5.0,
                verdict="fail" if i < 30 else "pass",
                n_readings=per_chart if i < charted else 10,
                min_c=3.0,
                max_c=7.0,
                mean_c=4.5,
                minutes_outside=6.0 if i < 30 else 0.0,
                excursions=(
                    content.Span(start + timedelta(minutes=5), start + timedelta(minutes=11), 7.0),
                )
                if i < 30
                else (),
            )
        )
    nodes, edges = [], []
    for s in range(6):
        nodes.append(content.TraceNode("supplier", str(s), f"供应商 Supplier {s}", 3, s))
    for lot in range(18):
        nodes.append(content.TraceNode("lot", str(lot), f"LOT-{lot:04d} 原料", 2, 100 + lot))
        edges.append((("supplier", str(lot % 6)), ("lot", str(lot))))
    for b in range(24):
        nodes.append(content.TraceNode("batch", str(b), f"B-{b:04d} 菜品批次", 1, 200 + b))
        edges.append((("lot", str(b % 18)), ("batch", str(b))))
    for line in range(12):
        nodes.append(content.TraceNode("order_line", str(line), f"order line {line}", 0, None))
        edges.append((("batch", str(line * 2)), ("order_line", str(line))))
    events = tuple(
        content.TimelineRow(t0 + timedelta(minutes=15 * k), "note", "user:3") for k in range(40)
    )
    cited = tuple(content.Cited(f"record {k}", 1000 + k, _hash(rng)) for k in range(CITED))
    report = content.CaseReport(
        case_id=1,
        number="FT-2026-000123",
        language="zh-CN",
        version=3,
        audience="staff",
        generated_at=t0 + timedelta(days=7),
        author="user:2",
        status="investigating",
        category="illness",
        severity="critical",
        opened_at=t0,
        n_party=40,
        n_ill=23,
        tz="Asia/Shanghai",
        timeline=events,
        sla=(content.SlaRow("first_response", 30, t0 + timedelta(minutes=30), t0, False, False),),
        trace=content.TraceFigure(tuple(nodes), tuple(edges)),
        temperatures=tuple(temps),
        affected=tuple(
            content.AffectedRow(f"商户 Merchant {m}", (t0 + timedelta(days=d)).date(), ORDERS // 21)
            for m in range(3)
            for d in range(7)
        ),
        complainant={"name": "Li Wei", "phone": "13800138000", "email": ""},
        cited=cited,
        checkpoint="foodtrace.test/ledger\n5000\n" + _hash(rng) + "\n",
        public_key="-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----",
        counts={"n_orders": ORDERS},
    )
    bundles = [
        (
            c.label,
            {
                "index": c.index,
                "leaf_hash": c.leaf_hash,
                "entry": _hash(rng) * 8,
                "inclusion_proof": [_hash(rng) for _ in range(13)],
                "checkpoint": report.checkpoint,
                "public_key": report.public_key,
            },
        )
        for c in cited
    ]
    document = proofs.bundle_document(report={"case": report.number}, records=bundles)
    qr = proofs.qr_payload(number=report.number, version=3, language="zh-CN", document=document)
    return report, document, qr


def bare(pages: int) -> bytes:
    import io

    buf = io.BytesIO()
    story = []
    for k in range(pages):
        story += [Paragraph(f"Page {k + 1}"), PageBreak()]
    SimpleDocTemplate(buf, pagesize=A4).build(story[:-1])
    return buf.getvalue()


def end_to_end() -> tuple[float, int]:
    """Seconds to render the large case through the service, and its page count."""
    import tempfile

    from sqlmodel import Session

    import app as composition
    import ledger
    from columns import utcnow
    from complaints import service as complaints
    from complaints.models import CaseOrder
    from demo.seed import seed_all
    from evidence.service import LedgerKey
    from orders.models import Delivery, Order, OrderLine
    from reports import service
    from sensors import ingest
    from sensors import service as sensors
    from sensors.readings import parse_json_readings

    folder = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    engine = composition.make_engine(f"sqlite:///{folder / 'bench.sqlite3'}")
    composition.upgrade_database(engine)
    now = utcnow().replace(microsecond=0)
    start = now - timedelta(hours=20)
    with Session(engine, expire_on_commit=False) as s:
        seed_all(session=s)
        device = sensors.register_device(
            session=s,
            device_id="BENCH-PROBE",
            box_id="BOX-BENCH",
            actor="bench",
            now=start - timedelta(hours=1),
        ).device
        rng = random.Random(8)
        items = [
            {
                "time": (start + timedelta(seconds=6 * k)).isoformat(),
                "value": round(3 + 4 * rng.random(), 2),
                "unit": "CEL",
            }
            for k in range(READINGS)
        ]
        ingest.ingest(
            session=s, device=device, parsed=parse_json_readings(items, now=now), channel="http"
        )
        case_id = complaints.open_case(
            session=s,
            actor="user:1",
            data={
                "channel": "phone",
                "category": "illness",
                "description": "bench",
                "symptoms": ["vomiting"],
                "onset_at": now - timedelta(hours=1),
                "n_party": 1,
                "n_ill": 1,
                "order_ids": [1],
                "merchant_id": 1,
                "complainant": {"name": "Bench", "phone": "13800138000"},
            },
        ).case.id
        entries = ledger.append_many(
            s, [ledger.Event("bench.order", {"n": k}) for k in range(ORDERS)]
        )
        span = (READINGS * 6) // ORDERS
        for k, entry in enumerate(entries):
            picked = start + timedelta(seconds=span * k)
            order = Order(
                user_id=1,
                merchant_id=1 + k % 3,
                idempotency_key=f"bench-{k}",
                request_digest="0" * 64,
                status="delivered",
                total_fen=1800,
                created_at=picked - timedelta(minutes=20),
                placed_index=entry.index,
                ledger_index=entry.index,
            )
            s.add(order)
            s.flush()
            s.add(
                OrderLine(
                    order_id=order.id,
                    menu_item_id=1,
                    name="bench dish",
                    unit_price_fen=1800,
                    quantity=1,
                    food_class="cold",
                )
            )
            s.add(
                Delivery(
                    order_id=order.id,
                    courier_id=1,
                    status="delivered",
                    food_class="cold",
                    box_id="BOX-BENCH",
                    assigned_at=picked,
                    picked_up_at=picked,
                    dropped_off_at=picked + timedelta(seconds=span),
                )
            )
            s.add(CaseOrder(case_id=case_id, order_id=order.id, ledger_index=entry.index))
        s.commit()
        key = LedgerKey(folder / "ledger.pem", "bench/ledger")
        caller = service.Caller("user:1", "admin")
        t = time.perf_counter()
        report = service.request_case_report(
            session=s, case_id=case_id, language="zh-CN", audience="staff", caller=caller
        )
        report = service.render_report(session=s, report_id=report.id, key=key, tz="Asia/Shanghai")
        seconds = time.perf_counter() - t
        assert report.status == "ready", report.error
        pages = report.pages or 0
    engine.dispose()
    return seconds, pages


def dashboard_semester() -> tuple[float, float, str]:
    """(median seconds of the dashboard's tables over a semester, baseline, note).

    The semester is a copy of BENCH_SEMESTER_DB when that file exists (the kept full-size
    one: the original is only read), else one generated here at BENCH_SEMESTER_STUDENTS x
    BENCH_SEMESTER_DAYS. The copy's finished deliveries are judged first by the background
    path (`sensors.verdicts.judge_finished`, timed on its own), then the dashboard is timed.
    """
    import shutil
    import tempfile

    from sqlmodel import Session

    import app as composition
    from demo import semester

    kept = os.environ.get("BENCH_SEMESTER_DB", "/tmp/semester-full.sqlite3")  # noqa: S108
    with tempfile.TemporaryDirectory(prefix="ft-reports-") as tmp:
        path = Path(tmp) / "semester.sqlite3"
        if os.path.exists(kept):
            t = time.perf_counter()
            shutil.copyfile(kept, path)
            size = path.stat().st_size / 2**30
            source = f"copy of {kept} ({size:.1f} GiB, copied in {time.perf_counter() - t:.0f} s)"
        else:
            students = int(
                os.environ.get("BENCH_SEMESTER_STUDENTS", str(max(60, int(3000 * SCALE))))
            )
            days = int(os.environ.get("BENCH_SEMESTER_DAYS", str(max(2, int(20 * SCALE)))))
            source = f"generated {students} students x {days} days"
        engine = composition.make_engine(f"sqlite:///{path}")
        try:
            composition.upgrade_database(engine)
            if not os.path.exists(kept):
                t = time.perf_counter()
                with Session(engine, expire_on_commit=False) as s:
                    semester.generate(session=s, students=students, days=days)
                source += f" in {time.perf_counter() - t:.0f} s"
            return _time_dashboard(engine, source)
        finally:
            engine.dispose()


def _time_dashboard(engine: Any, source: str) -> tuple[float, float, str]:
    import pandas as pd
    from sqlalchemy import func, select
    from sqlmodel import Session

    from complaints import exposure_rollups
    from orders.models import Delivery, Order
    from reports import campus
    from sensors import verdicts

    with Session(engine) as s:
        first, last, n_orders = s.execute(
            select(func.min(Order.created_at), func.max(Order.created_at), func.count())
        ).one()
        n_deliveries = s.execute(select(func.count()).select_from(Delivery)).scalar_one()
        n_readings = s.execute(text_count("sensor_readings")).scalar_one()
    since = datetime.combine(first.date(), datetime.min.time(), tzinfo=UTC)
    until = datetime.combine(last.date(), datetime.min.time(), tzinfo=UTC) + timedelta(days=1)

    with Session(engine, expire_on_commit=False) as s:
        wall, cpu = time.perf_counter(), time.process_time()
        written = verdicts.judge_finished(session=s, lookback=None, limit=None)
        judge_wall, judge_cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"judge-finished (background): {written} verdicts in {judge_wall:.1f} s "
        f"(CPU {judge_cpu:.1f} s), load {_load()}"
    )
    with Session(engine, expire_on_commit=False) as s:  # the clusters' source ranking reads them
        wall = time.perf_counter()
        days = exposure_rollups.roll_up(session=s, max_days=None)
        rolled = time.perf_counter() - wall
    print(f"roll-up-exposures (background): {len(days)} days in {rolled:.1f} s")
    samples, cpus, floor, floor_cpus = [], [], [], []
    for _ in range(3):
        with Session(engine) as s:
            wall, cpu = time.perf_counter(), time.process_time()
            tables = campus.tables(
                session=s, since=since, until=until, tz="Asia/Shanghai", today=until.date()
            )
            samples.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        with Session(engine) as s:
            wall, cpu = time.perf_counter(), time.process_time()
            orders = pd.DataFrame(
                s.execute(
                    select(Order.id, Order.merchant_id).where(
                        Order.created_at >= since, Order.created_at < until
                    )
                ).all()
            )
            deliveries = pd.DataFrame(
                s.execute(select(Delivery.id, Delivery.courier_id, Delivery.box_id)).all()
            )
            floor.append(time.perf_counter() - wall)
            floor_cpus.append(time.process_time() - cpu)
            assert len(orders) == n_orders and len(deliveries) == n_deliveries
    parts = _parts(engine, since, until)
    judged = int(tables["cold_chain_by_merchant"]["judged"].sum())
    note = (
        f"SQLite, {source}: {n_orders} orders, {n_deliveries} deliveries, {n_readings} "
        f"readings, {judged} verdicts on the dashboard, {len(tables['open_clusters'])} open "
        f"clusters; dashboard wall {[round(x, 3) for x in samples]} s, CPU "
        f"{[round(x, 3) for x in cpus]} s; baseline CPU {[round(x, 3) for x in floor_cpus]} s; "
        f"of which (median wall/CPU s) {parts}; "
        f"judge-finished beforehand (background) {written} verdicts in {judge_wall:.0f} s "
        f"(CPU {judge_cpu:.0f} s); load {_load()}"
    )
    return statistics.median(samples), statistics.median(floor), note


def _parts(engine: Any, since: datetime, until: datetime) -> str:
    """Median wall and CPU seconds of the dashboard's parts: the counts this issue moved into
    the database (orders per merchant, cold-chain verdicts) and the clusters' source ranking."""
    from sqlmodel import Session

    from reports import campus

    now = datetime.now(UTC)
    calls = {
        "orders per merchant": lambda s: campus._orders_per_merchant(s, since, until, None),
        "cold-chain counts": lambda s: campus._verdict_counts(s, since, until, None, None, now),
        "clusters + ranking": lambda s: campus._clusters(s),
    }
    out = []
    for name, call in calls.items():
        walls, cpus = [], []
        for _ in range(3):
            with Session(engine) as s:
                wall, cpu = time.perf_counter(), time.process_time()
                call(s)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
        out.append(f"{name} {statistics.median(walls):.3f}/{statistics.median(cpus):.3f}")
    return ", ".join(out)


def text_count(table: str) -> Any:
    from sqlalchemy import text

    return text(f"SELECT max(id) FROM {table}")  # noqa: S608  (a constant name; max(id) is O(1))


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    if os.environ.get("BENCH_ONLY") == "dashboard":  # only this figure, merged into results
        _dashboard()
        write()
        return
    report, document, qr = big_case()
    samples, floor, pages = [], [], 0
    for _ in range(3):
        t = time.perf_counter()
        data = pdf.render_case_report(report, document, qr)
        samples.append(time.perf_counter() - t)
        pages = pdf.page_count(data)
        t = time.perf_counter()
        bare(pages)
        floor.append(time.perf_counter() - t)
    note = f"{ORDERS} orders, {READINGS} readings, {CITED} cited records, {pages} pages"
    record(
        "reports.case_pdf_render_s",
        value=statistics.median(samples),
        unit="s",
        target=3.0,
        higher_is_better=False,
        baseline=statistics.median(floor),
        baseline_label=f"bare reportlab document of the same {pages} pages",
        note=note if SCALE == 1.0 else f"{note}; BENCH_SCALE={SCALE}",
    )
    seconds, pages = end_to_end()
    t = time.perf_counter()
    bare(pages)
    base = time.perf_counter() - t
    record(
        "reports.case_pdf_end_to_end_s",
        value=seconds,
        unit="s",
        target=3.0,
        higher_is_better=False,
        baseline=base,
        baseline_label=f"bare reportlab document of the same {pages} pages",
        note=f"SQLite, {ORDERS} orders, {READINGS} readings, gather+proofs+layout+store"
        + ("" if SCALE == 1.0 else f"; BENCH_SCALE={SCALE}"),
    )
    _dashboard()
    if SCALE == 1.0:
        write()


def _dashboard() -> None:
    seconds, base, note = dashboard_semester()
    print(note)
    record(
        "reports.dashboard_semester_s",
        value=seconds,
        unit="s",
        target=1.0,
        higher_is_better=False,
        baseline=base,
        baseline_label="reading the semester's orders and deliveries into pandas",
        note=note,
    )


if __name__ == "__main__":
    main()
