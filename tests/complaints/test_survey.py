"""Questionnaire analysis on a planted outbreak: vehicle, confounder, missing answers, doses."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from scipy.stats import chi2 as chi2_dist
from scipy.stats import fisher_exact, pearsonr
from scipy.stats.contingency import relative_risk

from complaints.survey import (
    SurveyError,
    SurveyMapping,
    dose_response,
    epidemic_curve,
    read_survey,
    stratified,
    survey_onsets,
    survey_summary,
    survey_table,
)
from tests.complaints.test_epidemiology import rothman_mh

SALAD, BREAD, WATER = "chicken salad", "bread roll", "water"
# (ate salad, ate bread, respondents, ill): salad is the vehicle (AR 60 % with or without
# bread, 5 % without salad); bread is eaten mostly with the salad, so it looks risky crude.
GROUPS = [("yes", "yes", 70, 42), ("yes", "no", 10, 6), ("no", "yes", 40, 2), ("no", "no", 80, 4)]
MAPPING = SurveyMapping.from_dict(
    {
        "id_column": "respondent",
        "ill_column": "ill",
        "item_columns": [SALAD, BREAD, WATER],
        "portion_columns": {SALAD: "salad portions"},
        "onset_columns": ["onset"],
    }
)
FIRST_ONSET = datetime(2025, 5, 12, 12, tzinfo=UTC)


def planted_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []

    def add(ill: str, salad: str, bread: str, portions: str = "", onset: str = "") -> None:
        k = len(rows)
        rows.append(
            {
                "respondent": f"R{k:03d}",
                "ill": ill,
                SALAD: salad,
                BREAD: bread,
                WATER: "yes" if k % 2 else "no",
                "salad portions": portions,
                "sex": "F" if k % 3 else "M",
                "onset": onset,
            }
        )

    for salad, bread, people, ill in GROUPS:
        for i in range(people):
            sick = i < ill
            # The sick ate more salad: a dose-response to find.
            portions = str(1 + (i % 3 if sick else i % 4 // 2)) if salad == "yes" else ""
            onset = (FIRST_ONSET + timedelta(hours=(i * 5) % 40)).isoformat() if sick else ""
            add("是" if sick else "否", salad, bread, portions, onset)
    for _ in range(3):  # illness unknown: out of every table, counted in the summary
        add("不知道", "yes", "yes", "1")
    for k in range(6):  # bread unknown: out of bread's 2×2 only
        add("yes" if k < 3 else "no", "no", "?")
    add("y", "yes", "no", "")  # ate salad, portions not given: out of the dose-response
    return rows


def as_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


@pytest.fixture(scope="module")
def survey() -> pd.DataFrame:
    return read_survey(io.BytesIO(as_csv(planted_rows())), "outbreak.csv")


def ill_of(row: dict[str, str]) -> bool | None:
    return {"是": True, "yes": True, "y": True, "否": False, "no": False}.get(row["ill"])


def two_by_two(rows: list[dict[str, str]], item: str) -> tuple[int, int, int, int]:
    known = [r for r in rows if ill_of(r) is not None and r[item] in ("yes", "no")]
    exposed = [r for r in known if r[item] == "yes"]
    unexposed = [r for r in known if r[item] == "no"]
    return (
        sum(1 for r in exposed if ill_of(r)),
        len(exposed),
        sum(1 for r in unexposed if ill_of(r)),
        len(unexposed),
    )


def test_survey_table_matches_independent_counts_and_scipy(survey: pd.DataFrame) -> None:
    rows = planted_rows()
    total_cases = sum(1 for r in rows if ill_of(r))
    table = {t["id"]: t for t in survey_table(survey, MAPPING)}
    for item in (SALAD, BREAD, WATER):
        ec, et, uc, ut = two_by_two(rows, item)
        got = table[item]
        assert (got["exposed_cases"], got["exposed_total"]) == (ec, et)
        assert (got["unexposed_cases"], got["unexposed_total"]) == (uc, ut)
        expected = relative_risk(ec, et, uc, ut)
        ci = expected.confidence_interval()
        assert got["relative_risk"] == pytest.approx(expected.relative_risk, rel=1e-12)
        assert got["rr_ci95"] == [
            pytest.approx(ci.low, rel=1e-12),
            pytest.approx(ci.high, rel=1e-12),
        ]
        p = fisher_exact([[ec, et - ec], [uc, ut - uc]]).pvalue
        assert got["fisher_p"] == pytest.approx(p, rel=1e-9)
        assert got["cases_explained"] == pytest.approx(ec / total_cases)
        assert (got["kind"], got["label"]) == ("survey_item", item)


def test_the_vehicle_ranks_first_and_the_table_is_json_safe(survey: pd.DataFrame) -> None:
    table = survey_table(survey, MAPPING)
    assert [t["id"] for t in table][:2] == [SALAD, BREAD]
    assert json.loads(json.dumps(table, allow_nan=False)) == table


def test_missing_answers_are_missing_not_no(survey: pd.DataFrame) -> None:
    rows = planted_rows()
    known = [r for r in rows if ill_of(r) is not None]
    table = {t["id"]: t for t in survey_table(survey, MAPPING)}
    assert table[BREAD]["n_missing"] == sum(1 for r in known if r[BREAD] == "?") == 6
    assert table[SALAD]["n_missing"] == 0
    answered = table[BREAD]["exposed_total"] + table[BREAD]["unexposed_total"]
    assert answered == len(known) - 6
    assert survey_summary(survey, MAPPING) == {
        "respondents": len(rows),
        "ill": sum(1 for r in rows if ill_of(r)),
        "not_ill": sum(1 for r in rows if ill_of(r) is False),
        "illness_missing": 3,
    }


def test_mantel_haenszel_separates_the_vehicle_from_the_co_eaten_item(survey: pd.DataFrame) -> None:
    rows = planted_rows()

    def strata(item: str, by: str) -> list[tuple[int, int, int, int]]:
        return [two_by_two([r for r in rows if r[by] == v], item) for v in ("yes", "no")]

    bread = stratified(survey, MAPPING, BREAD, SALAD)
    salad = stratified(survey, MAPPING, SALAD, BREAD)
    for result, expected in (
        (bread, rothman_mh(strata(BREAD, SALAD))),
        (salad, rothman_mh(strata(SALAD, BREAD))),
    ):
        assert result["mh_relative_risk"] == pytest.approx(expected[0], rel=1e-12)
        assert result["mh_ci95"] == [
            pytest.approx(expected[1], rel=1e-12),
            pytest.approx(expected[2], rel=1e-12),
        ]
    # Crude, bread looks like a source; within salad strata it carries no risk at all.
    assert bread["crude_ci95"][0] > 1
    assert bread["mh_ci95"][0] < 1 < bread["mh_ci95"][1]
    assert salad["mh_ci95"][0] > 1
    assert [s["label"] for s in bread["strata"]] == ["yes", "no"]
    assert [s["id"] for s in bread["strata"]] == [f"{SALAD}=yes", f"{SALAD}=no"]


def test_stratifying_by_a_plain_column_uses_its_distinct_answers(survey: pd.DataFrame) -> None:
    rows = planted_rows()
    result = stratified(survey, MAPPING, SALAD, "sex")
    strata = [two_by_two([r for r in rows if r["sex"] == v], SALAD) for v in ("F", "M")]
    assert [s["label"] for s in result["strata"]] == ["F", "M"]
    assert result["mh_relative_risk"] == pytest.approx(rothman_mh(strata)[0], rel=1e-12)


def test_stratified_rejects_unknown_items_and_columns(survey: pd.DataFrame) -> None:
    with pytest.raises(SurveyError) as exc:
        stratified(survey, MAPPING, "sex", SALAD)
    assert exc.value.details[0]["column"] == "sex"
    with pytest.raises(SurveyError) as exc:
        stratified(survey, MAPPING, SALAD, "shoe size")
    assert exc.value.details == [
        {"row": 1, "column": "shoe size", "reason": "column not found in the file"}
    ]


def expected_doses(rows: list[dict[str, str]]) -> list[tuple[float, bool]]:
    people = []
    for r in rows:
        if ill_of(r) is None:
            continue
        if r["salad portions"]:
            people.append((float(r["salad portions"]), bool(ill_of(r))))
        elif r[SALAD] == "no":
            people.append((0.0, bool(ill_of(r))))
    return people


def test_dose_response_levels_and_trend_test_match_an_individual_level_correlation(
    survey: pd.DataFrame,
) -> None:
    people = expected_doses(planted_rows())
    result = dose_response(survey, MAPPING, SALAD)
    levels = sorted({x for x, _ in people})
    assert result["levels"] == [
        {
            "portions": x,
            "ill": sum(1 for p, s in people if p == x and s),
            "total": sum(1 for p, _ in people if p == x),
            "attack_rate": pytest.approx(
                sum(1 for p, s in people if p == x and s) / sum(1 for p, _ in people if p == x)
            ),
        }
        for x in levels
    ]
    # Cochran–Armitage chi-square equals N·r² of portions against illness.
    r = pearsonr([x for x, _ in people], [float(s) for _, s in people]).statistic
    expected_chi2 = len(people) * r * r
    assert result["trend_chi2"] == pytest.approx(expected_chi2, rel=1e-9)
    assert result["trend_p"] == pytest.approx(chi2_dist.sf(expected_chi2, 1), rel=1e-6)


def test_dose_response_needs_a_portion_column(survey: pd.DataFrame) -> None:
    with pytest.raises(SurveyError) as exc:
        dose_response(survey, MAPPING, BREAD)
    assert exc.value.details[0]["column"] == BREAD


def test_epidemic_curve_of_survey_onsets_counts_every_ill_respondent_with_an_onset(
    survey: pd.DataFrame,
) -> None:
    onsets = [
        datetime.fromisoformat(r["onset"]) for r in planted_rows() if r["onset"] and ill_of(r)
    ]
    got = survey_onsets(survey, MAPPING)
    assert sorted(got) == sorted(onsets)
    curve = epidemic_curve(got, bin_hours=6)
    assert sum(b["cases"] for b in curve) == len(onsets)
    for b in curve:
        assert b["cases"] == sum(1 for t in onsets if b["start"] <= t < b["end"])


def test_survey_with_every_answer_unknown_gives_undefined_rows_not_errors() -> None:
    df = pd.DataFrame({"respondent": ["a", "b"], "ill": ["yes", "no"], "chicken salad": ["?", ""]})
    mapping = SurveyMapping.from_dict(
        {"id_column": "respondent", "ill_column": "ill", "item_columns": [SALAD]}
    )
    (row,) = survey_table(df, mapping)
    expected: dict[str, Any] = {
        "exposed_total": 0,
        "unexposed_total": 0,
        "relative_risk": None,
        "n_missing": 2,
    }
    assert {k: row[k] for k in expected} == expected
    assert row["fisher_p"] == 1.0
