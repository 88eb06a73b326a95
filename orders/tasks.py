"""Celery adapters: reconcile deferred payments (periodic), erase expired personal data (daily).

Beat entries for app.beat_schedule:
    "orders-reconcile-payments": {"task": "orders.reconcile_payments", "schedule": 10.0}
    "orders-retention": {"task": "orders.erase_expired_personal_data", "schedule": 86400.0}
Each order carries its own backoff (Order.next_payment_at), so running the task often costs
one indexed query when nothing is due; after an outage a run keeps taking passes of 500 (each
charging 8 at a time) for up to 8 s.
"""

from __future__ import annotations

import time
from dataclasses import asdict

from app import celery, engine_of, session_scope, task_runtime
from orders import service
from orders.rules import OrdersConfig

PASS_LIMIT = 500  # orders a reconciliation pass claims
PASS_BUDGET_SECONDS = 8.0  # a run starts no new pass after this (beat runs it every 10 s)
MAX_ERASE_ROUNDS = 100  # 100 x 1,000 orders per run; the next run continues


@celery.task(name="orders.reconcile_payments", acks_late=True)
def reconcile_payments() -> dict[str, int]:
    """Retry the charges and refunds that are due; idempotent (references never charge twice)."""
    flask_app = task_runtime.app()
    config = OrdersConfig.from_mapping(flask_app.config)
    engine = engine_of(flask_app)
    gateway = service.gateway_for(
        engine, flask_app.config.get("ORDERS_PAYMENT_GATEWAY", "simulated")
    )
    total: dict[str, int] = {}
    deadline = time.monotonic() + PASS_BUDGET_SECONDS
    with session_scope(engine) as session:
        while True:  # after an outage thousands are due: keep going while passes come back full
            report = service.reconcile_payments(
                session=session, gateway=gateway, config=config, limit=PASS_LIMIT
            )
            for name, value in asdict(report).items():
                total[name] = total.get(name, 0) + value
            if report.claimed < PASS_LIMIT or report.deferred or time.monotonic() > deadline:
                return total


@celery.task(name="orders.erase_expired_personal_data", acks_late=True)
def erase_expired_personal_data() -> int:
    """Blank the address, phone and note of orders past the retention period; how many."""
    flask_app = task_runtime.app()
    config = OrdersConfig.from_mapping(flask_app.config)
    total = 0
    with session_scope(engine_of(flask_app)) as session:
        for _ in range(MAX_ERASE_ROUNDS):
            done = service.erase_expired_personal_data(
                session=session, retention_days=config.retention_days
            )
            total += done
            if not done:
                break
    return total


@celery.task(name="orders.refund_rejected", acks_late=True)
def refund_rejected(order_id: int) -> int:
    """Refund a paid order the kitchen rejected (enqueued by the reject page and API)."""
    flask_app = task_runtime.app()
    config = OrdersConfig.from_mapping(flask_app.config)
    engine = engine_of(flask_app)
    gateway = service.gateway_for(
        engine, flask_app.config.get("ORDERS_PAYMENT_GATEWAY", "simulated")
    )
    with session_scope(engine) as session:
        done = service.refund_rejected(
            session=session, gateway=gateway, config=config, order_ids=[order_id]
        )
    return len(done)
