"""Cold-chain rules: profile data and the per-delivery verdict at its boundaries."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from sensors.rules import (
    DATA_GAP,
    DELIVERY_EXCEEDS_TIME_LIMIT,
    EXCURSION_TOTAL_EXCEEDS_LIMIT,
    FOOD_CLASSES,
    IMPOSSIBLE_READINGS,
    NO_READINGS,
    InvalidDeliveryWindow,
    ProfileConfigError,
    SafeRange,
    UnknownFoodClass,
    UnknownProfile,
    get_profile,
    judge_delivery,
    load_profiles,
    parse_profiles,
    physical_limits,
)

T0 = datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)


def series(values: list[float], *, start: datetime = T0, step: timedelta = MIN):
    """Readings ``values`` at ``start``, ``start + step``, …"""
    return [(start + i * step, v) for i, v in enumerate(values)]


def judge(readings, minutes: float, food_class: str = "hot", profile: str = "gb31654", **kw):
    """Judge a delivery picked up at T0 and dropped off ``minutes`` later."""
    return judge_delivery(
        readings,
        pickup_at=T0,
        dropoff_at=T0 + timedelta(minutes=minutes),
        food_class=food_class,
        profile=profile,
        **kw,
    )


def codes(verdict) -> set[str]:
    return {r.code for r in verdict.reasons}


# --- profile data -------------------------------------------------------------------------


def test_gb31654_profile_states_the_standards_ranges_and_times():
    gb = get_profile("gb31654")
    assert gb.rule("hot").safe == SafeRange(low=60.0, low_inclusive=False)
    assert gb.rule("cold").safe == SafeRange(high=8.0, high_inclusive=False)
    assert gb.rule("frozen").safe == SafeRange(high=-18.0, high_inclusive=True)
    assert gb.rule("ambient").safe is None
    assert gb.rule("hot").max_delivery == timedelta(hours=4)
    assert gb.rule("cold").max_delivery == timedelta(hours=24)
    assert gb.rule("ambient").max_delivery == timedelta(hours=2)


def test_fda_profile_states_the_food_code_ranges_and_four_hour_limit():
    fda = get_profile("fda_food_code")
    assert fda.rule("hot").safe == SafeRange(low=57.0, low_inclusive=True)
    assert fda.rule("cold").safe == SafeRange(high=5.0, high_inclusive=True)
    assert fda.rule("frozen").safe == SafeRange(high=-18.0, high_inclusive=True)
    assert fda.rule("ambient").max_delivery == timedelta(hours=4)


def test_every_profile_cites_a_source_for_every_food_class():
    for profile in load_profiles().values():
        assert profile.source
        for food_class in FOOD_CLASSES:
            assert profile.rule(food_class).source


def test_physical_limits_come_from_configuration():
    assert physical_limits() == (-60.0, 150.0)


def test_unknown_profile_and_food_class_are_named_lookup_errors():
    with pytest.raises(UnknownProfile, match="usda"):
        get_profile("usda")
    with pytest.raises(UnknownFoodClass, match="lukewarm"):
        judge([], 10, food_class="lukewarm")


def test_malformed_profile_configuration_is_refused():
    bad = {
        "physical_limits_c": {"min": -60, "max": 150},
        "profiles": {"x": {"title": "t", "source": "s", "excursion_tolerance_minutes": 0}},
    }
    with pytest.raises(ProfileConfigError):
        parse_profiles(bad)
    with pytest.raises(ProfileConfigError, match="warmer_than"):
        parse_profiles(
            {
                "physical_limits_c": {"min": -60, "max": 150},
                "profiles": {
                    "x": {
                        "title": "t",
                        "source": "s",
                        "excursion_tolerance_minutes": 0,
                        "classes": {
                            c: {
                                "safe": {"warmer_than": 1},
                                "max_delivery_minutes": 1,
                                "source": "s",
                            }
                            for c in FOOD_CLASSES
                        },
                    }
                },
            }
        )


# --- temperature boundaries ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "food_class", "celsius", "verdict"),
    [
        ("gb31654", "hot", 60.0, "fail"),  # GB: must be strictly above 60
        ("gb31654", "hot", 60.1, "pass"),
        ("fda_food_code", "hot", 57.0, "pass"),  # FDA: 57 or above
        ("fda_food_code", "hot", 56.9, "fail"),
        ("gb31654", "cold", 8.0, "fail"),  # GB: strictly below 8
        ("gb31654", "cold", 7.9, "pass"),
        ("fda_food_code", "cold", 5.0, "pass"),  # FDA: 5 or less
        ("fda_food_code", "cold", 5.1, "fail"),
        ("gb31654", "frozen", -18.0, "pass"),
        ("fda_food_code", "frozen", -17.9, "fail"),
    ],
)
def test_safe_range_boundaries_are_exact(profile, food_class, celsius, verdict):
    result = judge(series([celsius] * 31), 30, food_class=food_class, profile=profile)
    assert result.verdict == verdict
    assert result.minutes_outside == (30.0 if verdict == "fail" else 0.0)


def test_out_of_range_hot_food_fails_with_excursion_reason():
    result = judge(series([65, 65, 55, 50, 58, 65, 65]), 6)
    assert result.verdict == "fail"
    assert EXCURSION_TOTAL_EXCEEDS_LIMIT in codes(result)
    (excursion,) = result.excursions
    assert excursion.start == T0 + 2 * MIN
    assert excursion.end == T0 + 5 * MIN  # the next in-range reading
    assert excursion.peak_c == 50
    assert excursion.minutes == 3.0
    assert result.minutes_outside == 3.0


def test_cold_excursion_peak_is_the_warmest_reading():
    result = judge(series([4, 9, 12, 10, 4]), 4, food_class="cold")
    assert [e.peak_c for e in result.excursions] == [12]


def test_tolerance_allows_exactly_its_minutes_outside_and_no_more():
    readings = series([65] * 5 + [50] * 10 + [65] * 6)  # 10 minutes below 60
    at_limit = judge(readings, 20, tolerance=timedelta(minutes=10))
    assert at_limit.minutes_outside == 10.0
    assert at_limit.verdict == "pass"
    below_limit = judge(readings, 20, tolerance=timedelta(minutes=10) - SEC)
    assert below_limit.verdict == "fail"


# --- time limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "food_class", "limit"),
    [
        ("gb31654", "hot", timedelta(hours=4)),
        ("gb31654", "ambient", timedelta(hours=2)),
        ("fda_food_code", "ambient", timedelta(hours=4)),
        ("fda_food_code", "hot", timedelta(hours=4)),
    ],
)
def test_delivery_of_exactly_the_time_limit_passes_and_one_second_more_fails(
    profile, food_class, limit
):
    minutes = int(limit / MIN)
    readings = series([70.0] * (minutes + 1))
    kwargs = {"pickup_at": T0, "food_class": food_class, "profile": profile}
    on_time = judge_delivery(readings, dropoff_at=T0 + limit, **kwargs)
    late = judge_delivery(readings, dropoff_at=T0 + limit + SEC, **kwargs)
    assert on_time.verdict == "pass"
    assert late.verdict == "fail"
    assert DELIVERY_EXCEEDS_TIME_LIMIT in codes(late)


def test_ambient_food_is_judged_on_time_alone():
    result = judge(series([95.0, 30.0]), 60, food_class="ambient")
    assert result.verdict == "pass"
    assert result.excursions == ()
    assert result.minutes_outside == 0.0
    assert judge([], 60, food_class="ambient").verdict == "pass"


# --- windows, gaps and data quality -------------------------------------------------------


def test_readings_exactly_at_pickup_and_dropoff_count_and_outside_do_not():
    inside = [(T0, 61.0), (T0 + 10 * MIN, 62.0)]
    outside = [(T0 - timedelta(microseconds=1), 10.0), (T0 + 10 * MIN + SEC, 10.0)]
    result = judge(inside + outside, 10, max_gap=timedelta(minutes=10))
    assert result.n_readings == 2
    assert (result.min_c, result.max_c) == (61.0, 62.0)
    assert result.verdict == "pass"


def test_spacing_of_exactly_max_gap_is_not_a_gap_and_one_second_more_is():
    exact = judge(series([65.0, 65.0], step=5 * MIN), 5)
    assert exact.gaps == ()
    assert exact.verdict == "pass"
    late = [(T0, 65.0), (T0 + 5 * MIN + SEC, 65.0)]
    result = judge(late, 5 + 1 / 60)
    assert [(g.start, g.end) for g in result.gaps] == [(T0, T0 + 5 * MIN + SEC)]
    assert result.gaps[0].minutes == pytest.approx(5 + 1 / 60)
    assert result.verdict == "insufficient_data"
    assert DATA_GAP in codes(result)


def test_gaps_before_the_first_and_after_the_last_reading_are_reported():
    readings = [(T0 + 10 * MIN, 65.0), (T0 + 11 * MIN, 65.0)]
    result = judge(readings, 30)
    assert [(g.start, g.end) for g in result.gaps] == [
        (T0, T0 + 10 * MIN),
        (T0 + 11 * MIN, T0 + 30 * MIN),
    ]


def test_no_readings_is_insufficient_data_with_one_gap():
    result = judge([], 30)
    assert result.verdict == "insufficient_data"
    assert {NO_READINGS, DATA_GAP} <= codes(result)
    assert (result.min_c, result.max_c, result.mean_c) == (None, None, None)
    assert [(g.start, g.end) for g in result.gaps] == [(T0, T0 + 30 * MIN)]


def test_outside_time_is_capped_at_max_gap_when_readings_stop():
    result = judge([(T0, 40.0), (T0 + 20 * MIN, 65.0)], 20, tolerance=timedelta(hours=1))
    assert result.minutes_outside == 5.0
    assert result.excursions[0].end == T0 + 5 * MIN
    assert len(result.gaps) == 1


def test_a_gap_splits_an_excursion_in_two():
    result = judge([(T0, 40.0), (T0 + 20 * MIN, 40.0)], 21)
    assert [(e.start, e.end) for e in result.excursions] == [
        (T0, T0 + 5 * MIN),
        (T0 + 20 * MIN, T0 + 21 * MIN),
    ]
    assert result.minutes_outside == 6.0


def test_fail_outranks_missing_data():
    result = judge([(T0, 40.0)], 30)
    assert result.verdict == "fail"
    assert {EXCURSION_TOTAL_EXCEEDS_LIMIT, DATA_GAP} <= codes(result)


def test_readings_in_any_order_give_the_same_verdict():
    readings = series([65, 64, 59, 58, 61, 66, 70, 55, 62, 63, 65])
    shuffled = readings[:]
    random.Random(7).shuffle(shuffled)
    assert judge(shuffled, 10) == judge(readings, 10)


def test_duplicate_instant_counts_every_value_and_is_outside_if_any_value_is():
    readings = [(T0, 65.0), (T0, 55.0), (T0 + MIN, 65.0)]
    result = judge(readings, 1)
    assert result.n_readings == 3
    assert result.mean_c == pytest.approx((65 + 55 + 65) / 3)
    assert result.minutes_outside == 1.0
    assert result.excursions[0].peak_c == 55.0


def test_impossible_readings_are_errors_not_excursions():
    readings = series([65.0, 151.0, 65.0, -61.0, float("nan"), 65.0])
    result = judge(readings, 5)
    assert result.n_readings == 3
    assert result.n_impossible == 3
    assert result.excursions == ()
    assert result.verdict == "pass"
    assert IMPOSSIBLE_READINGS in codes(result)


def test_physical_limits_themselves_are_possible():
    result = judge(series([150.0, -60.0]), 1)
    assert result.n_impossible == 0
    assert (result.min_c, result.max_c) == (-60.0, 150.0)


def test_mean_is_the_plain_average_of_readings():
    result = judge([(T0, 61.0), (T0 + 4 * MIN, 71.0), (T0 + 5 * MIN, 81.0)], 5)
    assert result.mean_c == pytest.approx((61 + 71 + 81) / 3)


# --- deliveries in progress ---------------------------------------------------------------


def test_open_delivery_is_judged_up_to_now_and_flags_a_running_excursion():
    readings = series([65.0, 65.0, 58.0, 57.0])
    kwargs = {"pickup_at": T0, "dropoff_at": None, "food_class": "hot", "profile": "gb31654"}
    now = T0 + 3 * MIN + 30 * SEC
    result = judge_delivery([*readings, (now + MIN, 20.0)], now=now, **kwargs)
    assert result.in_progress
    assert result.window_end == now
    assert result.excursion_in_progress
    assert result.minutes_outside == 1.5
    assert result.n_readings == 4  # the reading after now is not counted yet
    recovered = judge_delivery([*readings, (T0 + 4 * MIN, 66.0)], now=T0 + 4 * MIN, **kwargs)
    assert not recovered.excursion_in_progress


def test_closed_delivery_never_reports_an_excursion_in_progress():
    result = judge(series([65.0, 40.0]), 1)
    assert not result.in_progress
    assert not result.excursion_in_progress


def test_invalid_windows_and_naive_times_are_refused():
    with pytest.raises(InvalidDeliveryWindow, match="now"):
        judge_delivery([], pickup_at=T0, dropoff_at=None, food_class="hot", profile="gb31654")
    with pytest.raises(InvalidDeliveryWindow, match="before pickup"):
        judge([], -1)
    with pytest.raises(InvalidDeliveryWindow, match="timezone"):
        judge_delivery(
            [],
            pickup_at=T0.replace(tzinfo=None),
            dropoff_at=T0,
            food_class="hot",
            profile="gb31654",
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        judge([(T0.replace(tzinfo=None), 65.0)], 10)
