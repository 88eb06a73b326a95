"""Trace-back on the case, ranking, clusters, affected customers, notices and holds through
the API and the pages, as the desk uses them."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from accounts import passwords
from app import engine_of
from complaints.models import Message, Notice
from tests.complaints.conftest import signed_in
from tests.complaints.world import NOW, build_world, planted_outbreak
from trace.models import DishBatch, IngredientLot

passwords.use_cheap_parameters_for_tests()


@pytest.fixture
def world(app, people):
    with Session(engine_of(app), expire_on_commit=False) as s:
        w = build_world(s)
        planted_outbreak(s, w)
    return w


def open_for(client, people, order_id, k):
    body = {
        "category": "illness",
        "description": f"Diarrhoea after the salad {k}",
        "order_ids": [order_id],
        "onset_at": (NOW - timedelta(hours=8)).isoformat(),
        "symptoms": ["diarrhoea"],
        "channel": "phone",
        "complainant": {"name": f"Caller {k}", "phone": f"139000000{k:02d}"},
    }
    resp = client.post("/api/v1/cases", json=body, headers=people.auth("desk"))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def test_a_case_shows_its_trace_back_and_cold_chain_within_a_second(client, people, world):
    case_id = open_for(client, people, world.orders["ill"][3], 1)  # merchant B's salad
    started = time.perf_counter()
    doc = client.get(f"/api/v1/cases/{case_id}", headers=people.auth("desk")).get_json()
    assert time.perf_counter() - started < 1.0
    [order] = doc["traceback"]["orders"]
    assert order["known"] and order["merchant_id"] == world.merchants[1]
    kinds = {(n["kind"], n["id"]) for n in order["lines"][0]["upstream"]}
    assert ("batch", world.salad_batches[1]) in kinds
    assert ("lot", world.lettuce_lot) in kinds  # received by merchant A, shipped to B
    assert ("supplier", world.lettuce_supplier) in kinds
    assert order["cold_chain"]["verdict"] is None
    assert order["cold_chain"]["reason"] == "not_watched"  # delivered, no sensor watch
    assert [n["id"] for n in doc["traceback"]["lot"]] == sorted(
        [
            world.lettuce_lot,
            *[n["id"] for n in doc["traceback"]["lot"] if n["id"] != world.lettuce_lot],
        ]
    )
    # A merchant's view of the same case carries no trace-back (pseudonymous view only).
    other = client.get(f"/api/v1/cases/{case_id}", headers=people.auth("merchant"))
    assert other.status_code == 404 or "traceback" not in other.get_json()


def test_an_unknown_order_is_listed_as_unknown(client, people, world):
    case_id = open_for(client, people, 987654, 2)
    doc = client.get(f"/api/v1/cases/{case_id}", headers=people.auth("desk")).get_json()
    assert doc["traceback"]["orders"] == [{"order_id": 987654, "known": False}]


def test_ranking_api_puts_the_lot_first_and_is_documented(client, people, world):
    ids = [open_for(client, people, o, k) for k, o in enumerate(world.orders["ill"])]
    resp = client.post(
        "/api/v1/investigations", json={"case_ids": ids}, headers=people.auth("desk")
    )
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    assert doc["candidates"][0]["kind"] == "lot"
    assert doc["candidates"][0]["id"] == str(world.lettuce_lot)
    assert doc["candidates"][0]["relative_risk"] == "Infinity"
    assert doc["cohort"]["case_orders"] == 9
    bad = client.post("/api/v1/investigations", json={"case_ids": [ids[0]], "pathogen": "x"},
                      headers=people.auth("desk"))  # fmt: skip
    assert bad.status_code == 422 and "pathogen" in str(bad.get_json())
    assert client.post("/api/v1/investigations", json={"case_ids": ids},
                       headers=people.auth("student")).status_code == 403  # fmt: skip
    spec = client.get("/api/v1/openapi.json").get_json()
    op = spec["paths"]["/api/v1/investigations"]["post"]
    schema = str(op["responses"]["200"])
    assert "InvestigationOut" in schema
    fields = spec["components"]["schemas"]["CandidateOut"]["properties"]
    assert set(fields) == {
        "kind", "id", "label", "exposed_cases", "exposed_total", "unexposed_cases",
        "unexposed_total", "attack_rate_exposed", "attack_rate_unexposed", "relative_risk",
        "rr_ci95", "fisher_p", "cases_explained",
    }  # fmt: skip


def test_the_cluster_alert_reaches_the_desk(client, people, world, app):
    a = open_for(client, people, world.orders["ill"][0], 1)
    b = open_for(client, people, world.orders["ill"][6], 2)  # merchant C, same lot
    listing = client.get("/api/v1/clusters", headers=people.auth("desk")).get_json()
    [cluster] = listing["clusters"]
    assert cluster["alerted_at"] is not None and cluster["cases"] == 2
    detail = client.get(f"/api/v1/clusters/{cluster['id']}", headers=people.auth("desk")).get_json()
    assert {c["id"] for c in detail["cases"]} == {a, b}
    page, _csrf = signed_in(app, people.users["desk"])
    html = page.get("/complaints/").data.decode()
    assert 'data-testid="cluster-alert"' in html and f"/complaints/clusters/{cluster['id']}" in html
    assert "Outbreak alert" in page.get(f"/complaints/clusters/{cluster['id']}").data.decode()


def test_notices_reach_every_exposed_order_once_and_the_survey_answers(client, people, world, app):
    case_id = open_for(client, people, world.orders["ill"][0], 1)
    report = {
        "category": "illness",
        "description": "Sick after the salad",
        "order_ids": [world.orders["ill"][1]],
        "onset_at": (NOW - timedelta(hours=7)).isoformat(),
        "symptoms": ["diarrhoea"],
    }
    reported = client.post("/api/v1/cases", json=report, headers=people.auth("student")).get_json()
    affected = client.get(f"/api/v1/affected?kind=lot&id={world.lettuce_lot}",
                          headers=people.auth("desk")).get_json()  # fmt: skip
    assert len(affected["orders"]) == 12 and affected["customers"] == 12
    url = f"/api/v1/cases/{case_id}/notices"
    first = client.post(
        url, json={"kind": "lot", "id": world.lettuce_lot}, headers=people.auth("desk")
    )
    assert first.get_json() == {"sent": 12, "already_notified": 0, "affected": 12}
    again = client.post(
        url, json={"kind": "lot", "id": world.lettuce_lot}, headers=people.auth("desk")
    )
    assert again.get_json() == {"sent": 0, "already_notified": 12, "affected": 12}
    with Session(engine_of(app)) as s:
        notices = s.exec(select(Notice)).all()
        assert len({n.order_id for n in notices}) == len(notices) == 12
        kinds = s.exec(select(Message.channel).where(Message.kind == "exposure_notice")).all()
        assert sorted(kinds) == ["email"] * 12 + ["in_app"] * 12
        token, owner = notices[0].token, notices[0].user_id
    # The complainant does not see the notices sent to others on their case.
    from accounts.models import User

    with Session(engine_of(app), expire_on_commit=False) as s:
        student = s.get(User, owner)
    page, csrf = signed_in(app, student)
    # The reporting student's own case shows their acknowledgement, not the notices the desk
    # sent to other customers from that case.
    source = {"kind": "lot", "id": world.lettuce_lot}
    client.post(f"/api/v1/cases/{reported['id']}/notices", json=source, headers=people.auth("desk"))
    own = client.get(f"/api/v1/cases/{reported['id']}", headers=people.auth("student")).get_json()
    assert [m["kind"] for m in own["messages"]] == ["acknowledgement"]
    assert "Symptom survey" in page.get("/complaints/notices").data.decode()
    onset = (NOW - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    form = {"csrf_token": csrf, "ill": "yes", "onset_at": onset, "symptoms": ["diarrhoea"]}
    resp = page.post(f"/complaints/notices/{token}", data=form)
    assert resp.status_code == 303
    with Session(engine_of(app)) as s:
        answered = s.exec(select(Notice).where(Notice.token == token)).one()
        assert answered.answer_ill is True and answered.answer_symptoms == ["diarrhoea"]
    other, _csrf2 = signed_in(app, people.users["student2"])
    assert other.get(f"/complaints/notices/{token}").status_code == 404


def test_holding_the_lot_holds_every_batch_made_from_it(client, people, world, app):
    resp = client.post("/api/v1/holds", json={"kind": "lot", "id": world.lettuce_lot,
                       "reason": "suspected Salmonella"}, headers=people.auth("desk"))  # fmt: skip
    assert resp.status_code == 200, resp.get_json()
    held = {(h["kind"], h["id"]) for h in resp.get_json()["held"]}
    assert held == {("lot", world.lettuce_lot), *(("batch", b) for b in world.salad_batches)}
    with Session(engine_of(app)) as s:
        assert s.get(IngredientLot, world.lettuce_lot).status == "on_hold"
        assert {s.get(DishBatch, b).status for b in world.salad_batches} == {"on_hold"}
        assert {s.get(DishBatch, b).status for b in world.other_batches} == {"active"}
    again = client.post("/api/v1/holds", json={"kind": "lot", "id": world.lettuce_lot,
                        "reason": "again"}, headers=people.auth("desk"))  # fmt: skip
    assert again.get_json() == {"held": []}


def test_the_desk_pages_show_trace_ranking_and_affected(client, people, world, app):
    case_id = open_for(client, people, world.orders["ill"][0], 1)
    page, csrf = signed_in(app, people.users["desk"])
    html = page.get(f"/complaints/cases/{case_id}").data.decode()
    assert f'data-node="lot-{world.lettuce_lot}"' in html
    ranking = page.get(f"/complaints/investigate?case_ids={case_id}").data.decode()
    assert 'data-testid="ranking-table"' in ranking
    aff = page.get(f"/complaints/affected?kind=lot&id={world.lettuce_lot}&case_id={case_id}")
    assert aff.status_code == 200 and "12 orders" in aff.data.decode()
    form = {"csrf_token": csrf, "kind": "lot", "id": world.lettuce_lot, "case_id": case_id}
    sent = page.post("/complaints/affected/notices", data=form)
    assert sent.status_code == 303
    assert "12 notices sent" in page.get(sent.headers["Location"]).data.decode()
