"""Fisher's exact test (two-sided) for 2×2 tables, scalar and vectorised.

The table is ``[[a, b], [c, d]]``: rows exposed / unexposed, columns ill / not ill. Under the
null hypothesis ``a`` is hypergeometric with ``N = a+b+c+d`` items, ``n1 = a+b`` marked and
``m = a+c`` drawn. The two-sided p-value is the total probability of the tables no more likely
than the observed one, exactly as ``scipy.stats.fisher_exact`` defines it:

- a table is "no more likely" when ``p(x) <= p(a) * (1 + 1e-14)`` (scipy's relative tolerance);
- when ``p(a)`` ties the mode within that tolerance the p-value is 1;
- a table with an empty row or column has p = 1 (only one table has those margins).

Probabilities are computed in log space from the ratio recurrence
``p(x+1)/p(x) = (n1-x)(m-x) / ((x+1)(n2-m+x+1))`` and normalised by their sum, so no
factorial of a large cohort is ever formed. Where a comparison with ``p(a)`` falls inside the
floating-point noise band the decision is made with exact integer binomials instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["fisher_exact_p", "fisher_exact_p_many"]

# scipy.stats.fisher_exact counts p(x) <= p_obs * (1 + 1e-14) as "as extreme".
_TIE_NUM = 10**14 + 1
_TIE_DEN = 10**14
_LOG_GAMMA = math.log1p(1e-14)
# Log-probabilities closer than this to the observed one are re-decided with exact integers.
_NOISE_BAND = 1e-7
# Upper bound on padded grid cells per vectorised chunk (about 32 MB of float64).
_CHUNK_CELLS = 4_000_000


def _check(a: int, b: int, c: int, d: int) -> None:
    if min(a, b, c, d) < 0:
        raise ValueError(f"2×2 table cells must be non-negative, got {[a, b, c, d]}")


def _weight(n1: int, n2: int, m: int, x: int) -> int:
    """Unnormalised exact hypergeometric weight C(n1, x)·C(n2, m−x)."""
    return math.comb(n1, x) * math.comb(n2, m - x)


def _at_most_tied(n1: int, n2: int, m: int, x: int, a: int) -> bool:
    """Exact ``p(x) <= p(a) * (1 + 1e-14)`` with integers, for the noise band only."""
    return _weight(n1, n2, m, x) * _TIE_DEN <= _weight(n1, n2, m, a) * _TIE_NUM


def _ties_mode(n1: int, n2: int, m: int, a: int, mode: int) -> bool:
    """Exact ``|p(a) − p(mode)| / p(mode) <= 1e-14`` (p(mode) is the maximum)."""
    w_mode, w_a = _weight(n1, n2, m, mode), _weight(n1, n2, m, a)
    return (w_mode - w_a) * _TIE_DEN <= w_mode


def _log_weights(n1: int, n2: int, m: int, lo: int, hi: int) -> list[float]:
    """Log of p(x)/p(lo) for x in [lo, hi], by the ratio recurrence."""
    out = [0.0]
    acc = 0.0
    for x in range(lo, hi):
        acc += math.log((n1 - x) * (m - x)) - math.log((x + 1) * (n2 - m + x + 1))
        out.append(acc)
    return out


def fisher_exact_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact p-value of ``[[a, b], [c, d]]``, matching scipy.stats.fisher_exact."""
    _check(a, b, c, d)
    n1, n2, m = a + b, c + d, a + c
    if 0 in (n1, n2, m, b + d):
        return 1.0
    lo, hi = max(0, m - n2), min(n1, m)
    lw = _log_weights(n1, n2, m, lo, hi)
    ref = lw[a - lo]
    mode = (m + 1) * (n1 + 1) // (n1 + n2 + 2)
    # scipy's first rule: an observed table as likely as the mode is not evidence at all.
    if abs(lw[mode - lo] - ref) < _NOISE_BAND and _ties_mode(n1, n2, m, a, mode):
        return 1.0
    top = max(lw)
    total = math.fsum(math.exp(v - top) for v in lw)
    kept = []
    for i, v in enumerate(lw):
        delta = v - ref
        x = lo + i
        if (
            delta <= -_NOISE_BAND
            or x == a
            or (delta < _NOISE_BAND and _at_most_tied(n1, n2, m, x, a))
        ):
            kept.append(math.exp(v - top))
    return min(1.0, math.fsum(kept) / total)


def fisher_exact_p_many(
    a: Sequence[int] | npt.NDArray[np.integer],
    b: Sequence[int] | npt.NDArray[np.integer],
    c: Sequence[int] | npt.NDArray[np.integer],
    d: Sequence[int] | npt.NDArray[np.integer],
) -> npt.NDArray[np.float64]:
    """Vectorised :func:`fisher_exact_p` over parallel arrays of cells; identical results.

    Rows are processed in chunks of a padded (row × support) grid; rows whose comparison with
    the observed table lands in the floating-point noise band are recomputed with the exact
    scalar path, so ties are decided exactly as in the scalar function.
    """
    aa, bb, cc, dd = (np.asarray(v, dtype=np.int64).ravel() for v in (a, b, c, d))
    if not (aa.shape == bb.shape == cc.shape == dd.shape):
        raise ValueError("a, b, c and d must have the same length")
    if aa.size and min(aa.min(), bb.min(), cc.min(), dd.min()) < 0:
        raise ValueError("2×2 table cells must be non-negative")
    n1, n2, m = aa + bb, cc + dd, aa + cc
    out = np.ones(aa.size, dtype=np.float64)
    live = (n1 > 0) & (n2 > 0) & (m > 0) & (bb + dd > 0)
    lo = np.maximum(0, m - n2)
    width = np.minimum(n1, m) - lo + 1
    order = np.flatnonzero(live)
    order = order[np.argsort(width[order], kind="stable")]
    start = 0
    while start < order.size:
        # Rows are sorted by support width, so the chunk's last row is its widest; a chunk
        # ends before padding could double its work or its grid outgrow the memory cap.
        stop, first = start + 1, width[order[start]]
        while (
            stop < order.size
            and width[order[stop]] <= 2 * first + 16
            and (stop - start + 1) * width[order[stop]] <= _CHUNK_CELLS
        ):
            stop += 1
        rows = order[start:stop]
        out[rows], redo = _chunk(aa[rows], n1[rows], n2[rows], m[rows], lo[rows], width[rows])
        for r in rows[redo]:
            out[r] = fisher_exact_p(int(aa[r]), int(bb[r]), int(cc[r]), int(dd[r]))
        start = stop
    return out


def _chunk(
    a: npt.NDArray[np.int64],
    n1: npt.NDArray[np.int64],
    n2: npt.NDArray[np.int64],
    m: npt.NDArray[np.int64],
    lo: npt.NDArray[np.int64],
    width: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """p-values of one chunk and a mask of rows needing the exact tie decision."""
    steps = np.arange(int(width.max()), dtype=np.int64)
    x = lo[:, None] + steps[None, :]
    valid = steps[None, :] < width[:, None]
    # Ratio p(x+1)/p(x) for x = lo .. lo+width-2; padding cells get log ratio 0.
    step_ok = steps[None, :-1] < (width[:, None] - 1)
    xs = x[:, :-1]
    # Float products: int64 would overflow for cohorts beyond ~3·10^9.
    fx = xs.astype(np.float64)
    num = np.where(step_ok, (n1[:, None] - fx) * (m[:, None] - fx), 1.0)
    den = np.where(step_ok, (fx + 1) * (n2[:, None] - m[:, None] + fx + 1), 1.0)
    log_ratio = np.log(num) - np.log(den)
    lw = np.concatenate([np.zeros((a.size, 1)), np.cumsum(log_ratio, axis=1)], axis=1)
    lw = np.where(valid, lw, -np.inf)
    ref = np.take_along_axis(lw, (a - lo)[:, None], axis=1)
    top = lw.max(axis=1, keepdims=True)
    weights = np.exp(lw - top)
    delta = lw - ref
    kept = valid & (delta <= _LOG_GAMMA)
    noisy = valid & (np.abs(delta) < _NOISE_BAND) & (x != a[:, None])
    p = np.minimum(1.0, (weights * kept).sum(axis=1) / weights.sum(axis=1))
    return p, noisy.any(axis=1)
