"""Campus-semester generator benchmark: rows/s through the services, and the full-size estimate.

    .venv/bin/python bench/semester.py                      # 3,000 students x 10 days
    BENCH_SCALE=0.1 .venv/bin/python bench/semester.py      # smoke run (300 students)

Generates a scaled semester (`demo.semester.generate`) on a fresh SQLite file in a temporary
folder, then measures the baseline in the same run: a bare `executemany` of the very same order
rows into an empty table with the `orders` columns (no foreign keys, secondary indexes, ledger
or services). Figures:

- semester.orders_per_s: orders written per second of the whole generation (trace, orders,
  deliveries, readings, complaints) vs the bare insert of the same rows;
- semester.rows_per_s: all domain rows (users, lots, batches, orders, lines, allocations,
  deliveries, readings, cases) per second;
- semester.full_size_minutes: the default size (30,000 students x 100 days) extrapolated per
  stage from the scaled run (each stage scales with what it writes: orders, readings), vs the
  20-minute target.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Column, MetaData, Table, insert, select  # noqa: E402
from sqlmodel import Session  # noqa: E402

import app as composition  # noqa: E402
from bench.harness import record, write  # noqa: E402
from demo import semester  # noqa: E402
from orders.models import Order  # noqa: E402

FULL_STUDENTS, FULL_DAYS = 30_000, 100


def estimate_full(made: semester.Semester, students: int, days: int) -> float:
    """Seconds the full size would take, stage by stage, from a scaled run."""
    s = made.seconds
    order_scale = (FULL_STUDENTS * FULL_DAYS) / (students * days)
    _m, couriers = semester.sizes(students)
    _fm, full_couriers = semester.sizes(FULL_STUDENTS)
    reading_scale = (full_couriers * FULL_DAYS) / (couriers * days)
    merchants, full_merchants = semester.sizes(students)[0], semester.sizes(FULL_STUDENTS)[0]
    trace_scale = (full_merchants * FULL_DAYS) / (merchants * days)
    return (
        s["campus"] * FULL_STUDENTS / students
        + s["trace"] * trace_scale
        + (s["orders"] + s["deliveries"] + s["cases"]) * order_scale
        + s["readings"] * reading_scale
    )


def bare_insert(rows: list[dict], folder: Path) -> float:
    """Seconds to executemany the rows into an empty copy of the orders table."""
    engine = composition.make_engine(f"sqlite:///{folder / 'bare.sqlite3'}")
    try:
        meta = MetaData()
        columns = Order.__table__.columns  # type: ignore[attr-defined]
        table = Table(
            "orders", meta, *(Column(c.name, c.type, primary_key=c.primary_key) for c in columns)
        )  # the same columns, no foreign keys or secondary indexes
        meta.create_all(engine)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(insert(table), rows)
        return time.perf_counter() - t0
    finally:
        engine.dispose()


def main() -> None:
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    students, days = max(60, round(3000 * scale)), max(2, round(10 * min(scale * 2, 1)))
    with tempfile.TemporaryDirectory(prefix="ft-semester-") as tmp:
        folder = Path(tmp)
        engine = composition.make_engine(f"sqlite:///{folder / 'semester.sqlite3'}")
        try:
            composition.upgrade_database(engine)
            t0 = time.perf_counter()
            with Session(engine, expire_on_commit=False) as session:
                made = semester.generate(session=session, students=students, days=days)
            elapsed = time.perf_counter() - t0
            with Session(engine) as session:
                counts = semester.table_counts(session)
                rows = [dict(r._mapping) for r in session.execute(select(Order.__table__))]  # type: ignore[attr-defined]
        finally:
            engine.dispose()
        bare = bare_insert(rows, folder)
    c = made.counts
    size = f"{students} students x {days} days"
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in made.seconds.items())
    record(
        "semester.orders_per_s",
        value=c.orders / elapsed,
        unit="orders/s",
        target=None,
        higher_is_better=True,
        baseline=len(rows) / bare,
        baseline_label="bare executemany of the same order rows (SQLite, no ledger)",
        note=f"{size}: {c.orders} orders, whole generation {elapsed:.1f} s ({stages})",
    )
    total_rows = sum(counts.values())
    record(
        "semester.rows_per_s",
        value=total_rows / elapsed,
        unit="rows/s",
        target=None,
        higher_is_better=True,
        baseline=len(rows) / bare,
        baseline_label="bare executemany of the same order rows (SQLite, no ledger)",
        note=f"{size}: {total_rows} domain rows {counts}",
    )
    full = estimate_full(made, students, days) / 60
    record(
        "semester.full_size_minutes",
        value=full,
        unit="min",
        target=20.0,
        higher_is_better=False,
        note=f"30,000 students x 100 days extrapolated per stage from {size}",
    )
    for line in made.incidents.lines():
        print(line)
    write()


if __name__ == "__main__":
    main()
