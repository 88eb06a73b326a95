"""Concurrent retries and concurrent orders on PostgreSQL: one order per key, no overselling,
one charge per order, whichever thread (or process) gets there first."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

import app as composition
from columns import utcnow
from orders import billing, errors, placement, views
from orders.gateway_sim import SimulatedGateway, charge_count, set_gateway_mode
from orders.models import MenuBatch, Order
from orders.rules import OrdersConfig
from tests.orders.conftest import bearer, build_campus

pytestmark = pytest.mark.postgres
CONFIG = OrdersConfig.from_mapping({"ORDERS_PAYMENT_TIMEOUT_SECONDS": 0.5})


@pytest.fixture
def pg_campus(pg_engine):
    with Session(pg_engine, expire_on_commit=False) as s:
        return build_campus(s)


def in_threads(n, fn):
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()  # all at once
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_the_same_key_from_many_sessions_at_once_is_one_order(pg_engine, pg_campus):
    def place(_i):
        with Session(pg_engine) as s:  # one session each: separate processes would do the same
            return placement.place_order(
                session=s, request=pg_campus.request(key="storm"), config=CONFIG
            )

    results = in_threads(8, place)
    assert len({r.order_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    with Session(pg_engine) as s:
        assert s.exec(select(func.count()).select_from(Order)).one() == 1


def test_concurrent_orders_never_oversell_a_batch(pg_engine, pg_campus):
    def place(i):
        with Session(pg_engine) as s:
            try:
                return placement.place_order(
                    session=s,
                    request=pg_campus.request(key=f"k{i}", items=((pg_campus.rice, 1),)),
                    config=CONFIG,
                )
            except errors.SoldOut as exc:
                return exc

    results = in_threads(20, place)
    assert sum(isinstance(r, placement.Placed) for r in results) == 15  # 10 + 5 portions
    assert sum(isinstance(r, errors.SoldOut) for r in results) == 5
    with Session(pg_engine) as s:
        allocated = s.exec(select(func.sum(MenuBatch.allocated))).one()
    assert allocated == 15


def test_concurrent_reconciliation_charges_each_order_once(pg_engine, pg_campus):
    gateway = SimulatedGateway(pg_engine, sleep=lambda _s: None)
    with Session(pg_engine) as s:
        set_gateway_mode(session=s, mode="down", actor="test")
        ids = [
            placement.place_order(
                session=s,
                request=pg_campus.request(key=f"k{i}", items=((pg_campus.salad, 1),)),
                config=CONFIG,
            ).order_id
            for i in range(6)
        ]
        for order_id in ids:
            billing.pay_order(session=s, gateway=gateway, order_id=order_id, config=CONFIG)
        set_gateway_mode(session=s, mode="healthy", actor="test")
    later = utcnow() + timedelta(hours=1)

    def reconcile(_i):
        with Session(pg_engine) as s:
            return billing.reconcile_payments(session=s, gateway=gateway, config=CONFIG, now=later)

    reports = in_threads(3, reconcile)
    assert sum(r.claimed for r in reports) == 6  # SKIP LOCKED: each order in one pass only
    assert charge_count(pg_engine) == 6
    with Session(pg_engine) as s:
        assert set(s.exec(select(Order.payment_status)).all()) == {"paid"}


def test_concurrent_http_retries_are_one_order(pg_url, pg_campus, tmp_path: Path):
    settings = composition.Settings.from_env(
        env={}, instance_path=tmp_path / "instance", database_url=pg_url, testing=True
    )
    app = composition.create_app(settings)
    key = uuid.uuid4().hex
    body = {
        "merchant_id": pg_campus.merchant,
        "items": [{"menu_item_id": pg_campus.rice, "quantity": 1}],
        "address": {"building": "Dorm", "room": "1"},
    }

    def post(_i):
        client = app.test_client()
        headers = bearer(pg_campus, "student", **{"Idempotency-Key": key})
        return client.post("/api/v1/orders", json=body, headers=headers)

    responses = in_threads(8, post)
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json["id"] for r in responses}) == 1
    assert charge_count(views.runtime(app).gateway.engine) == 1
    composition.engine_of(app).dispose()
