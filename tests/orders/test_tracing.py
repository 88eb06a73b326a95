"""The trace graph reaches order lines, orders and customers through the orders' loaders."""

from __future__ import annotations

from orders import placement, tracing
from trace.graph import backward, forward
from trace.neighbourhood import load, node_info


def test_a_forward_trace_from_a_lot_reaches_the_orders_and_customers(session, campus, config):
    tracing.register()
    mine = placement.place_order(
        session=session, request=campus.request(key="a", items=((campus.rice, 12),)), config=config
    ).order_id
    theirs = placement.place_order(
        session=session,
        request=campus.request(key="b", who="student2", items=((campus.salad, 1),)),
        config=config,
    ).order_id
    start = ("lot", str(campus.lot))
    reached = forward(load(session.connection(), start, "forward"), start)
    assert set(reached.ids("order")) == {str(mine), str(theirs)}
    assert set(reached.ids("customer")) == {
        str(campus.users["student"]),
        str(campus.users["student2"]),
    }
    info = node_info(session.connection(), [("order", str(mine))])[("order", str(mine))]
    assert info.label == f"order #{mine}" and info.merchant_id == campus.merchant


def test_a_backward_trace_from_a_customer_finds_the_batches_they_ate(session, campus, config):
    tracing.register()
    placement.place_order(
        session=session, request=campus.request(key="a", items=((campus.rice, 12),)), config=config
    )
    start = ("customer", str(campus.users["student"]))
    reached = backward(load(session.connection(), start, "backward"), start)
    assert set(reached.ids("batch")) == {str(campus.batch_a), str(campus.batch_b)}
    assert str(campus.lot) in reached.ids("lot")
    customer = node_info(session.connection(), [start])[start]
    assert customer.label == f"customer #{campus.users['student']}"
