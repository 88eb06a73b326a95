"""Attack-rate rows, odds ratios, ranking and Mantel–Haenszel against independent figures."""

import dataclasses
import json
import math
import random
from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import fisher_exact
from scipy.stats.contingency import odds_ratio as scipy_odds_ratio
from scipy.stats.contingency import relative_risk

from complaints.epidemiology import (
    Candidate,
    InvalidCounts,
    attack_rate_row,
    attack_rate_rows_from_counts,
    cohort_counts,
    mantel_haenszel_rr,
    odds_ratio,
    rank,
)

CANDIDATE_FIELDS = [
    "kind",
    "id",
    "label",
    "exposed_cases",
    "exposed_total",
    "unexposed_cases",
    "unexposed_total",
    "attack_rate_exposed",
    "attack_rate_unexposed",
    "relative_risk",
    "rr_ci95",
    "fisher_p",
    "cases_explained",
]


def row(ec: int, et: int, uc: int, ut: int, total: int | None = None, id: str = "x") -> Candidate:
    return attack_rate_row(
        kind="dish_batch",
        id=id,
        label=f"batch {id}",
        exposed_cases=ec,
        exposed_total=et,
        unexposed_cases=uc,
        unexposed_total=ut,
        total_cases=ec + uc if total is None else total,
    )


def scipy_fisher(ec: int, et: int, uc: int, ut: int) -> float:
    return float(fisher_exact([[ec, et - ec], [uc, ut - uc]]).pvalue)


def test_candidate_carries_exactly_the_documented_fields() -> None:
    assert [f.name for f in dataclasses.fields(Candidate)] == CANDIDATE_FIELDS
    assert list(row(3, 10, 1, 10).as_dict()) == CANDIDATE_FIELDS


@pytest.mark.parametrize(
    "counts", [(10, 75, 12, 225), (30, 40, 5, 60), (1, 3, 2, 9), (44, 110, 10, 90)]
)
def test_attack_rate_row_matches_scipy_relative_risk_katz_ci_and_fisher(counts: tuple) -> None:
    ec, et, uc, ut = counts
    result = row(ec, et, uc, ut, total=ec + uc + 4)
    expected = relative_risk(ec, et, uc, ut)
    ci = expected.confidence_interval(confidence_level=0.95)
    assert result.attack_rate_exposed == pytest.approx(ec / et)
    assert result.attack_rate_unexposed == pytest.approx(uc / ut)
    assert result.relative_risk == pytest.approx(expected.relative_risk, rel=1e-12)
    assert result.rr_ci95[0] == pytest.approx(ci.low, rel=1e-12)
    assert result.rr_ci95[1] == pytest.approx(ci.high, rel=1e-12)
    assert result.fisher_p == pytest.approx(scipy_fisher(ec, et, uc, ut), rel=1e-12)
    assert result.cases_explained == pytest.approx(ec / (ec + uc + 4))


def test_no_exposed_case_gives_zero_risk_and_no_interval() -> None:
    result = row(0, 20, 5, 30)
    assert result.relative_risk == 0.0
    assert result.rr_ci95 == (None, None)
    assert result.fisher_p == pytest.approx(scipy_fisher(0, 20, 5, 30), rel=1e-12)
    assert result.cases_explained == 0.0


def test_every_exposed_person_ill_still_has_a_katz_interval() -> None:
    result = row(20, 20, 5, 30)
    ci = relative_risk(20, 20, 5, 30).confidence_interval()
    assert result.relative_risk == pytest.approx(6.0)
    assert result.rr_ci95[0] == pytest.approx(ci.low, rel=1e-12)
    assert result.rr_ci95[1] == pytest.approx(ci.high, rel=1e-12)
    assert result.fisher_p == pytest.approx(scipy_fisher(20, 20, 5, 30), rel=1e-12)


def test_no_unexposed_case_gives_infinite_risk_rendered_as_the_string_infinity() -> None:
    result = row(8, 20, 0, 30)
    assert result.relative_risk == math.inf
    assert result.rr_ci95 == (None, None)
    assert result.fisher_p == pytest.approx(scipy_fisher(8, 20, 0, 30), rel=1e-12)
    data = result.as_dict()
    assert data["relative_risk"] == "Infinity"
    assert data["rr_ci95"] == [None, None]
    assert float(json.loads(json.dumps(data, allow_nan=False))["relative_risk"]) == math.inf


def test_every_unexposed_person_ill_matches_scipy() -> None:
    result = row(4, 20, 30, 30)
    ci = relative_risk(4, 20, 30, 30).confidence_interval()
    assert result.relative_risk == pytest.approx(0.2)
    assert result.rr_ci95[0] == pytest.approx(ci.low, rel=1e-12)
    assert result.rr_ci95[1] == pytest.approx(ci.high, rel=1e-12)


@pytest.mark.parametrize(
    ("counts", "ar_e", "ar_u"),
    [
        ((0, 20, 0, 30), 0.0, 0.0),  # nobody ill
        ((5, 40, 0, 0), 5 / 40, None),  # everybody exposed
        ((0, 0, 5, 40), None, 5 / 40),  # nobody exposed
        ((0, 0, 0, 0), None, None),  # empty cohort
    ],
)
def test_undefined_relative_risk_is_none_not_a_number(
    counts: tuple, ar_e: float | None, ar_u: float | None
) -> None:
    result = row(*counts)
    assert result.attack_rate_exposed == ar_e
    assert result.attack_rate_unexposed == ar_u
    assert result.relative_risk is None
    assert result.rr_ci95 == (None, None)
    assert result.fisher_p == scipy_fisher(*counts) == 1.0
    assert json.dumps(result.as_dict(), allow_nan=False)


def test_empty_cohort_explains_no_share_of_cases() -> None:
    assert row(0, 0, 0, 0).cases_explained is None


@pytest.mark.parametrize("counts", [(-1, 5, 0, 5), (6, 5, 0, 5), (0, 5, 6, 5)])
def test_impossible_counts_are_rejected(counts: tuple) -> None:
    with pytest.raises(InvalidCounts):
        row(*counts)


def test_more_exposed_cases_than_cases_in_cohort_is_rejected() -> None:
    with pytest.raises(InvalidCounts, match="total_cases"):
        row(5, 10, 0, 10, total=3)


@pytest.mark.parametrize("table", [(12, 5, 20, 40), (3, 9, 1, 30), (50, 40, 30, 70)])
def test_odds_ratio_matches_scipy_sample_odds_ratio_and_woolf_interval(table: tuple) -> None:
    a, b, c, d = table
    result = odds_ratio(
        exposed_cases=a, exposed_controls=b, unexposed_cases=c, unexposed_controls=d
    )
    expected = scipy_odds_ratio([[a, b], [c, d]], kind="sample")
    ci = expected.confidence_interval(confidence_level=0.95)
    assert result.odds_ratio == pytest.approx(expected.statistic, rel=1e-12)
    assert result.or_ci95[0] == pytest.approx(ci.low, rel=1e-12)
    assert result.or_ci95[1] == pytest.approx(ci.high, rel=1e-12)
    assert result.fisher_p == pytest.approx(fisher_exact([[a, b], [c, d]]).pvalue, rel=1e-12)


def test_odds_ratio_with_a_zero_cell_has_no_woolf_interval() -> None:
    infinite = odds_ratio(
        exposed_cases=5, exposed_controls=0, unexposed_cases=3, unexposed_controls=9
    )
    assert infinite.odds_ratio == math.inf
    assert infinite.or_ci95 == (None, None)
    assert infinite.as_dict()["odds_ratio"] == "Infinity"
    undefined = odds_ratio(
        exposed_cases=0, exposed_controls=0, unexposed_cases=3, unexposed_controls=9
    )
    assert undefined.odds_ratio is None
    assert json.dumps(undefined.as_dict(), allow_nan=False)


def test_rank_puts_risky_candidates_first_by_p_then_cases_explained_then_risk() -> None:
    strong = row(30, 40, 5, 160, total=40, id="strong")
    same_p_more_cases = row(30, 40, 5, 160, total=35, id="same-p-more-share")
    weaker = row(10, 40, 25, 160, total=40, id="weaker")
    infinite = row(2, 3, 0, 197, total=40, id="infinite")
    protective = row(1, 40, 34, 160, total=40, id="protective")
    undefined = row(0, 40, 0, 160, total=40, id="undefined")
    candidates = [undefined, protective, weaker, infinite, strong, same_p_more_cases]
    risky = sorted(
        [strong, same_p_more_cases, weaker, infinite],
        key=lambda c: (c.fisher_p, -(c.cases_explained or 0), -(c.relative_risk or 0)),
    )
    expected = [*risky, *sorted([protective, undefined], key=lambda c: c.fisher_p)]
    for seed in range(5):
        random.Random(seed).shuffle(candidates)
        assert [c.id for c in rank(candidates)] == [c.id for c in expected]
    assert rank(candidates)[0].id == "same-p-more-share"


def rothman_mh(strata: list[tuple[int, int, int, int]]) -> tuple[float, float, float]:
    """RR_MH and its Greenland–Robins 95 % CI, per Rothman, Modern Epidemiology (exact sums)."""
    num = sum((Fraction(a * n0, n1 + n0) for a, n1, c, n0 in strata), Fraction(0))
    den = sum((Fraction(c * n1, n1 + n0) for a, n1, c, n0 in strata), Fraction(0))
    var_num = sum(
        (
            Fraction((a + c) * n1 * n0 - a * c * (n1 + n0), (n1 + n0) ** 2)
            for a, n1, c, n0 in strata
        ),
        Fraction(0),
    )
    rr = num / den
    se = math.sqrt(var_num / (num * den))
    return (
        float(rr),
        float(rr) * math.exp(-1.959963984540054 * se),
        float(rr) * math.exp(1.959963984540054 * se),
    )


def test_mantel_haenszel_matches_rothman_hand_calculation() -> None:
    strata = [(42, 70, 6, 10), (2, 40, 4, 80), (7, 31, 3, 44)]
    rr, (low, high) = mantel_haenszel_rr(strata)
    expected = rothman_mh(strata)
    assert rr == pytest.approx(expected[0], rel=1e-12)
    assert low == pytest.approx(expected[1], rel=1e-12)
    assert high == pytest.approx(expected[2], rel=1e-12)


def test_mantel_haenszel_of_one_stratum_is_the_crude_relative_risk() -> None:
    rr, _ = mantel_haenszel_rr([(10, 75, 12, 225)])
    assert rr == pytest.approx(relative_risk(10, 75, 12, 225).relative_risk, rel=1e-12)


def test_mantel_haenszel_skips_empty_arms_and_handles_zero_cells() -> None:
    with_empty = mantel_haenszel_rr([(42, 70, 6, 10), (3, 3, 0, 0), (2, 40, 4, 80)])
    assert with_empty == mantel_haenszel_rr([(42, 70, 6, 10), (2, 40, 4, 80)])
    assert mantel_haenszel_rr([(5, 10, 0, 10), (2, 10, 0, 20)]) == (math.inf, (None, None))
    assert mantel_haenszel_rr([(0, 10, 0, 10)]) == (None, (None, None))
    assert mantel_haenszel_rr([]) == (None, (None, None))


def assert_same_candidate(got: Candidate, want: Candidate) -> None:
    for name in CANDIDATE_FIELDS:
        g, w = getattr(got, name), getattr(want, name)
        pairs = zip(g, w, strict=True) if isinstance(w, tuple) else [(g, w)]
        for gv, wv in pairs:
            if isinstance(wv, float) and math.isfinite(wv):
                assert gv == pytest.approx(wv, rel=1e-12), name
            else:
                assert gv == wv, name


def test_fast_path_gives_the_same_candidates_as_the_scalar_function() -> None:
    rng = np.random.default_rng(3)
    et = rng.integers(0, 60, 400)
    ut = rng.integers(0, 60, 400)
    ec = rng.integers(0, et + 1)
    uc = rng.integers(0, ut + 1)
    zero_cells = np.array([[0, 0, 0, 0], [5, 9, 0, 7], [0, 4, 3, 9], [5, 5, 3, 3], [0, 0, 2, 8]])
    ec, et, uc, ut = (np.concatenate([v, zero_cells[:, k]]) for k, v in enumerate((ec, et, uc, ut)))
    total = int((ec + uc).max())
    ids = [f"c{i}" for i in range(ec.size)]
    fast = attack_rate_rows_from_counts(
        kinds="ingredient_lot",
        ids=ids,
        labels=ids,
        exposed_cases=ec,
        exposed_total=et,
        unexposed_cases=uc,
        unexposed_total=ut,
        total_cases=total,
    )
    for i, got in enumerate(fast):
        want = attack_rate_row(
            kind="ingredient_lot",
            id=ids[i],
            label=ids[i],
            exposed_cases=int(ec[i]),
            exposed_total=int(et[i]),
            unexposed_cases=int(uc[i]),
            unexposed_total=int(ut[i]),
            total_cases=total,
        )
        assert_same_candidate(got, want)


def test_cohort_counts_match_a_plain_count_and_collapse_repeat_orders() -> None:
    rng = np.random.default_rng(5)
    ill = rng.random(500) < 0.1
    person = rng.integers(0, 500, 3000)
    candidate = rng.integers(0, 40, 3000)
    counts = cohort_counts(ill=ill, person=person, candidate=candidate, n_candidates=41)
    exposed = [set() for _ in range(41)]
    for p, c in zip(person.tolist(), candidate.tolist(), strict=True):
        exposed[c].add(p)
    cases = int(ill.sum())
    for c in range(41):
        ec = sum(1 for p in exposed[c] if ill[p])
        assert counts["exposed_cases"][c] == ec
        assert counts["exposed_total"][c] == len(exposed[c])
        assert counts["unexposed_cases"][c] == cases - ec
        assert counts["unexposed_total"][c] == 500 - len(exposed[c])
    assert int(counts["total_cases"]) == cases


def test_cohort_counts_reject_pairs_outside_the_cohort() -> None:
    with pytest.raises(InvalidCounts):
        cohort_counts(ill=[True, False], person=[2], candidate=[0], n_candidates=1)
