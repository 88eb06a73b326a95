"""Pathogen table, exposure windows, incubation statistics and epidemic curves."""

import json
import statistics
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from complaints.incubation import (
    IncubationError,
    NaiveDatetimeError,
    Pathogen,
    PathogenTableError,
    UnknownPathogen,
    default_pathogens,
    epidemic_curve,
    exposure_window,
    incubation_stats,
    likely_agents,
    load_pathogens,
    widest_exposure_window,
)

# DOMAIN.md §4, "Typical incubation", converted to hours: the specification the file must carry.
DOMAIN_RANGES = {
    "s_aureus": (0.5, 8),
    "b_cereus_emetic": (0.5, 6),
    "b_cereus_diarrhoeal": (6, 15),
    "c_perfringens": (6, 24),
    "norovirus": (12, 48),
    "salmonella": (6, 6 * 24),
    "campylobacter": (2 * 24, 5 * 24),
    "stec": (1 * 24, 10 * 24),
    "v_parahaemolyticus": (4, 30),
}
ONSET = datetime(2025, 5, 12, 18, 30, tzinfo=UTC)


def test_bundled_table_carries_the_domain_ranges_and_cites_its_source() -> None:
    table = load_pathogens()
    assert {p.id: (p.min_hours, p.max_hours) for p in table} == DOMAIN_RANGES
    assert "DOMAIN.md" in table.source
    assert table.unknown_history_hours == 72


@pytest.mark.parametrize("pathogen_id", ["s_aureus", "norovirus", "salmonella", "stec"])
def test_exposure_window_is_onset_minus_max_to_onset_minus_min(pathogen_id: str) -> None:
    lo, hi = DOMAIN_RANGES[pathogen_id]
    start, end = exposure_window(ONSET, default_pathogens().get(pathogen_id))
    assert start == ONSET - timedelta(hours=hi)
    assert end == ONSET - timedelta(hours=lo)


def test_exposure_window_of_campylobacter_reaches_back_five_days() -> None:
    start, end = exposure_window(ONSET, default_pathogens().get("campylobacter"))
    assert (start, end) == (
        datetime(2025, 5, 7, 18, 30, tzinfo=UTC),
        datetime(2025, 5, 10, 18, 30, tzinfo=UTC),
    )


def test_unknown_agent_window_is_the_configured_food_history_before_onset() -> None:
    assert exposure_window(ONSET, None) == (ONSET - timedelta(hours=72), ONSET)
    assert exposure_window(ONSET, None, unknown_history_hours=24) == (
        ONSET - timedelta(hours=24),
        ONSET,
    )


def test_widest_window_spans_the_longest_and_shortest_incubation_in_the_table() -> None:
    longest = max(hi for _, hi in DOMAIN_RANGES.values())
    shortest = min(lo for lo, _ in DOMAIN_RANGES.values())
    assert widest_exposure_window(ONSET) == (
        ONSET - timedelta(hours=longest),
        ONSET - timedelta(hours=shortest),
    )


def test_aware_onsets_in_other_zones_come_back_in_utc() -> None:
    beijing = ONSET.astimezone(timezone(timedelta(hours=8)))
    start, end = exposure_window(beijing, default_pathogens().get("norovirus"))
    assert start.utcoffset() == timedelta(0)
    assert (start, end) == exposure_window(ONSET, default_pathogens().get("norovirus"))


def test_naive_datetimes_are_rejected_everywhere() -> None:
    naive = datetime(2025, 5, 12, 18, 30)
    with pytest.raises(NaiveDatetimeError):
        exposure_window(naive, None)
    with pytest.raises(NaiveDatetimeError):
        widest_exposure_window(naive)
    with pytest.raises(NaiveDatetimeError):
        incubation_stats([naive], [ONSET])
    with pytest.raises(NaiveDatetimeError):
        epidemic_curve([ONSET, naive])
    assert issubclass(NaiveDatetimeError, ValueError)


def test_incubation_stats_summarise_onset_minus_exposure_in_hours() -> None:
    meal = datetime(2025, 5, 12, 11, 45, tzinfo=UTC)
    hours = [2.5, 4.0, 3.25, 7.0]
    onsets = [meal + timedelta(hours=h) for h in hours]
    assert incubation_stats([meal] * 4, onsets) == {
        "median_hours": statistics.median(hours),
        "min_hours": 2.5,
        "max_hours": 7.0,
        "n": 4,
    }


def test_incubation_stats_of_no_pairs_are_empty() -> None:
    assert incubation_stats([], []) == {
        "median_hours": None,
        "min_hours": None,
        "max_hours": None,
        "n": 0,
    }


def test_incubation_stats_reject_onset_before_exposure_and_unpaired_lists() -> None:
    with pytest.raises(IncubationError, match="pair 0"):
        incubation_stats([ONSET], [ONSET - timedelta(minutes=1)])
    with pytest.raises(IncubationError, match="paired"):
        incubation_stats([ONSET], [])


@pytest.mark.parametrize("median", [3.0, 10.0, 36.0, 0.5, 240.0, 500.0])
def test_likely_agents_are_those_whose_range_contains_the_median(median: float) -> None:
    expected = [pid for pid, (lo, hi) in DOMAIN_RANGES.items() if lo <= median <= hi]
    assert [p.id for p in likely_agents(median)] == expected


def test_likely_agents_of_an_unknown_median_is_empty() -> None:
    assert likely_agents(None) == []


def test_unknown_pathogen_id_is_a_lookup_error() -> None:
    with pytest.raises(UnknownPathogen):
        default_pathogens().get("cholera-of-the-mind")
    assert issubclass(UnknownPathogen, LookupError)


def write_table(tmp_path: Path, **changes: object) -> Path:
    data = {
        "source": "test fixture",
        "unknown_agent": {"history_hours": 48},
        "pathogens": [{"id": "x", "name": "X", "min_hours": 1, "max_hours": 2}],
    } | changes
    path = tmp_path / "pathogens.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_custom_table_loads_with_its_own_unknown_history(tmp_path: Path) -> None:
    table = load_pathogens(write_table(tmp_path))
    assert list(table) == [Pathogen("x", "X", 1.0, 2.0)]
    assert table.unknown_history_hours == 48


@pytest.mark.parametrize(
    "changes",
    [
        {"pathogens": [{"id": "x", "min_hours": 5, "max_hours": 2}]},
        {"pathogens": [{"id": "x", "min_hours": -1, "max_hours": 2}]},
        {"pathogens": [{"id": "x", "min_hours": "1", "max_hours": 2}]},
        {"pathogens": [{"id": "x", "min_hours": 1, "max_hours": 2}] * 2},
        {"source": ""},
        {"unknown_agent": None},
    ],
)
def test_malformed_tables_are_rejected(tmp_path: Path, changes: dict) -> None:
    with pytest.raises(PathogenTableError):
        load_pathogens(write_table(tmp_path, **changes))


def test_epidemic_curve_bins_onsets_on_six_hour_utc_boundaries_with_empty_bins() -> None:
    onsets = [
        datetime(2025, 5, 12, 7, 10, tzinfo=UTC),
        datetime(2025, 5, 12, 11, 59, tzinfo=UTC),
        datetime(2025, 5, 12, 6, 0, tzinfo=UTC),
        datetime(2025, 5, 12, 20, 0, tzinfo=timezone(timedelta(hours=8))),  # 12:00 UTC
        datetime(2025, 5, 13, 1, 0, tzinfo=UTC),
    ]
    six = timedelta(hours=6)
    first = datetime(2025, 5, 12, 6, tzinfo=UTC)
    starts = [first + k * six for k in range(4)]
    expected_counts = [sum(1 for t in onsets if s <= t < s + six) for s in starts]
    curve = epidemic_curve(onsets)
    assert [b["start"] for b in curve] == starts
    assert [b["end"] for b in curve] == [s + six for s in starts]
    assert [b["cases"] for b in curve] == expected_counts == [3, 1, 0, 1]


def test_epidemic_curve_of_no_onsets_is_empty_and_bin_width_must_be_positive() -> None:
    assert epidemic_curve([]) == []
    with pytest.raises(ValueError, match="bin_hours"):
        epidemic_curve([ONSET], bin_hours=0)
