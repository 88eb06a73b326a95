"""The cases API end to end: intake (and its 4xx answers), idempotency, lists, workflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.complaints.conftest import desk_case, recent


def post(client, people, body, who="desk", **headers):
    return client.post("/api/v1/cases", json=body, headers={**people.auth(who), **headers})


def error_fields(resp) -> set[str]:
    return {d["field"] for d in resp.get_json()["error"]["details"] or []}


def test_the_desk_opens_a_case_and_reads_it_back(client, people):
    resp = post(client, people, desk_case())
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["number"].startswith("FT-") and body["status"] == "new"
    assert body["severity"] == "high" and body["next_statuses"] == ["acknowledged"]
    assert resp.headers["Location"] == f"/api/v1/cases/{body['id']}"
    assert [t["target"] for t in body["sla"]["targets"]] == [
        "first_response",
        "investigation_report",
        "closure",
    ]
    assert body["events"][0]["kind"] == "opened"
    again = client.get(resp.headers["Location"], headers=people.auth("admin")).get_json()
    assert again["number"] == body["number"]


def test_a_student_reports_with_the_minimal_body_for_themselves(client, people):
    body = {
        "category": "illness",
        "description": "Stomach cramps",
        "order_ids": [3],
        "onset_at": recent(),
        "symptoms": ["cramps"],
    }
    resp = post(client, people, body, who="student")
    assert resp.status_code == 201, resp.get_json()
    case = resp.get_json()
    assert case["complainant"]["user_id"] == people.id("student")
    assert case["channel"] == "app"
    assert "severity" not in case  # desk internals are not shown to the complainant
    assert [m["kind"] for m in case["messages"]] == ["acknowledgement"]
    assert case["number"] in case["messages"][0]["text"]


def test_a_student_cannot_report_for_someone_else(client, people):
    body = {"category": "other", "description": "x", "complainant": {"user_id": 1}}
    resp = post(client, people, body, who="student")
    assert resp.status_code == 422 and "complainant" in error_fields(resp)


BAD_INPUTS = [
    ({"onset_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}, "onset_at"),
    ({"onset_at": "2026-05-04T10:00:00"}, "onset_at"),
    ({"symptoms": ["vomiting", "sneezing"]}, "symptoms.1"),
    ({"n_ill": -1}, "n_ill"),
    ({"n_party": 2, "n_ill": 3}, "n_ill"),
    ({"n_party": 2, "n_exposed": 5}, "n_exposed"),
    ({"category": "weird"}, "category"),
    ({"description": ""}, "description"),
    ({"order_ids": [0]}, "order_ids.0"),
    ({"order_ids": "12"}, "order_ids"),
    ({"medical_care": "shaman"}, "medical_care"),
    ({"complainant": {"name": "Li"}}, "complainant.phone"),
    ({"consent": {"share_with_merchant": "maybe"}}, "consent.share_with_merchant"),
    ({"favourite_colour": "red"}, "favourite_colour"),
    ({"ill_persons": [{"age_band": "old"}]}, "ill_persons.0.age_band"),
]


def test_bad_input_is_a_422_naming_the_field(client, people):
    for changes, field in BAD_INPUTS:
        resp = post(client, people, desk_case(**changes))
        assert resp.status_code == 422, changes
        fields = error_fields(resp)
        assert any(f == field or f.startswith(field + ".") for f in fields), (changes, fields)
    assert client.get("/api/v1/cases", headers=people.auth("desk")).get_json()["total"] == 0


def test_a_body_that_is_not_json_is_a_400(client, people):
    resp = client.post(
        "/api/v1/cases",
        data="{oops",
        headers={**people.auth("desk"), "Content-Type": "application/json"},
    )
    assert resp.status_code == 400


def test_a_retried_post_with_the_same_idempotency_key_returns_the_first_case(client, people):
    body = desk_case()
    first = post(client, people, body, **{"Idempotency-Key": "phone-call-17"})
    second = post(client, people, body, **{"Idempotency-Key": "phone-call-17"})
    assert first.status_code == 201 and second.status_code == 200
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json()["id"] == first.get_json()["id"]
    listed = client.get("/api/v1/cases", headers=people.auth("desk")).get_json()
    assert listed["total"] == 1
    other = post(
        client, people, desk_case(description="Another"), **{"Idempotency-Key": "phone-call-17"}
    )
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"


def test_lists_filter_and_paginate_with_a_total(app, client, people, open_case):
    for i in range(5):
        open_case(merchant_id=1 if i % 2 else 2, category="illness" if i < 3 else "spoiled")
    page = client.get("/api/v1/cases?per_page=2&page=2", headers=people.auth("desk")).get_json()
    assert (page["total"], page["page"], page["per_page"], page["pages"]) == (5, 2, 2, 3)
    assert len(page["cases"]) == 2
    spoiled = client.get("/api/v1/cases?category=spoiled", headers=people.auth("desk")).get_json()
    assert spoiled["total"] == 2 and {c["category"] for c in spoiled["cases"]} == {"spoiled"}
    merchant1 = client.get("/api/v1/cases?merchant_id=1", headers=people.auth("desk")).get_json()
    assert merchant1["total"] == 2
    zone = ZoneInfo(app.extensions["foodtrace"].settings.timezone)  # dates are local dates
    today = datetime.now(zone).date()
    yesterday = today - timedelta(days=1)
    before = client.get(f"/api/v1/cases?opened_to={yesterday}", headers=people.auth("desk"))
    assert before.get_json()["total"] == 0
    ranged = client.get(
        f"/api/v1/cases?opened_from={today}&opened_to={today}&status=open&severity=high",
        headers=people.auth("admin"),
    ).get_json()
    assert ranged["total"] == 3


def test_bad_list_queries_are_422(client, people):
    for query in ["per_page=101", "page=0", "status=lost", "severity=extreme", "opened_from=soon"]:
        resp = client.get(f"/api/v1/cases?{query}", headers=people.auth("desk"))
        assert resp.status_code == 422, query


def test_assignee_filter_me_and_none(client, people, open_case):
    mine, other = open_case(), open_case()
    client.post(
        f"/api/v1/cases/{mine['id']}/assign",
        json={"user_id": people.id("desk")},
        headers=people.auth("desk"),
    )
    me = client.get("/api/v1/cases?assignee=me", headers=people.auth("desk")).get_json()
    none = client.get("/api/v1/cases?assignee=none", headers=people.auth("desk")).get_json()
    assert [c["id"] for c in me["cases"]] == [mine["id"]]
    assert [c["id"] for c in none["cases"]] == [other["id"]]


def walk(client, people, case_id, *statuses, **extra):
    resp = None
    for to in statuses:
        resp = client.post(
            f"/api/v1/cases/{case_id}/transitions",
            json={"to": to, **extra},
            headers=people.auth("desk"),
        )
        assert resp.status_code == 200, resp.get_json()
    return resp.get_json() if resp is not None else None


def test_an_illegal_transition_is_409_naming_the_current_status(client, people, open_case):
    case = open_case()
    resp = client.post(
        f"/api/v1/cases/{case['id']}/transitions",
        json={"to": "resolved"},
        headers=people.auth("desk"),
    )
    assert resp.status_code == 409
    error = resp.get_json()["error"]
    assert error["code"] == "illegal_transition" and "'new'" in error["message"]
    assert error["details"]["current"] == "new"


def test_the_whole_workflow_through_the_api(client, people, open_case):
    case = open_case()
    cid = case["id"]
    walk(client, people, cid, "acknowledged", "investigating", "waiting_for_lab", "investigating")
    walk(client, people, cid, "action_taken")
    closure = {"resolution": "Refund", "root_cause": "Warm rice", "corrective_action": "2 h rule"}
    walk(client, people, cid, "resolved", **closure)
    closed = walk(client, people, cid, "closed")
    assert closed["status"] == "closed" and closed["closed_at"]
    reopen = client.post(
        f"/api/v1/cases/{cid}/transitions",
        json={"to": "investigating"},
        headers=people.auth("desk"),
    )
    assert reopen.status_code == 422 and reopen.get_json()["error"]["code"] == "reason_required"
    reopened = walk(client, people, cid, "investigating", reason="Lab found Salmonella")
    assert reopened["events"][-1]["kind"] == "reopened"


def test_resolving_without_the_closure_fields_is_422_naming_them(client, people, open_case):
    case = open_case()
    walk(client, people, case["id"], "acknowledged", "investigating", "action_taken")
    resp = client.post(
        f"/api/v1/cases/{case['id']}/transitions", json={"to": "resolved", "resolution": "Refund"},
        headers=people.auth("desk"),
    )  # fmt: skip
    assert resp.status_code == 422
    assert error_fields(resp) == {"root_cause", "corrective_action"}


def test_notes_replies_and_assignment_name_their_actor(client, people, open_case):
    case = open_case()
    cid = case["id"]
    note = client.post(
        f"/api/v1/cases/{cid}/notes", json={"body": "Check stall 4"}, headers=people.auth("desk")
    )
    reply = client.post(
        f"/api/v1/cases/{cid}/replies", json={"body": "On it"}, headers=people.auth("admin")
    )
    assert note.status_code == reply.status_code == 201
    assert note.get_json()["actor"] == f"user:{people.id('desk')}"
    assert reply.get_json()["actor"] == f"user:{people.id('admin')}"
    bad = client.post(
        f"/api/v1/cases/{cid}/assign",
        json={"user_id": people.id("student")},
        headers=people.auth("desk"),
    )
    assert bad.status_code == 422 and error_fields(bad) == {"user_id"}
    assert (
        client.post(
            f"/api/v1/cases/{cid}/notes", json={"body": ""}, headers=people.auth("desk")
        ).status_code
        == 422
    )


def test_an_update_re_triages_the_case(client, people, open_case):
    case = open_case()
    resp = client.patch(
        f"/api/v1/cases/{case['id']}",
        json={"medical_care": "hospitalised"},
        headers=people.auth("desk"),
    )
    assert resp.status_code == 200
    assert resp.get_json()["severity"] == "critical"
    assert resp.get_json()["severity_reasons"] == ["hospitalised"]
    bad = client.patch(
        f"/api/v1/cases/{case['id']}", json={"n_ill": 40}, headers=people.auth("desk")
    )
    assert bad.status_code == 422 and "n_ill" in error_fields(bad)


def test_an_unknown_case_is_404(client, people):
    assert client.get("/api/v1/cases/999", headers=people.auth("desk")).status_code == 404
    resp = client.post("/api/v1/cases/999/notes", json={"body": "x"}, headers=people.auth("desk"))
    assert resp.status_code == 404


def test_feedback_and_appeal_through_the_api(client, people, open_case):
    body = {"category": "temperature", "description": "Cold soup", "order_ids": [8]}
    case = open_case("student", **body)
    cid = case["id"]
    early = client.post(
        f"/api/v1/cases/{cid}/feedback", json={"rating": 3}, headers=people.auth("student")
    )
    assert early.status_code == 409
    walk(client, people, cid, "acknowledged", "investigating", "action_taken")
    walk(
        client,
        people,
        cid,
        "resolved",
        resolution="Voucher",
        root_cause="Lid",
        corrective_action="New lids",
    )
    walk(client, people, cid, "closed")
    stranger = client.post(
        f"/api/v1/cases/{cid}/feedback", json={"rating": 5}, headers=people.auth("student2")
    )
    assert stranger.status_code == 404
    assert (
        client.post(
            f"/api/v1/cases/{cid}/feedback", json={"rating": 9}, headers=people.auth("student")
        ).status_code
        == 422
    )
    appeal = client.post(
        f"/api/v1/cases/{cid}/feedback",
        json={"rating": 1, "appeal": True, "comment": "Still cold"},
        headers=people.auth("student"),
    )
    assert appeal.status_code == 201
    assert appeal.get_json()["case"]["status"] == "investigating"
    messages = appeal.get_json()["case"]["messages"]
    assert "satisfaction_check" in [m["kind"] for m in messages]


def test_compensation_decisions_and_the_calculator(client, people, open_case):
    case = open_case()
    resp = client.post(
        f"/api/v1/cases/{case['id']}/compensation",
        json={"remedy": "statutory", "order_id": 101, "price_paid_fen": 20000},
        headers=people.auth("desk"),
    )
    assert resp.status_code == 201
    assert (resp.get_json()["amount_fen"], resp.get_json()["amount_yuan"]) == (200000, "2,000.00")
    again = client.post(
        f"/api/v1/cases/{case['id']}/compensation",
        json={"remedy": "statutory", "order_id": 101, "price_paid_fen": 20000},
        headers=people.auth("desk"),
    )
    assert again.status_code == 409
    too_much = client.post(
        f"/api/v1/cases/{case['id']}/compensation",
        json={"remedy": "refund", "order_id": 102, "price_paid_fen": 1000, "amount_fen": 1001},
        headers=people.auth("desk"),
    )
    assert too_much.status_code == 422 and error_fields(too_much) == {"amount_fen"}
    calc = client.get(
        "/api/v1/compensation/statutory?price_paid_fen=2000&loss_fen=80000",
        headers=people.auth("desk"),
    ).get_json()
    assert (calc["damages_fen"], calc["basis"]) == (240000, "loss")
    assert (
        client.get(
            "/api/v1/compensation/statutory?price_paid_fen=-5", headers=people.auth("desk")
        ).status_code
        == 422
    )


def test_sla_board_and_compliance_figures(client, people, open_case):
    case = open_case()
    board = client.get("/api/v1/cases/sla-board", headers=people.auth("desk")).get_json()
    assert board["cases"][0]["id"] == case["id"]
    figures = client.get("/api/v1/cases/sla-compliance", headers=people.auth("admin")).get_json()
    first = next(r for r in figures["overall"] if r["target"] == "first_response")
    assert first["pending"] == 1 and first["percent_met"] is None
    assert (
        client.get("/api/v1/cases/sla-compliance", headers=people.auth("desk")).status_code == 403
    )


def test_the_openapi_document_describes_the_cases_api(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/cases" in doc["paths"] and "/api/v1/surveys" in doc["paths"]
    assert "Idempotency-Key" in str(doc["paths"]["/api/v1/cases"]["post"])
