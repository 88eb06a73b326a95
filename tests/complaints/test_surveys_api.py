"""Food-history surveys end to end: upload a questionnaire with a planted vehicle, find it
ranked first with the statistics scipy computes, stratify, dose-response, epidemic curve."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import openpyxl
import pytest
from scipy.stats import fisher_exact
from scipy.stats.contingency import relative_risk

VEHICLE, TAGALONG = "potato salad", "bread roll"
ITEMS = [VEHICLE, TAGALONG, "green tea", "fried rice", "fruit cup"]
MEAL = datetime(2026, 4, 18, 12, 0, tzinfo=UTC)  # the common lunch
MAPPING = {
    "id_column": "id",
    "ill_column": "ill",
    "item_columns": ITEMS,
    "onset_columns": ["onset"],
    "portion_columns": {VEHICLE: "salad portions"},
    "missing_values": ["", "?", "不知道"],
}


def planted(n: int = 240, seed: int = 7) -> list[dict[str, str]]:
    """Respondents of a lunch: the salad makes 70 % ill, nothing else matters; most salad
    eaters also took bread (a confounder); a few answers are unknown."""
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        ate = {item: rng.random() < 0.5 for item in ITEMS}
        ate[TAGALONG] = rng.random() < (0.85 if ate[VEHICLE] else 0.2)
        ill = rng.random() < (0.7 if ate[VEHICLE] else 0.05)
        row = {"id": f"P{k:03d}", "ill": "yes" if ill else "no"}
        for item in ITEMS:
            row[item] = "yes" if ate[item] else "no"
        row["salad portions"] = str(1 + (k % 2 if ill else 0)) if ate[VEHICLE] else ""
        # Incubation 6 to 30 h after the lunch (an S. aureus-to-C. perfringens shape).
        row["onset"] = (MEAL + timedelta(hours=6 + (k * 7) % 25)).isoformat() if ill else ""
        rows.append(row)
    for k in range(0, n, 17):  # unknown answers are missing, not "no"
        rows[k]["green tea"] = "?"
    rows[3]["ill"] = "不知道"
    return rows


def to_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def upload(client, people, data: bytes, mapping=MAPPING, name="lunch.csv", **form):
    return client.post(
        "/api/v1/surveys",
        data={"file": (io.BytesIO(data), name), "mapping": json.dumps(mapping), **form},
        headers=people.auth("desk"),
        content_type="multipart/form-data",
    )


def two_by_two(rows, item):
    known = [r for r in rows if r["ill"] in ("yes", "no") and r[item] in ("yes", "no")]
    ec = sum(r[item] == "yes" and r["ill"] == "yes" for r in known)
    et = sum(r[item] == "yes" for r in known)
    uc = sum(r[item] == "no" and r["ill"] == "yes" for r in known)
    ut = sum(r[item] == "no" for r in known)
    return ec, et, uc, ut


def test_the_planted_vehicle_is_ranked_first_with_scipys_statistics(app, client, people):
    rows = planted()
    data = to_csv(rows)
    resp = upload(client, people, data)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["n_respondents"] == len(rows) and body["n_missing_illness"] == 1
    top = body["table"][0]
    assert top["label"] == VEHICLE and top["kind"] == "survey_item"
    ec, et, uc, ut = two_by_two(rows, VEHICLE)
    assert (
        top["exposed_cases"],
        top["exposed_total"],
        top["unexposed_cases"],
        top["unexposed_total"],
    ) == (
        ec,
        et,
        uc,
        ut,
    )
    expected = relative_risk(ec, et, uc, ut)
    assert top["relative_risk"] == pytest.approx(expected.relative_risk)
    low, high = expected.confidence_interval(0.95)
    assert top["rr_ci95"] == [pytest.approx(low), pytest.approx(high)]
    assert top["fisher_p"] == pytest.approx(fisher_exact([[ec, et - ec], [uc, ut - uc]]).pvalue)
    tea = next(r for r in body["table"] if r["label"] == "green tea")
    assert tea["n_missing"] == sum(r["green tea"] == "?" and r["ill"] != "不知道" for r in rows)
    # Stored by digest and recorded; the GET gives the same table.
    digest = hashlib.sha256(data).hexdigest()
    assert body["sha256"] == digest
    stored = app.extensions["foodtrace"].settings.instance_path / "surveys" / digest
    assert stored.read_bytes() == data
    again = client.get(resp.headers["Location"], headers=people.auth("admin")).get_json()
    assert again["table"] == body["table"]


def test_stratifying_the_tagalong_by_the_vehicle_removes_its_crude_risk(client, people):
    survey = upload(client, people, to_csv(planted())).get_json()
    resp = client.post(
        f"/api/v1/surveys/{survey['id']}/stratified",
        json={"item": TAGALONG, "by": VEHICLE},
        headers=people.auth("desk"),
    )
    assert resp.status_code == 200
    result = resp.get_json()
    assert result["crude_relative_risk"] > 2  # bread looks risky on its own
    assert 0.5 < result["mh_relative_risk"] < 1.6  # not within salad strata
    assert [s["label"] for s in result["strata"]] == ["yes", "no"]
    bad = client.post(
        f"/api/v1/surveys/{survey['id']}/stratified",
        json={"item": "caviar", "by": VEHICLE},
        headers=people.auth("desk"),
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["column"] == "caviar"


def test_dose_response_and_the_epidemic_curve_with_incubation(client, people):
    rows = planted()
    survey = upload(client, people, to_csv(rows)).get_json()
    dose = client.get(
        f"/api/v1/surveys/{survey['id']}/dose-response?item={VEHICLE}", headers=people.auth("desk")
    ).get_json()
    assert [lv["portions"] for lv in dose["levels"]] == [0.0, 1.0, 2.0]
    assert dose["levels"][-1]["attack_rate"] == 1.0  # only the ill ate two portions
    curve = client.get(
        f"/api/v1/surveys/{survey['id']}/epicurve?bin_hours=6&exposure_at={quote(MEAL.isoformat())}",
        headers=people.auth("desk"),
    ).get_json()
    onsets = sorted(
        datetime.fromisoformat(r["onset"]) for r in rows if r["ill"] == "yes" and r["onset"]
    )
    hours = sorted((t - MEAL).total_seconds() / 3600 for t in onsets)
    assert curve["n_onsets"] == len(onsets) == sum(b["cases"] for b in curve["bins"])
    assert curve["incubation"]["min_hours"] == hours[0]
    assert curve["incubation"]["max_hours"] == hours[-1]
    assert curve["incubation"]["median_hours"] == pytest.approx(
        (hours[len(hours) // 2] + hours[(len(hours) - 1) // 2]) / 2
    )
    assert "c_perfringens" in {a["id"] for a in curve["likely_agents"]}
    naive = client.get(
        f"/api/v1/surveys/{survey['id']}/epicurve?exposure_at=2026-04-18T12:00:00",
        headers=people.auth("desk"),
    )
    assert naive.status_code == 422


def test_an_xlsx_questionnaire_gives_the_same_table_as_its_csv(client, people):
    rows = planted(80, seed=3)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append(list(row.values()))
    buffer = io.BytesIO()
    book.save(buffer)
    from_xlsx = upload(client, people, buffer.getvalue(), name="lunch.xlsx").get_json()
    from_csv = upload(client, people, to_csv(rows)).get_json()
    assert from_xlsx["table"] == from_csv["table"]


def test_a_bad_mapping_is_422_with_the_details(client, people):
    mapping = {**MAPPING, "item_columns": [], "shoe_size": "42"}
    resp = upload(client, people, to_csv(planted(20)), mapping=mapping)
    assert resp.status_code == 422
    details = resp.get_json()["error"]["details"]
    assert {d["column"] for d in details} >= {"item_columns", "shoe_size"}
    assert all(set(d) == {"row", "column", "reason"} for d in details)


def test_bad_answers_are_422_naming_row_and_column_and_nothing_is_stored(app, client, people):
    rows = planted(20)
    rows[4]["fried rice"] = "maybe"
    resp = upload(client, people, to_csv(rows))
    assert resp.status_code == 422
    detail = resp.get_json()["error"]["details"][0]
    assert (detail["row"], detail["column"]) == (6, "fried rice")  # header is row 1
    folder = app.extensions["foodtrace"].settings.instance_path / "surveys"
    assert not folder.exists() or not any(folder.iterdir())


@pytest.mark.parametrize(
    ("data", "name"),
    [(b"\x00\x01binary", "lunch.pdf"), (b"", "empty.csv"), (b"PK\x03\x04junk", "x.xlsx")],
)
def test_unreadable_files_are_422(client, people, data, name):
    assert upload(client, people, data, name=name).status_code == 422


def test_a_missing_mapping_or_unknown_case_is_refused(client, people):
    resp = client.post(
        "/api/v1/surveys",
        data={"file": (io.BytesIO(to_csv(planted(10))), "x.csv")},
        headers=people.auth("desk"),
        content_type="multipart/form-data",
    )
    assert resp.status_code == 422
    assert upload(client, people, to_csv(planted(10)), case_id="999").status_code == 404


def test_surveys_are_for_the_desk_and_admins_only(client, people):
    survey = upload(client, people, to_csv(planted(10))).get_json()
    for who in ("merchant", "student", "courier"):
        assert (
            client.get(f"/api/v1/surveys/{survey['id']}", headers=people.auth(who)).status_code
            == 403
        )
    assert client.get("/api/v1/surveys/999", headers=people.auth("desk")).status_code == 404
