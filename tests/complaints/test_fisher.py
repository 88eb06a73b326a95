"""Fisher's exact test checked against scipy.stats.fisher_exact, scalar and vectorised."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import fisher_exact

from complaints.fisher import fisher_exact_p, fisher_exact_p_many


def scipy_p(a: int, b: int, c: int, d: int) -> float:
    return float(fisher_exact([[a, b], [c, d]]).pvalue)


cell = st.integers(min_value=0, max_value=40)


@settings(max_examples=200, deadline=None)
@given(cell, cell, cell, cell)
def test_fisher_p_matches_scipy_on_random_small_tables(a: int, b: int, c: int, d: int) -> None:
    assert fisher_exact_p(a, b, c, d) == pytest.approx(scipy_p(a, b, c, d), rel=1e-9, abs=1e-300)


def test_fisher_p_matches_scipy_on_every_table_with_cells_up_to_four() -> None:
    tables = list(itertools.product(range(5), repeat=4))
    vectorised = fisher_exact_p_many(*np.array(tables).T)
    for table, fast in zip(tables, vectorised, strict=True):
        expected = scipy_p(*table)
        assert fisher_exact_p(*table) == pytest.approx(expected, rel=1e-12)
        assert fast == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("k", range(0, 21))
def test_fisher_p_counts_mirror_image_tables_as_ties_like_scipy(k: int) -> None:
    # [[k, 20-k], [20-k, k]] and its mirror have exactly equal probability.
    table = (k, 20 - k, 20 - k, k)
    assert fisher_exact_p(*table) == pytest.approx(scipy_p(*table), rel=1e-12)
    assert fisher_exact_p_many(*([v] for v in table))[0] == pytest.approx(
        scipy_p(*table), rel=1e-12
    )


@pytest.mark.parametrize(
    "table", [(0, 0, 3, 4), (3, 4, 0, 0), (0, 5, 0, 7), (5, 0, 7, 0), (0, 0, 0, 0)]
)
def test_fisher_p_is_one_when_a_row_or_column_is_empty(table: tuple[int, ...]) -> None:
    assert fisher_exact_p(*table) == scipy_p(*table) == 1.0
    assert fisher_exact_p_many(*([v] for v in table))[0] == 1.0


def test_vectorised_fisher_equals_scalar_on_large_cohort_tables() -> None:
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 20_000, 60)
    tables = np.array([rng.multinomial(n, rng.dirichlet([1, 1, 1, 1])) for n in sizes])
    fast = fisher_exact_p_many(*tables.T)
    for table, p in zip(tables.tolist(), fast, strict=True):
        assert p == pytest.approx(fisher_exact_p(*table), rel=1e-12, abs=1e-300)
        assert p == pytest.approx(scipy_p(*table), rel=1e-8, abs=1e-300)


def test_fisher_rejects_negative_cells() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        fisher_exact_p(1, -1, 2, 3)
    with pytest.raises(ValueError, match="non-negative"):
        fisher_exact_p_many([1], [-1], [2], [3])


def test_vectorised_fisher_of_no_tables_is_empty() -> None:
    assert fisher_exact_p_many([], [], [], []).shape == (0,)
