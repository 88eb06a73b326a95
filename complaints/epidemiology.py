"""Attack-rate tables, relative risks, odds ratios and source ranking (DOMAIN.md §4).

Every 2×2 is ``exposed / unexposed × ill / not ill``. Zero cells never raise:

- ``relative_risk`` is ``inf`` when nobody unexposed fell ill but somebody exposed did; it is
  ``None`` (undefined) when both attack rates are 0 or either arm is empty.
- ``rr_ci95`` is the Katz log interval; it is ``(None, None)`` whenever that interval does
  not exist (no case in either arm, or an empty arm). No continuity correction is applied.
- ``fisher_p`` is always a number: a table with an empty row or column has p = 1.

JSON: :meth:`Candidate.as_dict` writes an infinite ratio as the string ``"Infinity"`` (the
spelling JavaScript's ``Number()`` and Python's ``float()`` both read back) and an undefined
one as ``null``; it never emits a bare NaN/Infinity token.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from complaints.fisher import fisher_exact_p, fisher_exact_p_many

__all__ = [
    "INFINITY",
    "Candidate",
    "InvalidCounts",
    "OddsRatio",
    "attack_rate_row",
    "attack_rate_rows_from_counts",
    "cohort_counts",
    "json_number",
    "mantel_haenszel_rr",
    "odds_ratio",
    "rank",
]

INFINITY = "Infinity"
# Two-sided 95 % normal quantile, the same value scipy's ndtri(0.975) gives.
Z95 = NormalDist().inv_cdf(0.975)

Interval = tuple[float | None, float | None]
IntArray = Sequence[int] | npt.NDArray[np.integer]


class InvalidCounts(ValueError):
    """Counts that cannot form a 2×2 table (negative, or more cases than people)."""


def json_number(value: float | None) -> float | str | None:
    """JSON-safe number: ``inf`` → ``"Infinity"``, ``-inf`` → ``"-Infinity"``, NaN → ``None``."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return INFINITY if value > 0 else "-" + INFINITY
    return value


@dataclass(frozen=True, slots=True)
class Candidate:
    """One row of a food-specific attack-rate table: a possible source and its 2×2."""

    kind: str
    id: str
    label: str
    exposed_cases: int
    exposed_total: int
    unexposed_cases: int
    unexposed_total: int
    attack_rate_exposed: float | None
    attack_rate_unexposed: float | None
    relative_risk: float | None
    rr_ci95: Interval
    fisher_p: float
    cases_explained: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ``rr_ci95`` as a list, infinite ratios as ``"Infinity"``."""
        out = asdict(self)
        out["relative_risk"] = json_number(self.relative_risk)
        out["rr_ci95"] = [json_number(v) for v in self.rr_ci95]
        return out


@dataclass(frozen=True, slots=True)
class OddsRatio:
    """Case-control 2×2 summary: sample odds ratio, Woolf 95 % CI, Fisher p."""

    odds_ratio: float | None
    or_ci95: Interval
    fisher_p: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict, same conventions as :meth:`Candidate.as_dict`."""
        return {
            "odds_ratio": json_number(self.odds_ratio),
            "or_ci95": [json_number(v) for v in self.or_ci95],
            "fisher_p": self.fisher_p,
        }


def _ratio(num: float, den: float) -> float | None:
    """num/den with x/0 = inf for x > 0 and 0/0 undefined."""
    if den == 0:
        return math.inf if num > 0 else None
    return num / den


def _validate(ec: int, et: int, uc: int, ut: int, total_cases: int) -> None:
    if min(ec, et, uc, ut, total_cases) < 0:
        raise InvalidCounts(f"counts must be non-negative: {(ec, et, uc, ut, total_cases)}")
    if ec > et or uc > ut:
        raise InvalidCounts(f"more cases than people in an arm: {ec}/{et}, {uc}/{ut}")
    if ec > total_cases:
        raise InvalidCounts(f"exposed_cases {ec} exceeds total_cases {total_cases}")


def _katz(ec: int, et: int, uc: int, ut: int, rr: float | None) -> Interval:
    if rr is None or ec == 0 or uc == 0:
        return (None, None)
    se = math.sqrt(1 / ec - 1 / et + 1 / uc - 1 / ut)
    return (rr * math.exp(-Z95 * se), rr * math.exp(Z95 * se))


def attack_rate_row(
    *,
    kind: str,
    id: str,
    label: str,
    exposed_cases: int,
    exposed_total: int,
    unexposed_cases: int,
    unexposed_total: int,
    total_cases: int,
) -> Candidate:
    """Attack rates, relative risk (Katz 95 % CI), Fisher p and share of cases for one candidate.

    ``total_cases`` is every case in the cohort, so ``cases_explained`` is the share of all
    cases that were exposed to this candidate (``None`` when there are no cases).
    """
    ec, et, uc, ut = exposed_cases, exposed_total, unexposed_cases, unexposed_total
    _validate(ec, et, uc, ut, total_cases)
    ar_e = ec / et if et else None
    ar_u = uc / ut if ut else None
    rr = None if ar_e is None or ar_u is None else _ratio(ar_e, ar_u)
    return Candidate(
        kind=kind,
        id=id,
        label=label,
        exposed_cases=ec,
        exposed_total=et,
        unexposed_cases=uc,
        unexposed_total=ut,
        attack_rate_exposed=ar_e,
        attack_rate_unexposed=ar_u,
        relative_risk=rr,
        rr_ci95=_katz(ec, et, uc, ut, rr),
        fisher_p=fisher_exact_p(ec, et - ec, uc, ut - uc),
        cases_explained=ec / total_cases if total_cases else None,
    )


def odds_ratio(
    *, exposed_cases: int, exposed_controls: int, unexposed_cases: int, unexposed_controls: int
) -> OddsRatio:
    """Sample odds ratio ``ad/bc`` with the Woolf (log) 95 % CI, for case-control designs.

    ``inf`` when ``bc = 0 < ad``; ``None`` when ``ad = bc = 0``; CI ``(None, None)`` when any
    cell is zero (the Woolf interval does not exist; no 0.5 correction is invented).
    """
    a, b, c, d = exposed_cases, exposed_controls, unexposed_cases, unexposed_controls
    if min(a, b, c, d) < 0:
        raise InvalidCounts(f"counts must be non-negative: {(a, b, c, d)}")
    ratio = _ratio(a * d, b * c)
    ci: Interval = (None, None)
    if ratio is not None and min(a, b, c, d) > 0:
        se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
        ci = (ratio * math.exp(-Z95 * se), ratio * math.exp(Z95 * se))
    return OddsRatio(odds_ratio=ratio, or_ci95=ci, fisher_p=fisher_exact_p(a, b, c, d))


def _rank_key(c: Candidate) -> tuple[int, float, float, float, str, str]:
    rr = c.relative_risk
    risky = rr is not None and rr > 1
    return (
        0 if risky else 1,
        c.fisher_p,
        -(c.cases_explained or 0.0),
        -(rr if rr is not None else -math.inf),
        c.kind,
        c.id,
    )


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Most likely source first.

    Candidates with a relative risk above 1 (``inf`` included) come first, the rest
    (RR ≤ 1 or undefined) after them. Within each group: Fisher p ascending, then share of
    cases explained descending, then relative risk descending, then ``kind`` and ``id`` so
    the order never depends on input order.
    """
    return sorted(candidates, key=_rank_key)


def mantel_haenszel_rr(
    strata: Sequence[tuple[int, int, int, int]],
) -> tuple[float | None, Interval]:
    """Mantel–Haenszel pooled relative risk with the Greenland–Robins 95 % CI.

    Each stratum is ``(exposed_cases, exposed_total, unexposed_cases, unexposed_total)``.
    Strata with an empty arm carry no information and drop out of both sums. The pooled RR
    is ``inf`` / ``None`` under the same rules as a crude RR; its CI is ``(None, None)``
    unless the pooled RR is finite and positive.
    """
    r_sum = s_sum = v_sum = 0.0
    for a, n1, c, n0 in strata:
        _validate(a, n1, c, n0, total_cases=a + c)
        if n1 == 0 or n0 == 0:
            continue
        n = n1 + n0
        r_sum += a * n0 / n
        s_sum += c * n1 / n
        # Greenland–Robins (1985): (m1·n1·n0 − a·c·N) / N².
        v_sum += ((a + c) * n1 * n0 - a * c * n) / n**2
    rr = _ratio(r_sum, s_sum)
    if rr is None or math.isinf(rr) or rr == 0:
        return rr, (None, None)
    var = v_sum / (r_sum * s_sum)
    if var < 0:
        return rr, (None, None)
    half = Z95 * math.sqrt(var)
    return rr, (rr * math.exp(-half), rr * math.exp(half))


def attack_rate_rows_from_counts(
    *,
    kinds: str | Sequence[str],
    ids: Sequence[str],
    labels: Sequence[str],
    exposed_cases: IntArray,
    exposed_total: IntArray,
    unexposed_cases: IntArray,
    unexposed_total: IntArray,
    total_cases: int | IntArray,
) -> list[Candidate]:
    """Vectorised :func:`attack_rate_row` over parallel sequences (or numpy arrays).

    Gives exactly the candidates the scalar function gives (Fisher p to the last few ulps).
    Measured on the shared 2-core dev machine: 10,000 candidates over a cohort of 100,000
    people (1 million exposure pairs, ~400 cases) take 0.16–0.3 s here plus 0.05–0.2 s in
    :func:`cohort_counts`.
    """
    ec, et, uc, ut = (
        np.asarray(v, dtype=np.int64).ravel()
        for v in (exposed_cases, exposed_total, unexposed_cases, unexposed_total)
    )
    size = ec.size
    tc = np.broadcast_to(np.asarray(total_cases, dtype=np.int64), (size,))
    kind_list = [kinds] * size if isinstance(kinds, str) else list(kinds)
    if not (len(kind_list) == len(ids) == len(labels) == et.size == uc.size == ut.size == size):
        raise InvalidCounts("all candidate sequences must have the same length")
    if size and (
        min(ec.min(), et.min(), uc.min(), ut.min(), tc.min()) < 0
        or (ec > et).any()
        or (uc > ut).any()
        or (ec > tc).any()
    ):
        raise InvalidCounts("counts must be non-negative and cases must not exceed people")
    p = fisher_exact_p_many(ec, et - ec, uc, ut - uc)
    with np.errstate(divide="ignore", invalid="ignore"):
        ar_e = ec / et
        ar_u = uc / ut
        rr = ar_e / ar_u
        se = np.sqrt(1 / ec - 1 / et + 1 / uc - 1 / ut)
        low, high = rr * np.exp(-Z95 * se), rr * np.exp(Z95 * se)
        explained = ec / tc
    ci_ok = (ec > 0) & (uc > 0)
    rr_ok = (et > 0) & (ut > 0) & ((ec > 0) | (uc > 0))
    rows = zip(
        kind_list,
        ids,
        labels,
        ec.tolist(),
        et.tolist(),
        uc.tolist(),
        ut.tolist(),
        np.where(et > 0, ar_e, np.nan).tolist(),
        np.where(ut > 0, ar_u, np.nan).tolist(),
        np.where(rr_ok, rr, np.nan).tolist(),
        np.where(ci_ok, low, np.nan).tolist(),
        np.where(ci_ok, high, np.nan).tolist(),
        p.tolist(),
        np.where(tc > 0, explained, np.nan).tolist(),
        strict=True,
    )
    return [
        Candidate(
            k, i, lab, a, n1, c, n0, _nan(e), _nan(u), _nan(r), (_nan(lo), _nan(hi)), fp, _nan(x)
        )
        for k, i, lab, a, n1, c, n0, e, u, r, lo, hi, fp, x in rows
    ]


def _nan(value: float) -> float | None:
    """NaN (the vectorised stand-in for "undefined") back to ``None``."""
    return None if value != value else value


def cohort_counts(
    *,
    ill: Sequence[bool] | npt.NDArray[np.bool_],
    person: IntArray,
    candidate: IntArray,
    n_candidates: int,
) -> dict[str, npt.NDArray[np.int64]]:
    """Per-candidate 2×2 counts from a cohort, ready for :func:`attack_rate_rows_from_counts`.

    ``ill[i]`` is person ``i``'s status; ``(person[k], candidate[k])`` are exposure pairs (an
    order of a batch, say). Repeated pairs count once: two orders of the same dish are one
    exposure. Returns arrays ``exposed_cases``, ``exposed_total``, ``unexposed_cases``,
    ``unexposed_total`` of length ``n_candidates`` and the scalar array ``total_cases``.
    """
    status = np.asarray(ill, dtype=bool).ravel()
    p = np.asarray(person, dtype=np.int64).ravel()
    c = np.asarray(candidate, dtype=np.int64).ravel()
    if p.shape != c.shape:
        raise InvalidCounts("person and candidate must have the same length")
    if p.size and (p.min() < 0 or p.max() >= status.size or c.min() < 0 or c.max() >= n_candidates):
        raise InvalidCounts("exposure pair refers to an unknown person or candidate")
    # One key per (candidate, person) pair so duplicates collapse.
    keys = np.sort(c * status.size + p)
    # Sort and mask rather than np.unique, which is ~30× slower on a million keys (numpy 2.4).
    pairs = keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if keys.size else keys
    pc, pp = pairs // max(status.size, 1), pairs % max(status.size, 1)
    exposed_total = np.bincount(pc, minlength=n_candidates)
    exposed_cases = np.bincount(pc, weights=status[pp], minlength=n_candidates).astype(np.int64)
    cases, people = int(status.sum()), int(status.size)
    return {
        "exposed_cases": exposed_cases,
        "exposed_total": exposed_total,
        "unexposed_cases": cases - exposed_cases,
        "unexposed_total": people - exposed_total,
        "total_cases": np.asarray(cases, dtype=np.int64),
    }
