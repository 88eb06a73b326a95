"""The vectorised judge agrees with judge_delivery and handles bulk-input edge cases."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from sensors.judging import RESULT_COLUMNS, judge_deliveries
from sensors.rules import FOOD_CLASSES, InvalidDeliveryWindow, UnknownFoodClass, judge_delivery

T0 = datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=30)
# Values on and around every boundary in both profiles, plus impossible ones.
EDGE_VALUES = [60.0, 57.0, 8.0, 5.0, -18.0, 150.0, -60.0, 150.5, -61.0, float("nan")]
# Spacings around the 5-minute max_gap, and 0 for duplicate instants.
STEPS = [0, 1, 30, 60, 299, 300, 301, 900]


def random_deliveries(rng: random.Random, n: int):
    """``n`` random deliveries and their readings, as plain Python values."""
    deliveries, readings = [], []
    for delivery_id in range(n):
        pickup = T0 + timedelta(seconds=rng.randrange(0, 3600), microseconds=rng.randrange(10))
        minutes = rng.choice([0, 4, 5, 30, 120, 240, 241, 1500, rng.uniform(0, 300)])
        dropoff = None if rng.random() < 0.1 else pickup + timedelta(minutes=minutes)
        deliveries.append((delivery_id, pickup, dropoff, rng.choice(FOOD_CLASSES)))
        time = pickup + timedelta(seconds=rng.choice([-60, 0, 30, 301]))
        base = rng.choice([65.0, 3.0, -20.0, 20.0])
        for _ in range(rng.randrange(0, 25)):
            value = rng.choice(EDGE_VALUES) if rng.random() < 0.15 else base + rng.gauss(0, 4)
            readings.append((delivery_id, time, value))
            time += timedelta(seconds=rng.choice(STEPS))
    rng.shuffle(readings)  # the vectorised judge must not rely on input order
    return deliveries, readings


def frames(deliveries, readings) -> tuple[pd.DataFrame, pd.DataFrame]:
    d = pd.DataFrame(deliveries, columns=["delivery_id", "pickup_at", "dropoff_at", "food_class"])
    d["pickup_at"] = pd.to_datetime(d["pickup_at"], utc=True)
    d["dropoff_at"] = pd.to_datetime(d["dropoff_at"], utc=True)
    r = pd.DataFrame(readings, columns=["delivery_id", "time", "celsius"])
    r["time"] = pd.to_datetime(r["time"], utc=True)
    return r, d


def same_float(a: float | None, b: float) -> bool:
    return (a is None and math.isnan(b)) or (a is not None and a == pytest.approx(b, rel=1e-12))


@pytest.mark.parametrize("profile", ["gb31654", "fda_food_code"])
def test_vectorised_judge_agrees_with_judge_delivery_on_random_deliveries(profile):
    deliveries, readings = random_deliveries(random.Random(20250301), 300)
    r, d = frames(deliveries, readings)
    table = judge_deliveries(r, d, profile=profile, now=NOW).set_index("delivery_id")
    for delivery_id, pickup, dropoff, food_class in deliveries:
        own = [(t, c) for i, t, c in readings if i == delivery_id]
        one = judge_delivery(
            own,
            pickup_at=pickup,
            dropoff_at=dropoff,
            food_class=food_class,
            profile=profile,
            now=NOW,
        )
        row = table.loc[delivery_id]
        assert row["verdict"] == one.verdict, delivery_id
        assert row["n_readings"] == one.n_readings
        assert row["n_impossible"] == one.n_impossible
        assert same_float(one.min_c, row["min_c"])
        assert same_float(one.max_c, row["max_c"])
        assert same_float(one.mean_c, row["mean_c"])
        assert row["minutes_outside"] == pytest.approx(one.minutes_outside, abs=1e-9)
        assert row["n_excursions"] == len(one.excursions)
        assert row["n_gaps"] == len(one.gaps)
        assert row["in_progress"] == one.in_progress
        assert row["excursion_in_progress"] == one.excursion_in_progress
        assert row["exceeds_time_limit"] == ("delivery_exceeds_time_limit" in {
            reason.code for reason in one.reasons
        })  # fmt: skip


def test_rows_follow_the_deliveries_order_even_without_readings():
    deliveries = [(7, T0, T0 + timedelta(minutes=30), "hot"), (3, T0, T0, "ambient")]
    r, d = frames(deliveries, [])
    table = judge_deliveries(r, d, profile="gb31654")
    assert list(table.columns) == list(RESULT_COLUMNS)
    assert table["delivery_id"].tolist() == [7, 3]
    assert table["verdict"].tolist() == ["insufficient_data", "pass"]
    assert table["n_readings"].tolist() == [0, 0]


def test_readings_of_unknown_deliveries_are_ignored():
    deliveries = [(1, T0, T0 + timedelta(minutes=2), "cold")]
    readings = [(1, T0, 4.0), (1, T0 + timedelta(minutes=2), 4.0), (99, T0, 30.0)]
    table = judge_deliveries(*frames(deliveries, readings), profile="gb31654")
    assert table["verdict"].tolist() == ["pass"]
    assert table["max_c"].tolist() == [4.0]


def test_all_open_deliveries_need_now():
    deliveries = [(1, T0, None, "hot")]
    r, d = frames(deliveries, [(1, T0, 70.0)])
    with pytest.raises(InvalidDeliveryWindow, match="now"):
        judge_deliveries(r, d, profile="gb31654")
    table = judge_deliveries(r, d, profile="gb31654", now=T0 + timedelta(minutes=1))
    assert table["in_progress"].tolist() == [True]
    d["dropoff_at"] = [None]  # an all-empty column arrives without a datetime dtype
    table = judge_deliveries(r, d, profile="gb31654", now=T0 + timedelta(minutes=1))
    assert table["excursion_in_progress"].tolist() == [False]


def test_naive_times_and_unknown_food_classes_are_refused():
    r, d = frames([(1, T0, T0 + timedelta(minutes=5), "tepid")], [])
    with pytest.raises(UnknownFoodClass, match="tepid"):
        judge_deliveries(r, d, profile="gb31654")
    d["food_class"] = "hot"
    d["pickup_at"] = d["pickup_at"].dt.tz_localize(None)
    with pytest.raises(ValueError, match="timezone-aware"):
        judge_deliveries(r, d, profile="gb31654")
