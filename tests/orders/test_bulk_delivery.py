"""The bulk delivery path (orders.bulk.carry_many) writes what the one-at-a-time services write:
two identical sets of orders, one delivered through accept/mark_ready/assign/pickup/dropoff,
the other through carry_many, compared row by row and entry by entry."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

import ledger
from orders import billing, bulk, delivery, errors, fulfilment, placement
from orders.models import (
    DELIVERY_ASSIGNED,
    DELIVERY_DROPPED_OFF,
    DELIVERY_PICKED_UP,
    ORDER_ACCEPTED,
    ORDER_READY,
    Delivery,
    Order,
)
from sensors.models import Watch

# rice+salad (cold), rice (hot), noodles of the other merchant (hot), salad x2 (cold)
BASKETS = ("mixed", "rice", "noodles", "salads")
ORDER_FIELDS = ("status", "payment_status", "accepted_at", "ready_at", "total_fen", "merchant_id")
DELIVERY_FIELDS = (
    "courier_id", "status", "food_class", "box_id", "seal_number", "dropoff_seal", "seal_intact",
    "assigned_at", "picked_up_at", "dropped_off_at",
)  # fmt: skip
WATCH_FIELDS = ("box_id", "merchant_id", "food_class", "pickup_at", "dropoff_at")


def _place(session, campus, config, gateway, tag: str) -> list[int]:
    items = {
        "mixed": ((campus.rice, 1), (campus.salad, 1)),
        "rice": ((campus.rice, 1),),
        "noodles": ((campus.noodles, 1),),
        "salads": ((campus.salad, 2),),
    }
    ids = []
    for basket in BASKETS:
        merchant = campus.other_merchant if basket == "noodles" else campus.merchant
        request = campus.request(key=f"{tag}-{basket}", items=items[basket], merchant=merchant)
        placed = placement.place_order(session=session, request=request, config=config)
        billing.pay_order(session=session, gateway=gateway, order_id=placed.order_id, config=config)
        ids.append(placed.order_id)
    return ids


def _carries(campus, ids: list[int]) -> list[bulk.Carry]:
    couriers = (campus.users["courier"], campus.users["courier2"])
    out = []
    for n, order_id in enumerate(ids):
        at = campus.now + timedelta(minutes=3 * n)
        out.append(
            bulk.Carry(
                order_id=order_id, courier_id=couriers[n % 2], box_id=f"BOX-{n % 2 + 1:03d}",
                seal_number=f"fs-{n:04d}", accepted_at=at + timedelta(minutes=1),
                ready_at=at + timedelta(minutes=9), assigned_at=at + timedelta(minutes=10),
                picked_up_at=at + timedelta(minutes=12, microseconds=250),
                dropped_off_at=at + timedelta(minutes=30),
                dropoff_seal="FS-9999" if n == 3 else None,  # one broken seal
            )
        )  # fmt: skip
    return out


def _one_at_a_time(session, campus, carries: list[bulk.Carry]) -> None:
    kitchen = campus.actor("admin")
    for c in carries:
        rider = next(
            campus.actor(name) for name in ("courier", "courier2")
            if campus.users[name] == c.courier_id
        )  # fmt: skip
        fulfilment.accept(session=session, actor=kitchen, order_id=c.order_id, now=c.accepted_at)
        fulfilment.mark_ready(session=session, actor=kitchen, order_id=c.order_id, now=c.ready_at)
        d = delivery.assign(
            session=session, actor=rider, order_id=c.order_id, courier_id=c.courier_id,
            now=c.assigned_at,
        )  # fmt: skip
        delivery.pickup(
            session=session, actor=rider, delivery_id=d.id, box_id=c.box_id,
            seal_number=c.seal_number, now=c.picked_up_at,
        )  # fmt: skip
        delivery.dropoff(
            session=session, actor=rider, delivery_id=d.id,
            seal_number=c.dropoff_seal or c.seal_number, now=c.dropped_off_at,
        )  # fmt: skip


def _envelopes(session, first: int, last: int) -> list[dict]:
    return [e.envelope() for e in ledger.entries(session, first, last)]


def _ids_of(session, order_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(Delivery.order_id, Delivery.id).where(Delivery.order_id.in_(order_ids))
    )
    return dict(rows.all())


def _normalised(envelope: dict, orders: dict[int, int], deliveries: dict[int, int]) -> dict:
    """The envelope with the ids that must differ between the two sets mapped to the first set's
    and the append time dropped where the service did not give one (it is the wall clock)."""
    out = json.loads(json.dumps(envelope))
    subject, payload = out["subject"], out["payload"]
    if "order" in subject:
        subject["order"] = orders[subject["order"]]
    if "delivery" in subject:
        subject["delivery"] = deliveries[subject["delivery"]]
    if "order_id" in payload:
        payload["order_id"] = orders[payload["order_id"]]
    if out["type"] not in (DELIVERY_PICKED_UP, DELIVERY_DROPPED_OFF):
        del out["ts"]
    return out


def test_the_bulk_path_writes_what_the_services_write(session, campus, config, gateway, app):
    first = _place(session, campus, config, gateway, "one")
    second = _place(session, campus, config, gateway, "bulk")
    ones, bulks = _carries(campus, first), _carries(campus, second)
    start = ledger.tree_size(session)
    _one_at_a_time(session, campus, ones)
    middle = ledger.tree_size(session)
    made = bulk.carry_many(
        session=session, kitchen=campus.actor("admin"), carries=bulks, chunk=3
    )  # two chunks: 3 + 1 orders
    end = ledger.tree_size(session)
    assert middle - start == end - middle == 7 * len(BASKETS)
    single_d, bulk_d = _ids_of(session, first), _ids_of(session, second)
    assert made == [bulk_d[o] for o in second]
    # rows, field by field
    session.expire_all()
    for a, b in zip(first, second, strict=True):
        oa, ob = session.get(Order, a), session.get(Order, b)
        assert [getattr(ob, f) for f in ORDER_FIELDS] == [getattr(oa, f) for f in ORDER_FIELDS]
        assert oa.status == "delivered" and oa.accepted_at is not None
        da, db = session.get(Delivery, single_d[a]), session.get(Delivery, bulk_d[b])
        assert [getattr(db, f) for f in DELIVERY_FIELDS] == [
            getattr(da, f) for f in DELIVERY_FIELDS
        ]
        wa, wb = session.get(Watch, da.id), session.get(Watch, db.id)
        assert [getattr(wb, f) for f in WATCH_FIELDS] == [getattr(wa, f) for f in WATCH_FIELDS]
        # each row points at the same step's entry, relative to its set's entries
        assert ob.ledger_index - middle == oa.ledger_index - start
        assert db.ledger_index - middle == da.ledger_index - start
        assert wb.ledger_index - middle == wa.ledger_index - start
    assert set(session.execute(select(Delivery.seal_intact)).scalars()) == {True, False}
    # entries, field by field, in the same order
    to_first = dict(zip(second, first, strict=True))
    to_first_d = {bulk_d[b]: single_d[a] for b, a in to_first.items()}
    same_o, same_d = {a: a for a in first}, {d: d for d in single_d.values()}
    singles = [_normalised(e, same_o, same_d) for e in _envelopes(session, start, middle)]
    bulked = [_normalised(e, to_first, to_first_d) for e in _envelopes(session, middle, end)]
    assert [e["type"] for e in singles][:7] == [
        ORDER_ACCEPTED, ORDER_READY, DELIVERY_ASSIGNED, DELIVERY_PICKED_UP,
        "sensor.watch_started", DELIVERY_DROPPED_OFF, "sensor.watch_ended",
    ]  # fmt: skip
    for one, many in zip(singles, bulked, strict=True):
        assert many == one
    session.rollback()
    projections = app.extensions["foodtrace"].extras["projections"]
    with Session(session.get_bind()) as fresh:
        report = ledger.verify(fresh, projections=projections)
        fresh.rollback()
    assert report.problem is None, report.problem


def _count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"box_id": "no spaces allowed"}, errors.DeliveryError, "box_id"),
        ({"seal_number": "x"}, errors.DeliveryError, "seal_number"),
        ({"dropoff_seal": "!"}, errors.DeliveryError, "seal_number"),
        ({"courier_id": "student"}, errors.DeliveryError, "courier_id"),
        ({"dropped_off_at": -1}, errors.DeliveryError, "dropped_off_at"),
        ({"order_id": 10**9}, errors.NotFound, None),
    ],
)
def test_a_refused_chunk_writes_nothing(
    session, campus, config, gateway, change, error, field
):  # fmt: skip
    ids = _place(session, campus, config, gateway, "bad")
    carries = _carries(campus, ids)
    last = carries[-1]
    value = change[next(iter(change))]
    if value == "student":
        value = campus.users["student"]
    elif value == -1:
        value = last.picked_up_at - timedelta(seconds=1)
    carries[-1] = bulk.Carry(
        **{**{f: getattr(last, f) for f in last.__slots__}, **{next(iter(change)): value}}
    )
    size = ledger.tree_size(session)
    before = (_count(session, Delivery), _count(session, Watch))
    with pytest.raises(error) as caught:
        bulk.carry_many(session=session, kitchen=campus.actor("admin"), carries=carries)
    if field is not None:
        assert caught.value.field == field
    session.rollback()
    assert ledger.tree_size(session) == size
    assert (_count(session, Delivery), _count(session, Watch)) == before
    assert {session.get(Order, o).status for o in ids} == {"placed"}


def test_orders_not_ready_for_the_road_are_refused(session, campus, config, gateway):
    ids = _place(session, campus, config, gateway, "twice")
    carries = _carries(campus, ids)
    chef = campus.actor("merchant2")  # another merchant's kitchen: not found
    with pytest.raises(errors.NotFound):
        bulk.carry_many(session=session, kitchen=chef, carries=carries)
    session.rollback()
    bulk.carry_many(session=session, kitchen=campus.actor("admin"), carries=carries[:1])
    with pytest.raises(errors.InvalidTransition):  # delivered already
        bulk.carry_many(session=session, kitchen=campus.actor("admin"), carries=carries[:2])
    session.rollback()
    with pytest.raises(errors.InvalidTransition):  # the same order twice
        bulk.carry_many(
            session=session, kitchen=campus.actor("admin"), carries=[carries[1], carries[1]]
        )
    session.rollback()
    accepted = fulfilment.accept(session=session, actor=campus.actor("admin"), order_id=ids[2])
    assert accepted.status == "accepted"
    with pytest.raises(errors.InvalidTransition):  # accepted already: not for the bulk path
        bulk.carry_many(session=session, kitchen=campus.actor("admin"), carries=carries[2:3])
    session.rollback()
    assert session.get(Order, ids[1]).status == "placed"
