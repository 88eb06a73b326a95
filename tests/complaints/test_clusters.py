"""Clusters: cases sharing an exposure in their windows are linked; two unrelated cases raise
one alert (ledger entry + the desk's banner); one party's two reports do not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from accounts import passwords
from complaints import clusters, service
from complaints.models import Cluster, ClusterMember
from tests.complaints.world import NOW, add_order, build_world, planted_outbreak

passwords.use_cheap_parameters_for_tests()


def report(session, order_ids, *, phone="13800000001", onset=None, k=0):
    return service.open_case(
        session=session,
        data={
            "channel": "phone",
            "category": "illness",
            "description": f"Ill ({k})",
            "onset_at": onset or NOW - timedelta(hours=10),
            "symptoms": ["vomiting"],
            "order_ids": order_ids,
            "complainant": {"name": f"P{k}", "phone": phone},
        },
        actor="user:1",
    ).case


@pytest.fixture
def world(session):
    w = build_world(session)
    planted_outbreak(session, w)
    return w


def test_two_unrelated_cases_across_merchants_share_the_lot_and_raise_one_alert(session, world):
    ill = world.orders["ill"]
    first = report(session, [ill[0]], phone="13800000001", k=1)  # merchant A
    assert clusters.cluster_of(session, first.id) is None
    second = report(session, [ill[3]], phone="13800000002", k=2)  # merchant B: same lettuce lot
    member = clusters.cluster_of(session, second.id)
    assert member is not None
    assert f"lot:{world.lettuce_lot}" in member.shared
    assert f"merchant:{world.merchants[0]}" not in member.shared
    view = clusters.get_cluster(session=session, cluster_id=member.cluster_id)
    assert {c.id for c, _ in view.members} == {first.id, second.id}
    assert view.cluster.alerted_at is not None
    alerted = session.exec(select(Cluster).where(Cluster.alerted_at.is_not(None))).all()
    assert len(alerted) == 1
    third = report(session, [ill[6]], phone="13800000003", k=3)
    again = clusters.get_cluster(session=session, cluster_id=member.cluster_id)
    assert len(again.members) == 3 and again.cluster.alerted_at == view.cluster.alerted_at
    assert clusters.cluster_of(session, third.id).cluster_id == member.cluster_id
    assert [c.id for c, _n in clusters.alerts(session=session)] == [member.cluster_id]


def test_one_partys_two_reports_link_but_raise_no_alert(session, world):
    ill = world.orders["ill"]
    a = report(session, [ill[0]], phone="13811112222", k=1)
    b = report(session, [ill[1]], phone="13811112222", k=2)  # same person, another order
    member = clusters.cluster_of(session, b.id)
    assert member is not None and clusters.cluster_of(session, a.id).cluster_id == member.cluster_id
    assert session.get(Cluster, member.cluster_id).alerted_at is None


def test_orders_outside_the_exposure_window_do_not_link(session, world):
    old = add_order(session, world, user=world.students[-1], merchant=world.merchants[0],
                    item=world.items["salad0"], batch=world.salad_batches[0],
                    at=NOW - timedelta(days=20))  # fmt: skip
    session.commit()
    report(session, [world.orders["ill"][0]], phone="13800000011", k=1)
    late = report(session, [old], phone="13800000022", k=2, onset=NOW - timedelta(hours=5))
    assert clusters.cluster_of(session, late.id) is None


def _island(session, world, tag):
    """A merchant with its own supplier, lot, batch and dish: shares nothing with the rest."""
    from datetime import UTC, datetime

    from tests.complaints.world import _item, _merchant_viewer
    from trace import masterdata
    from trace import service as trace_service
    from trace.access import SYSTEM
    from trace.commands import BatchProduction, InputUse, LotReceipt

    far = (datetime.now(UTC) + timedelta(days=365)).date()
    m = masterdata.register_merchant(
        session=session, viewer=SYSTEM, name=f"Island {tag}", licence_number=f"JY-I-{tag}",
        licence_expires_on=far,
    ).id  # fmt: skip
    sup = masterdata.register_supplier(
        session=session, viewer=SYSTEM, name=f"Isle farm {tag}", licence_number=f"SC-I-{tag}"
    ).id
    product = masterdata.register_product(session=session, viewer=SYSTEM, name=f"Isle {tag}").id
    dish = masterdata.register_product(
        session=session, viewer=SYSTEM, name=f"Isle dish {tag}", category="dish"
    ).id
    lot = trace_service.receive_lot(
        session=session, viewer=_merchant_viewer(m),
        receipt=LotReceipt(tlc=f"ISLE-{tag}", product_id=product, quantity=10, unit="kg",
                           received_at=NOW - timedelta(days=3), supplier_id=sup),
    ).id  # fmt: skip
    batch = trace_service.produce_batch(
        session=session, viewer=_merchant_viewer(m),
        production=BatchProduction(
            batch_code=f"ISLE-B-{tag}", product_id=dish, quantity=50, unit="portion",
            completed_at=NOW - timedelta(days=2),
            inputs=(InputUse(quantity=1, unit="kg", kind="lot", id=lot),),
        ),
    ).id  # fmt: skip
    item = _item(session, m, dish, f"Isle dish {tag}")
    orders = [
        add_order(session, world, user=world.students[k], merchant=m, item=item, batch=batch)
        for k in range(3)
    ]
    session.commit()
    return orders


def test_a_bridging_case_merges_two_clusters(session, world):
    east, west = _island(session, world, "E"), _island(session, world, "W")
    a = report(session, [east[0]], phone="13800000031", k=1)
    b = report(session, [east[1]], phone="13800000032", k=2)
    c = report(session, [west[0]], phone="13800000033", k=3)
    d = report(session, [west[1]], phone="13800000034", k=4)
    c1 = clusters.cluster_of(session, b.id).cluster_id
    c2 = clusters.cluster_of(session, d.id).cluster_id
    assert c1 != c2 and clusters.cluster_of(session, a.id).cluster_id == c1
    bridge = report(session, [east[2], west[2]], phone="13800000035", k=5)
    members = {m.case_id: m for m in session.exec(select(ClusterMember)).all()}
    assert {members[i].cluster_id for i in (a.id, b.id, c.id, d.id, bridge.id)} == {min(c1, c2)}
    merged = session.get(Cluster, max(c1, c2))
    assert (merged.status, merged.merged_into) == ("merged", min(c1, c2))
    assert [c.id for c, _n in clusters.list_clusters(session=session)] == [min(c1, c2)]
