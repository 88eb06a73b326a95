"""The demo day seeds once and `ledger verify` passes after it; the CLI commands work."""

from __future__ import annotations

import json

from sqlmodel import Session, func, select

import ledger
from demo import seed as demo_seed
from orders import demo
from orders.models import Delivery, Order, OrderLine


def test_the_demo_day_seeds_once_and_the_ledger_verifies(app, engine):
    with Session(engine, expire_on_commit=False) as s:
        demo_seed.seed_all(session=s)
        counts = (
            s.exec(select(func.count()).select_from(Order)).one(),
            s.exec(select(func.count()).select_from(OrderLine)).one(),
            s.exec(select(func.count()).select_from(Delivery)).one(),
        )
        demo.seed(session=s)  # again: nothing new
        assert (
            s.exec(select(func.count()).select_from(Order)).one(),
            s.exec(select(func.count()).select_from(OrderLine)).one(),
            s.exec(select(func.count()).select_from(Delivery)).one(),
        ) == counts
        statuses = set(s.exec(select(Order.payment_status)).all())
        seals = set(s.exec(select(Delivery.seal_intact)).all())
    assert counts[0] >= 10 and {"paid", "deferred", "failed"} <= statuses
    assert False in seals and True in seals
    projections = app.extensions["foodtrace"].extras["projections"]
    with Session(engine) as fresh:
        report = ledger.verify(fresh, projections=projections)
        fresh.rollback()
    assert report.problem is None, report.problem


def test_the_cli_sets_the_gateway_reconciles_and_erases(runner, campus, session, config):
    from orders import placement

    result = runner.invoke(args=["orders", "gateway", "down"])
    assert result.exit_code == 0 and json.loads(result.output)["mode"] == "down"
    assert runner.invoke(args=["orders", "gateway", "sideways"]).exit_code != 0
    placement.place_order(session=session, request=campus.request(), config=config)
    session.rollback()
    result = runner.invoke(args=["orders", "reconcile"])
    assert result.exit_code == 0 and json.loads(result.output)["claimed"] == 0
    result = runner.invoke(args=["orders", "erase-expired", "--days", "1"])
    assert result.exit_code == 0 and "erased personal data of 0 orders" in result.output
