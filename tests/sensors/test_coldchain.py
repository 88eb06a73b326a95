"""Deliveries' cold chain: readings of the box's device at the time, verdicts, watches, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

import ledger
from sensors import coldchain, ingest, service
from sensors.models import Alert
from sensors.readings import parse_json_readings
from sensors.rules import judge_delivery
from tests.sensors.conftest import readings

T0 = datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def put(session: Session, device_id: str, start: datetime, values: list[float], now=None):
    """Ingest per-minute readings for a device through the service."""
    device = service.get_device(session=session, device_id=device_id)
    parsed = parse_json_readings(readings(start, values), now=now or start + 10 * 24 * 60 * MIN)
    return ingest.ingest(session=session, device=device, parsed=parsed, channel="http")


@pytest.fixture
def box(session):
    """probe-a in BOX-1 from T0 - 1 h; probe-b replaces it at T0 + 10 min."""
    service.register_device(session=session, device_id="probe-a", box_id="BOX-1", now=T0 - 60 * MIN)
    service.register_device(session=session, device_id="probe-b")
    put(session, "probe-a", T0, [65.0] * 20)  # 11:00 .. 11:19
    put(session, "probe-b", T0, [10.0] * 20)
    service.bind_device(session=session, device_id="probe-b", box_id="BOX-1", now=T0 + 10 * MIN)
    return session


def test_box_readings_follow_the_binding_history(box):
    got = coldchain.box_readings(session=box, box_id="BOX-1", start=T0, end=T0 + 19 * MIN)
    expected = [(T0 + i * MIN, 65.0) for i in range(10)] + [
        (T0 + i * MIN, 10.0) for i in range(10, 20)
    ]
    assert got == expected


def test_box_readings_include_both_ends_of_the_window(box):
    got = coldchain.box_readings(session=box, box_id="BOX-1", start=T0 + 2 * MIN, end=T0 + 4 * MIN)
    assert [t for t, _ in got] == [T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN]


def test_a_device_in_no_box_contributes_nothing(box):
    assert coldchain.box_readings(session=box, box_id="BOX-9", start=T0, end=T0 + 60 * MIN) == []


def test_judge_window_equals_the_rules_on_the_box_readings(box):
    verdict = coldchain.judge_window(
        session=box,
        box_id="BOX-1",
        pickup_at=T0,
        dropoff_at=T0 + 19 * MIN,
        food_class="hot",
        profile="gb31654",
    )
    points = [(T0 + i * MIN, 65.0 if i < 10 else 10.0) for i in range(20)]
    expected = judge_delivery(
        points, pickup_at=T0, dropoff_at=T0 + 19 * MIN, food_class="hot", profile="gb31654"
    )
    assert verdict == expected
    assert verdict.verdict == "fail"
    assert verdict.excursions[0].start == T0 + 10 * MIN


def test_device_in_box_at_a_time(box):
    assert (
        coldchain.device_in_box(session=box, box_id="BOX-1", at=T0 + 5 * MIN).device_id == "probe-a"
    )
    assert (
        coldchain.device_in_box(session=box, box_id="BOX-1", at=T0 + 10 * MIN).device_id
        == "probe-b"
    )
    assert coldchain.device_in_box(session=box, box_id="BOX-1", at=T0 - 2 * 60 * MIN) is None


def test_binding_a_device_evicts_the_boxs_previous_device(box):
    a = service.get_device(session=box, device_id="probe-a")
    b = service.get_device(session=box, device_id="probe-b")
    assert (a.box_id, b.box_id) == (None, "BOX-1")


def test_watch_start_and_end_are_ledger_entries_and_safe_to_retry(session):
    watch = coldchain.watch_delivery(
        session=session,
        delivery_id=41,
        box_id="BOX-1",
        pickup_at=T0,
        food_class="cold",
        merchant_id=7,
    )
    again = coldchain.watch_delivery(
        session=session,
        delivery_id=41,
        box_id="BOX-1",
        pickup_at=T0,
        food_class="cold",
        merchant_id=7,
    )
    assert again.ledger_index == watch.ledger_index
    assert ledger.entry_at(session, watch.ledger_index).type == "sensor.watch_started"
    ended = coldchain.end_watch(session=session, delivery_id=41, dropoff_at=T0 + 30 * MIN)
    assert ledger.entry_at(session, ended.ledger_index).envelope()["payload"] == {
        "dropoff_at": "2025-03-01T11:30:00.000000Z"
    }
    assert coldchain.end_watch(session=session, delivery_id=41, dropoff_at=T0 + 30 * MIN) == ended


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"food_class": "lukewarm"}, coldchain.WatchError),
        ({"box_id": "BOX 1"}, service.DeviceError),
        ({"pickup_at": datetime(2025, 3, 1, 11, 0)}, coldchain.WatchError),
    ],
)
def test_bad_watches_are_refused(session, kwargs, error):
    values = {
        "delivery_id": 1,
        "box_id": "BOX-1",
        "pickup_at": T0,
        "food_class": "hot",
        "merchant_id": 1,
    }
    with pytest.raises(error):
        coldchain.watch_delivery(session=session, **{**values, **kwargs})


def test_a_different_second_watch_of_a_delivery_conflicts(session):
    coldchain.watch_delivery(
        session=session,
        delivery_id=3,
        box_id="BOX-1",
        pickup_at=T0,
        food_class="hot",
        merchant_id=1,
    )
    with pytest.raises(coldchain.WatchConflict):
        coldchain.watch_delivery(
            session=session,
            delivery_id=3,
            box_id="BOX-2",
            pickup_at=T0,
            food_class="hot",
            merchant_id=1,
        )
    with pytest.raises(coldchain.WatchError):
        coldchain.end_watch(session=session, delivery_id=3, dropoff_at=T0 - MIN)
    with pytest.raises(coldchain.WatchNotFound):
        coldchain.end_watch(session=session, delivery_id=4, dropoff_at=T0)


@pytest.fixture
def on_the_road(session):
    """Hot delivery 5 for merchant 7 picked up at T0 in BOX-1 (probe-a), still on the road."""
    service.register_device(session=session, device_id="probe-a", box_id="BOX-1", now=T0 - 60 * MIN)
    coldchain.watch_delivery(
        session=session,
        delivery_id=5,
        box_id="BOX-1",
        pickup_at=T0,
        food_class="hot",
        merchant_id=7,
    )
    return session


def alerts(session):
    return session.exec(select(Alert).order_by(Alert.id)).all()


def test_an_excursion_in_progress_raises_one_alert_however_often_it_is_evaluated(on_the_road):
    s = on_the_road
    device = service.get_device(session=s, device_id="probe-a").id
    put(s, "probe-a", T0, [65.0, 64.0, 58.0, 55.0])
    now = T0 + 4 * MIN
    raised = coldchain.evaluate_alerts(session=s, device=device, profile="gb31654", now=now)
    assert [(a.delivery_id, a.merchant_id, a.excursion_start, a.peak_c) for a in raised] == [
        (5, 7, T0 + 2 * MIN, 55.0)
    ]
    put(s, "probe-a", T0 + 4 * MIN, [54.0, 53.0])  # the same excursion goes on
    assert (
        coldchain.evaluate_alerts(session=s, device=device, profile="gb31654", now=T0 + 6 * MIN)
        == []
    )
    assert len(alerts(s)) == 1
    entry = ledger.entry_at(s, raised[0].ledger_index)
    assert (entry.type, entry.envelope()["subject"]) == (
        "sensor.alert_raised",
        {"alert": raised[0].id, "delivery": 5},
    )


def test_a_second_excursion_of_the_same_delivery_raises_a_second_alert(on_the_road):
    s = on_the_road
    device = service.get_device(session=s, device_id="probe-a").id
    put(s, "probe-a", T0, [65.0, 55.0])
    coldchain.evaluate_alerts(session=s, device=device, now=T0 + 2 * MIN, profile="gb31654")
    put(s, "probe-a", T0 + 2 * MIN, [66.0, 67.0, 50.0])  # back in range, then out again
    coldchain.evaluate_alerts(session=s, device=device, now=T0 + 5 * MIN, profile="gb31654")
    assert [a.excursion_start for a in alerts(s)] == [T0 + MIN, T0 + 4 * MIN]


def test_no_alert_when_in_range_or_after_drop_off(on_the_road):
    s = on_the_road
    device = service.get_device(session=s, device_id="probe-a").id
    put(s, "probe-a", T0, [65.0, 66.0])
    assert (
        coldchain.evaluate_alerts(session=s, device=device, now=T0 + 2 * MIN, profile="gb31654")
        == []
    )
    coldchain.end_watch(session=s, delivery_id=5, dropoff_at=T0 + 2 * MIN)
    put(s, "probe-a", T0 + 2 * MIN, [40.0])
    assert (
        coldchain.evaluate_alerts(session=s, device=device, now=T0 + 3 * MIN, profile="gb31654")
        == []
    )


def test_alerts_of_one_merchant_only(on_the_road):
    s = on_the_road
    device = service.get_device(session=s, device_id="probe-a").id
    put(s, "probe-a", T0, [40.0])
    coldchain.evaluate_alerts(session=s, device=device, now=T0 + MIN, profile="gb31654")
    assert [a.delivery_id for a in coldchain.recent_alerts(session=s, merchant_id=7)] == [5]
    assert coldchain.recent_alerts(session=s, merchant_id=8) == []
