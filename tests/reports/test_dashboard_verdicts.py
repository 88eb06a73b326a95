"""The dashboard's cold-chain tables from stored verdicts equal judging every delivery now."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from sqlmodel import Session, col, select

from columns import utcnow
from complaints.models import Case
from orders.models import Delivery, Order
from reports import campus, dashboard
from sensors import ingest, verdicts
from sensors.history import judge_stored_deliveries
from sensors.models import Device
from sensors.readings import parse_json_readings

SINCE = utcnow() - timedelta(days=30)
UNTIL = utcnow() + timedelta(days=1)
TODAY = date.today()
COMPARED = ("cold_chain_by_merchant", "cold_chain_by_courier", "complaints_per_1000_orders")


def reference(s: Session, now, merchant_id: int | None = None) -> dict[str, pd.DataFrame]:  # type: ignore[no-untyped-def]
    """The tables as the dashboard made them before stored verdicts: load every order of the
    period and judge every delivery from its readings."""
    where = [col(Order.created_at) >= SINCE, col(Order.created_at) < UNTIL]
    if merchant_id is not None:
        where.append(Order.merchant_id == merchant_id)
    orders = pd.DataFrame(
        [tuple(r) for r in s.exec(select(Order.id, Order.merchant_id).where(*where)).all()],
        columns=["id", "merchant_id"],
    )
    rows = s.exec(
        select(
            Delivery.id,
            Delivery.box_id,
            Delivery.picked_up_at,
            Delivery.dropped_off_at,
            Delivery.food_class,
            Delivery.courier_id,
            Order.merchant_id,
        )
        .join(Order, col(Order.id) == col(Delivery.order_id))
        .where(*where, col(Delivery.box_id).is_not(None), col(Delivery.picked_up_at).is_not(None))
    ).all()
    frame = pd.DataFrame(
        [tuple(r) for r in rows],
        columns=[
            "delivery_id",
            "box_id",
            "pickup_at",
            "dropoff_at",
            "food_class",
            "courier_id",
            "merchant_id",
        ],
    )
    frame["pickup_at"] = pd.to_datetime(frame["pickup_at"], utc=True)
    frame["dropoff_at"] = pd.to_datetime(frame["dropoff_at"], utc=True)
    judged = judge_stored_deliveries(session=s, deliveries=frame.iloc[:, :5], now=now)
    both = judged[["delivery_id", "verdict"]].merge(frame.iloc[:, [0, 5, 6]], on="delivery_id")
    names = _merchant_names(s)
    merchants = pd.DataFrame(list(names.items()), columns=["id", "name"])
    case_where = [col(Case.opened_at) >= SINCE, col(Case.opened_at) < UNTIL]
    if merchant_id is not None:
        case_where.append(Case.merchant_id == merchant_id)
    cases = pd.DataFrame(
        [(m,) for m in s.exec(select(Case.merchant_id).where(*case_where)).all()],
        columns=["merchant_id"],
    )
    couriers = {int(c): f"courier #{c}" for c in both["courier_id"]}
    return {
        "cold_chain_by_merchant": dashboard.cold_chain(both, "merchant_id", names),
        "cold_chain_by_courier": dashboard.cold_chain(both, "courier_id", couriers),
        "complaints_per_1000_orders": dashboard.complaints_per_1000(cases, orders, merchants),
    }


def _merchant_names(s: Session) -> dict[int, str]:
    from trace.models import Merchant

    return {int(i): n for i, n in s.exec(select(Merchant.id, Merchant.name)).all()}


def dashboard_now(s: Session, now, merchant_id: int | None = None) -> dict[str, pd.DataFrame]:  # type: ignore[no-untyped-def]
    return campus.tables(
        session=s,
        since=SINCE,
        until=UNTIL,
        tz="UTC",
        today=TODAY,
        merchant_id=merchant_id,
        now=now,
    )


def assert_same(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    for name in COMPARED:
        pd.testing.assert_frame_equal(
            got[name].reset_index(drop=True), want[name].reset_index(drop=True), obj=name
        )


@pytest.fixture
def judged_on_the_fly(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """How many deliveries each dashboard call judged from raw readings."""
    sizes: list[int] = []
    original = verdicts.judge_frame

    def spy(session, frame, profile, now):  # type: ignore[no-untyped-def]
        sizes.append(len(frame))
        return original(session, frame, profile, now)

    monkeypatch.setattr(verdicts, "judge_frame", spy)
    return sizes


def test_cold_chain_tables_are_the_same_from_stored_verdicts_and_from_judging_now(
    engine, judged_on_the_fly
):
    now = utcnow()
    with Session(engine, expire_on_commit=False) as s:
        want = reference(s, now)
        assert want["cold_chain_by_merchant"]["judged"].sum() >= 6
        assert want["cold_chain_by_merchant"]["failed"].sum() >= 1
        assert_same(dashboard_now(s, now), want)  # nothing stored yet: everything judged now
        assert judged_on_the_fly[-1] >= 6
        assert verdicts.judge_finished(session=s, now=now) > 0
        assert_same(dashboard_now(s, now), want)
        on_road = s.exec(
            select(Delivery.id).where(
                col(Delivery.picked_up_at).is_not(None), col(Delivery.dropped_off_at).is_(None)
            )
        ).all()
        assert judged_on_the_fly[-1] == len(on_road) >= 1  # only those still on the road


@pytest.mark.parametrize("merchant_id", [1, 2])
def test_one_merchants_tables_are_the_same_from_stored_verdicts(engine, merchant_id):
    now = utcnow()
    with Session(engine, expire_on_commit=False) as s:
        verdicts.judge_finished(session=s, now=now)
        got = dashboard_now(s, now, merchant_id)
        want = reference(s, now, merchant_id)
        want["cold_chain_by_merchant"] = want["cold_chain_by_merchant"][
            want["cold_chain_by_merchant"]["merchant_id"] == merchant_id
        ]
        assert len(got["cold_chain_by_merchant"]) == 1
        assert_same(got, want)


def test_a_late_reading_is_judged_now_until_the_task_stores_its_new_verdict(
    engine, judged_on_the_fly
):
    now = utcnow()
    with Session(engine, expire_on_commit=False) as s:
        verdicts.judge_finished(session=s, now=now)
        before = dashboard_now(s, now)["cold_chain_by_merchant"]
        target = s.exec(
            select(Delivery).where(
                Delivery.box_id == "BOX-002", col(Delivery.dropped_off_at).is_not(None)
            )
        ).first()
        assert target is not None and target.picked_up_at and target.dropped_off_at
        minutes = int((target.dropped_off_at - target.picked_up_at).total_seconds() // 60)
        warm = [  # the box's log, uploaded late: 30 °C between every stored reading
            {
                "time": (target.picked_up_at + timedelta(minutes=k, seconds=30)).isoformat(),
                "value": 30.0,
                "unit": "CEL",
            }
            for k in range(minutes)
        ]
        device = s.exec(select(Device).where(Device.box_id == "BOX-002")).one()
        parsed = parse_json_readings(warm, now=utcnow())
        ingest.ingest(session=s, device=device, parsed=parsed, channel="http")

        got = dashboard_now(s, now)
        assert judged_on_the_fly[-1] == 2  # the stale delivery and the one on the road
        want = reference(s, now)
        assert_same(got, want)
        assert got["cold_chain_by_merchant"]["failed"].sum() == before["failed"].sum() + 1
        assert verdicts.judge_finished(session=s, now=now) == len(verdicts.profile_names())
        assert_same(dashboard_now(s, now), want)
        assert judged_on_the_fly[-1] == 1


def test_cold_chain_rows_count_judged_passed_and_failed_worst_first():
    verdicts_frame = pd.DataFrame(
        {
            "merchant_id": [1, 1, 1, 1, 2, 2, 3],
            "verdict": ["pass", "fail", "insufficient_data", "no_data", "pass", "pass", "no_data"],
        }
    )
    out = dashboard.cold_chain(verdicts_frame, "merchant_id", {1: "北区食堂", 2: "South"})
    assert out.values.tolist() == [
        [1, "北区食堂", 3, 1, 1, 33.3],
        [2, "South", 2, 2, 0, 100.0],
    ]
    counts = verdicts_frame.groupby(["merchant_id", "verdict"]).size().reset_index(name="n")
    by_counts = dashboard.cold_chain_counts(counts, "merchant_id", {1: "北区食堂", 2: "South"})
    pd.testing.assert_frame_equal(by_counts, out)
