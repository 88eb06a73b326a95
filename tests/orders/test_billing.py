"""Charging, deferring when the gateway is down or slow, reconciling, refunds."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlmodel import select

import ledger
from columns import utcnow
from orders import billing, errors, placement
from orders.gateway_sim import SimulatedGateway, charge_count, set_gateway_mode
from orders.models import MenuBatch, Order, Refund
from orders.payments import payment_reference
from orders.rules import OrdersConfig

LATER = timedelta(hours=1)  # past any backoff the config allows


def placed(session, campus, config, **kw) -> int:
    return placement.place_order(
        session=session, request=campus.request(**kw), config=config
    ).order_id


def mode(session, name, **kw):
    set_gateway_mode(session=session, mode=name, actor="test", **kw)


def order(session, order_id) -> Order:
    """The order as stored now, detached (its transaction ended: SQLite would stay locked)."""
    session.expire_all()
    found = session.get(Order, order_id)
    session.expunge(found)
    session.rollback()
    return found


def entry_types(session, order_id):
    found = [
        e.envelope()["type"]
        for e in ledger.entries(session, 0, ledger.tree_size(session))
        if e.envelope()["subject"].get("order") == order_id
    ]
    session.rollback()
    return found


def test_a_healthy_gateway_charges_once_and_the_order_is_paid(
    session, engine, campus, config, gateway
):
    order_id = placed(session, campus, config)
    status = billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    assert status == "paid"
    paid = order(session, order_id)
    assert paid.gateway_charge_id and paid.paid_at is not None
    assert charge_count(engine, reference=payment_reference(order_id)) == 1
    assert entry_types(session, order_id)[-1] == "orders.payment_charged"


def test_paying_again_never_charges_twice(session, engine, campus, config, gateway):
    order_id = placed(session, campus, config)
    for _ in range(3):
        billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    assert charge_count(engine) == 1
    assert entry_types(session, order_id).count("orders.payment_charged") == 1


def test_gateway_down_defers_then_reconciliation_charges_exactly_once(
    session, engine, campus, config, gateway
):
    mode(session, "down")
    order_id = placed(session, campus, config)
    assert (
        billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
        == "deferred"
    )
    deferred = order(session, order_id)
    assert deferred.payment_attempts == 1 and deferred.next_payment_at is not None
    assert charge_count(engine) == 0
    # still down: reconciliation tries, stays deferred, backs off further
    report = billing.reconcile_payments(
        session=session, gateway=gateway, config=config, now=utcnow() + LATER
    )
    assert (report.claimed, report.deferred, report.paid) == (1, 1, 0)
    again = order(session, order_id)
    assert again.payment_status == "deferred" and again.payment_attempts == 2
    assert again.next_payment_at > deferred.next_payment_at
    mode(session, "healthy")
    report = billing.reconcile_payments(
        session=session, gateway=gateway, config=config, now=utcnow() + 2 * LATER
    )
    assert report.paid == 1
    assert order(session, order_id).payment_status == "paid"
    assert charge_count(engine, reference=payment_reference(order_id)) == 1
    # a later pass finds nothing to do, and charges nothing
    billing.reconcile_payments(
        session=session, gateway=gateway, config=config, now=utcnow() + 3 * LATER
    )
    assert charge_count(engine) == 1
    assert entry_types(session, order_id) == [
        "orders.order_placed",
        "orders.line_added",
        "orders.payment_deferred",
        "orders.payment_charged",
    ]


def test_reconciliation_waits_for_the_backoff(session, engine, campus, config, gateway):
    mode(session, "down")
    order_id = placed(session, campus, config)
    billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    mode(session, "healthy")
    report = billing.reconcile_payments(session=session, gateway=gateway, config=config)
    assert report.claimed == 0
    assert order(session, order_id).payment_status == "deferred"


def test_a_timeout_defers_though_the_gateway_charged_and_the_retry_charges_nothing_more(
    session, engine, campus, config
):
    slept = []
    gateway = SimulatedGateway(engine, sleep=slept.append)
    mode(session, "slow", latency_ms=5000)
    order_id = placed(session, campus, config)
    status = billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    assert status == "deferred"
    assert slept == [config.payment_timeout_seconds]
    assert charge_count(engine) == 1  # the gateway did charge: the ambiguous case
    mode(session, "healthy")
    billing.reconcile_payments(
        session=session, gateway=gateway, config=config, now=utcnow() + LATER
    )
    assert order(session, order_id).payment_status == "paid"
    assert charge_count(engine) == 1


def test_several_deferred_orders_are_all_charged_once_after_an_outage(
    session, engine, campus, config, gateway
):
    mode(session, "down")
    ids = [
        placed(session, campus, config, key=f"k{i}", items=((campus.salad, 1),)) for i in range(5)
    ]
    for order_id in ids:
        billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    # down: the pass stops at the first failure and leaves the rest on their schedule
    report = billing.reconcile_payments(
        session=session, gateway=gateway, config=config, now=utcnow() + LATER
    )
    assert report.claimed == 5 and report.deferred == 1
    assert sorted(order(session, i).payment_attempts for i in ids) == [1, 1, 1, 1, 2]
    mode(session, "healthy")
    billing.reconcile_payments(
        session=session, gateway=gateway, config=config, now=utcnow() + 2 * LATER
    )
    assert {order(session, i).payment_status for i in ids} == {"paid"}
    assert charge_count(engine) == 5


class Counting:
    """A gateway wrapper that measures how many charges were in flight at once."""

    def __init__(self, inner) -> None:
        self.inner, self.now, self.most, self.lock = inner, 0, 0, threading.Lock()

    def charge(self, **kw):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.05)
            return self.inner.charge(**kw)
        finally:
            with self.lock:
                self.now -= 1


def test_after_an_outage_reconciliation_charges_several_at_once_and_each_once(
    session, engine, campus, config, gateway
):
    mode(session, "down")
    ids = [
        placed(session, campus, config, key=f"w{i}", items=((campus.salad, 1),)) for i in range(9)
    ]
    for order_id in ids:
        billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    mode(session, "healthy")
    counting = Counting(gateway)
    report = billing.reconcile_payments(
        session=session, gateway=counting, config=config, now=utcnow() + LATER, workers=4
    )
    assert (report.claimed, report.paid) == (9, 9)
    assert counting.most == 4  # one probe, then waves of four
    assert {order(session, i).payment_status for i in ids} == {"paid"}
    assert charge_count(engine) == 9


def test_a_stale_pending_charge_is_retried_after_the_grace_period(
    session, engine, campus, config, gateway
):
    placed(session, campus, config)  # the request died before charging
    assert billing.reconcile_payments(session=session, gateway=gateway, config=config).claimed == 0
    late = utcnow() + timedelta(seconds=config.pending_payment_grace_seconds + 1)
    report = billing.reconcile_payments(session=session, gateway=gateway, config=config, now=late)
    assert report.paid == 1 and charge_count(engine) == 1


def test_a_declined_payment_fails_cancels_the_order_and_frees_its_portions(
    session, engine, campus, config, gateway
):
    mode(session, "failing", failure_rate=1.0)
    order_id = placed(session, campus, config, items=((campus.rice, 4),))
    assert (
        billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
        == "failed"
    )
    failed = order(session, order_id)
    assert (failed.status, failed.payment_status) == ("cancelled", "failed")
    assert failed.payment_error
    assert charge_count(engine) == 0
    assert sum(mb.allocated for mb in session.exec(select(MenuBatch)).all()) == 0


def test_a_refund_is_paid_once_per_key(session, engine, campus, config, gateway):
    order_id = placed(session, campus, config)
    billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    kwargs = dict(
        session=session,
        gateway=gateway,
        order_id=order_id,
        amount_fen=1000,
        idempotency_key="comp-1",
        actor="user:9",
        config=config,
    )
    first = billing.refund(**kwargs)
    second = billing.refund(**kwargs)
    assert first == second and first.status == "succeeded"
    assert charge_count(engine, kind="refund") == 1
    assert order(session, order_id).refunded_fen == 1000
    with pytest.raises(errors.RefundError) as caught:
        billing.refund(**{**kwargs, "amount_fen": 500})
    assert caught.value.field == "idempotency_key"


def test_refunds_cannot_exceed_what_was_paid(session, campus, config, gateway):
    order_id = placed(session, campus, config)
    billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    total = order(session, order_id).total_fen
    billing.refund(
        session=session,
        gateway=gateway,
        order_id=order_id,
        amount_fen=total - 100,
        idempotency_key="a",
        actor="t",
        config=config,
    )
    with pytest.raises(errors.RefundError) as caught:
        billing.refund(
            session=session,
            gateway=gateway,
            order_id=order_id,
            amount_fen=101,
            idempotency_key="b",
            actor="t",
            config=config,
        )
    assert caught.value.field == "amount_fen"


def test_an_unpaid_order_cannot_be_refunded(session, campus, config, gateway):
    order_id = placed(session, campus, config)
    with pytest.raises(errors.RefundError):
        billing.refund(
            session=session,
            gateway=gateway,
            order_id=order_id,
            amount_fen=1,
            idempotency_key="a",
            actor="t",
            config=config,
        )


def test_a_refund_while_the_gateway_is_down_is_paid_by_reconciliation(
    session, engine, campus, config, gateway
):
    order_id = placed(session, campus, config)
    billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    mode(session, "down")
    pending = billing.refund(
        session=session,
        gateway=gateway,
        order_id=order_id,
        amount_fen=700,
        idempotency_key="late",
        actor="t",
        config=config,
    )
    assert pending.status == "pending"
    mode(session, "healthy")
    report = billing.reconcile_payments(
        session=session, gateway=gateway, config=config, now=utcnow() + LATER
    )
    assert report.refunds_settled == 1
    assert session.get(Refund, pending.refund_id).status == "succeeded"
    session.rollback()
    assert charge_count(engine, kind="refund") == 1
    assert order(session, order_id).refunded_fen == 700


def test_a_charge_that_lands_after_rejection_is_refunded(session, engine, campus, config, gateway):
    from orders import fulfilment

    mode(session, "down")
    order_id = placed(session, campus, config)
    billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    fulfilment.reject(
        session=session, actor=campus.actor("merchant"), order_id=order_id, reason="closed"
    )
    assert order(session, order_id).payment_status == "void"
    mode(session, "healthy")
    billing.reconcile_payments(
        session=session, gateway=gateway, config=config, now=utcnow() + LATER
    )
    assert charge_count(engine) == 0  # void: nobody charges it
    # the race: a charge in flight when the kitchen rejected is recorded, then refunded
    total = order(session, order_id).total_fen
    outcome = billing.charge(gateway, order_id=order_id, amount_fen=total, timeout=1.0)
    assert outcome.outcome == "paid"
    assert placement.record_payment(session=session, outcome=outcome, config=config)
    done = billing.refund_rejected(session=session, gateway=gateway, config=config)
    assert [r.status for r in done] == ["succeeded"]
    assert order(session, order_id).refunded_fen == order(session, order_id).total_fen


def test_the_beat_task_keeps_taking_passes_while_they_come_back_full(
    app, session, engine, campus, monkeypatch
):
    from orders import tasks

    fast = {"ORDERS_PAYMENT_RETRY_BASE_SECONDS": 0.01, "ORDERS_PAYMENT_RETRY_MAX_SECONDS": 0.02}
    app.config.update(fast)
    config = OrdersConfig.from_mapping(fast)
    gateway = SimulatedGateway(engine)
    mode(session, "down")
    ids = [
        placed(session, campus, config, key=f"t{i}", items=((campus.salad, 1),)) for i in range(5)
    ]
    for order_id in ids:
        billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    mode(session, "healthy")
    time.sleep(0.05)  # past every backoff
    monkeypatch.setattr(tasks, "PASS_LIMIT", 2)
    report = tasks.reconcile_payments.apply().get()
    assert (report["claimed"], report["paid"]) == (5, 5)  # three passes in one run
    session.expire_all()
    assert {order(session, i).payment_status for i in ids} == {"paid"}
    assert charge_count(engine) == 5
