"""The campus-semester generator at a small size: counts, lineage, ledger, planted incidents."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

import ledger
from complaints.models import Case, ExposureRollupDay
from demo import semester
from orders.models import Delivery, Order, OrderLine
from sensors import coldchain
from sensors.models import StoredVerdict
from trace.models import BatchAllocation, DishBatch, IngredientLot, TransformationInput

STUDENTS, DAYS = 60, 2


@pytest.fixture
def made(engine):
    with Session(engine, expire_on_commit=False) as s:
        return semester.generate(session=s, students=STUDENTS, days=DAYS, seed=7)


def _count(s: Session, model: object) -> int:
    return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_counts_match_the_tables_and_the_campus_size(made, engine):
    merchants, couriers = semester.sizes(STUDENTS)
    c = made.counts
    assert (c.students, c.merchants, c.couriers) == (STUDENTS, merchants, couriers)
    assert c.orders >= DAYS * STUDENTS * semester.ORDERS_PER_STUDENT_DAY * 0.8
    assert c.readings == couriers * DAYS * sum(end - start for start, end in semester.SERVICE)
    with Session(engine) as s:
        rows = semester.table_counts(s)
        paid = _count(s, select(Order.id).where(Order.payment_status == "paid").subquery())
        delivered = _count(s, select(Delivery.id).where(Delivery.status == "delivered").subquery())
    assert rows["orders"] == c.orders == paid == delivered == c.deliveries
    assert rows["lines"] == c.lines and rows["readings"] == c.readings
    assert (
        rows["cases"]
        == c.complaints
        == len(made.incidents.illness_cases) + len(made.incidents.background_cases)
    )
    assert rows["lots"] == c.lots and rows["batches"] == c.batches


def test_every_line_has_a_batch_and_every_row_its_ledger_entry(made, app, engine):
    with Session(engine) as s:
        unbatched = s.execute(
            select(func.count())
            .select_from(OrderLine)
            .outerjoin(BatchAllocation, BatchAllocation.order_line_id == OrderLine.id)
            .where(BatchAllocation.id.is_(None))
        ).scalar_one()
        assert unbatched == 0
        for model in (Order, OrderLine, Delivery, Case, IngredientLot, DishBatch):
            missing = select(model.id).where(model.ledger_index.is_(None)).subquery()
            assert _count(s, missing) == 0, model.__name__
    projections = app.extensions["foodtrace"].extras["projections"]
    with Session(engine) as fresh:
        report = ledger.verify(fresh, projections=projections)
        fresh.rollback()
    assert report.problem is None, report.problem


def test_the_contaminated_lot_reaches_three_merchants_and_their_orders_fall_ill(made, engine):
    planted = made.incidents
    with Session(engine) as s:
        used_in = s.execute(
            select(DishBatch.id, DishBatch.merchant_id)
            .join(TransformationInput, TransformationInput.batch_id == DishBatch.id)
            .where(TransformationInput.lot_id == planted.contaminated_lot)
        ).all()
        ill = s.execute(select(Case.category).where(Case.id.in_(planted.illness_cases))).all()
    assert sorted(b for b, _m in used_in) == sorted(planted.contaminated_batches)
    assert len({m for _b, m in used_in}) == 3 == len(planted.contaminated_merchants)
    assert {m for _b, m in used_in} == set(planted.contaminated_merchants)
    assert planted.illness_cases and {c for (c,) in ill} == {"illness"}
    assert len(planted.illness_cases) >= round(planted.contaminated_orders * 0.05)


def test_the_excursion_route_fails_its_cold_chain_verdict_and_others_pass(made, engine):
    planted = made.incidents
    assert planted.excursion_deliveries
    with Session(engine) as s:
        warm = s.get(Delivery, planted.excursion_deliveries[0])
        other = s.execute(
            select(Delivery)
            .where(Delivery.food_class == "cold", Delivery.box_id != planted.excursion_box)
            .limit(1)
        ).scalar_one()

        def verdict(d: Delivery) -> str:
            return coldchain.judge_window(
                session=s, box_id=d.box_id, pickup_at=d.picked_up_at,
                dropoff_at=d.dropped_off_at, food_class=d.food_class,
            ).verdict  # fmt: skip

        assert warm.box_id == planted.excursion_box
        assert verdict(warm) == "fail"
        assert verdict(other) == "pass"


def test_the_same_seed_writes_the_same_semester(made, engine, sqlite_engine):
    with Session(sqlite_engine, expire_on_commit=False) as s:
        again = semester.generate(session=s, students=STUDENTS, days=DAYS, seed=7)

    def orders(eng) -> list[tuple]:
        with Session(eng) as s:
            return list(
                s.execute(
                    select(
                        Order.idempotency_key, Order.merchant_id, Order.total_fen, Order.building
                    ).order_by(Order.idempotency_key)
                ).all()
            )

    assert again.counts == made.counts
    assert again.incidents.lines() == made.incidents.lines()
    assert orders(sqlite_engine) == orders(engine)


def test_the_cli_generates_with_a_progress_bar_and_prints_the_incidents(runner, engine):
    result = runner.invoke(args=["demo", "generate", "--students", "30", "--days", "1"])
    assert result.exit_code == 0, result.output
    assert "semester" in result.output  # the progress bar's label
    assert "contaminated lot" in result.output and "excursion route" in result.output
    with Session(engine) as s:
        assert semester.table_counts(s)["orders"] > 0
        delivered = s.execute(select(func.count()).select_from(Delivery)).scalar_one()
        stored = s.execute(select(func.count()).select_from(StoredVerdict)).scalar_one()
        rolled = s.execute(select(func.count()).select_from(ExposureRollupDay)).scalar_one()
    assert "derived caches" in result.output
    assert stored == 2 * delivered  # every finished delivery judged under both profiles
    assert rolled == 1  # the generated day is long settled
    bad = runner.invoke(args=["demo", "generate", "--students", "3"])
    assert bad.exit_code != 0 and "--students" in bad.output


def test_it_adds_a_semester_beside_the_make_run_demo(app, engine):
    from demo import seed as demo_seed

    with Session(engine, expire_on_commit=False) as s:
        demo_seed.seed_all(session=s)
        made = semester.generate(session=s, students=30, days=1, seed=3)
    assert made.counts.orders > 0 and len(made.incidents.contaminated_merchants) == 3
    projections = app.extensions["foodtrace"].extras["projections"]
    with Session(engine) as fresh:
        report = ledger.verify(fresh, projections=projections)
        fresh.rollback()
    assert report.problem is None, report.problem
