"""Bulk judging of stored deliveries agrees with judging them one at a time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlmodel import Session

from sensors import coldchain, ingest, service
from sensors.history import judge_stored_deliveries
from sensors.readings import parse_json_readings
from tests.sensors.conftest import readings

T0 = datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
NOW = T0 + 6 * 60 * MIN


@pytest.fixture
def fleet(any_engine):
    """Two boxes; probe-c moves from BOX-1 to BOX-2 half-way; random readings every minute."""
    rng = random.Random(7)
    with Session(any_engine, expire_on_commit=False) as s:
        for device, box in (("probe-a", "BOX-1"), ("probe-b", "BOX-2"), ("probe-c", None)):
            service.register_device(session=s, device_id=device, box_id=box, now=T0 - MIN)
        service.bind_device(session=s, device_id="probe-c", box_id="BOX-1", now=T0 + 90 * MIN)
        for device_id in ("probe-a", "probe-b", "probe-c"):
            device = service.get_device(session=s, device_id=device_id)
            values = [rng.choice([4.0, 6.0, 9.0, 62.0, 58.0]) for _ in range(300)]
            keep = [i for i in range(300) if rng.random() > 0.05]  # some gaps
            items = [readings(T0, values)[i] for i in keep]
            parsed = parse_json_readings(items, now=NOW)
            ingest.ingest(session=s, device=device, parsed=parsed, channel="http")
        yield s


def test_bulk_verdicts_equal_one_by_one_verdicts(fleet):
    rows = []
    for n in range(40):
        box = "BOX-1" if n % 2 else "BOX-2"
        pickup = T0 + (n * 7) * MIN
        dropoff = None if n == 39 else pickup + (15 + n % 30) * MIN
        rows.append((n, box, pickup, dropoff, ["hot", "cold", "ambient", "frozen"][n % 4]))
    deliveries = pd.DataFrame(
        rows, columns=["delivery_id", "box_id", "pickup_at", "dropoff_at", "food_class"]
    )
    deliveries["dropoff_at"] = pd.to_datetime(deliveries["dropoff_at"], utc=True)
    bulk = judge_stored_deliveries(session=fleet, deliveries=deliveries, profile="gb31654", now=NOW)
    for (n, box, pickup, dropoff, food_class), got in zip(rows, bulk.itertuples(), strict=True):
        one = coldchain.judge_window(
            session=fleet,
            box_id=box,
            pickup_at=pickup,
            dropoff_at=dropoff,
            food_class=food_class,
            profile="gb31654",
            now=NOW,
        )
        assert got.delivery_id == n
        assert got.n_readings == one.n_readings, n
        assert got.verdict == one.verdict, n
        assert got.n_excursions == len(one.excursions), n
        assert got.n_gaps == len(one.gaps), n
        assert got.minutes_outside == pytest.approx(one.minutes_outside), n
        if one.n_readings:
            assert (got.min_c, got.max_c) == (one.min_c, one.max_c)
