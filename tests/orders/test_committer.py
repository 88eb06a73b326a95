"""Group commit: many threads' orders written in few transactions, each answered correctly."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import func, select

from orders import errors
from orders.committer import GroupCommitter
from orders.models import Order
from orders.placement import PaymentOutcome


def test_threads_share_transactions_and_each_gets_its_own_answer(engine, session, campus, config):
    committer = GroupCommitter(engine, config)
    requests = [campus.request(key=f"k{i}", items=((campus.salad, 1),)) for i in range(16)]
    requests.append(campus.request(key="bad", items=((campus.noodles, 1),)))

    def place(req):
        try:
            return committer.place(req)
        except errors.OrderError as exc:
            return exc

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(place, requests))
    assert isinstance(results[-1], errors.UnknownItem)
    placed = results[:-1]
    assert all(p.created for p in placed) and len({p.order_id for p in placed}) == 16
    assert session.exec(select(func.count()).select_from(Order)).one() == 16
    assert committer.batches <= 16


def test_the_same_key_from_several_threads_is_one_order(engine, session, campus, config):
    committer = GroupCommitter(engine, config)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _i: committer.place(campus.request(key="same")), range(6)))
    assert len({r.order_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert session.exec(select(func.count()).select_from(Order)).one() == 1


def test_payment_outcomes_go_through_the_same_writer(engine, session, campus, config):
    committer = GroupCommitter(engine, config)
    placed = committer.place(campus.request())
    assert committer.record(PaymentOutcome(placed.order_id, "paid", gateway_id="g-1"))
    assert not committer.record(PaymentOutcome(placed.order_id, "paid", gateway_id="g-1"))
    assert session.get(Order, placed.order_id).payment_status == "paid"


def test_a_refused_order_raises_its_error(engine, campus, config):
    committer = GroupCommitter(engine, config)
    with pytest.raises(errors.SoldOut):
        committer.place(campus.request(items=((campus.rice, 16),)))
