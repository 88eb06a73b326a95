"""The reports API and pages end to end: generation with progress, the PDF, the review
workflow per role (each action in the ledger), merchants' access, the verification upload."""

from __future__ import annotations

import hashlib
import io

import ledger
from tests.reports.conftest import COMPLAINANT, generate, pdf_text


def test_the_desk_generates_a_report_and_downloads_its_pdf(client, people, case_id):
    report = generate(client, people, case_id, language="en")
    assert report["status"] == "ready" and report["progress"] == 100
    assert report["version"] == 1 and report["review_status"] == "pending"
    resp = client.get(report["pdf_url"], headers=people.auth("desk"))
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert hashlib.sha256(resp.data).hexdigest() == report["sha256"]
    assert resp.headers["X-Content-SHA256"] == report["sha256"]
    again = generate(client, people, case_id, language="en")
    assert again["version"] == 2 and again["id"] != report["id"]


def test_bad_report_requests_are_4xx_naming_the_field(client, people, case_id):
    resp = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"language": "fr"}, headers=people.auth("desk")
    )
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"][0]["field"] == "language"
    resp = client.post(
        f"/api/v1/cases/{case_id}/reports", json={"colour": "red"}, headers=people.auth("desk")
    )
    assert resp.status_code == 422
    resp = client.post("/api/v1/cases/9999/reports", json={}, headers=people.auth("desk"))
    assert resp.status_code == 404


def test_the_review_workflow_per_role_with_every_action_in_the_ledger(app, client, people, case_id):
    report = generate(client, people, case_id, language="en")
    url = f"/api/v1/reports/{report['id']}/reviews"
    for who in ("desk", "merchant", "student", "courier"):
        resp = client.post(url, json={"action": "approve"}, headers=people.auth(who))
        assert resp.status_code == 403, who
    admin = people.auth("admin")
    assert client.post(url, json={"action": "comment"}, headers=admin).status_code == 422
    assert client.post(url, json={"action": "sign_off"}, headers=admin).status_code == 409
    assert (
        client.post(
            url, json={"action": "send_back", "body": "Add the lab result"}, headers=admin
        ).get_json()["review_status"]
        == "sent_back"
    )
    assert client.post(url, json={"action": "approve"}, headers=admin).status_code == 409
    fresh = generate(client, people, case_id, language="en")
    url = f"/api/v1/reports/{fresh['id']}/reviews"
    steps = [("comment", "Clear"), ("approve", ""), ("sign_off", "")]
    indexes = []
    for action, body in steps:
        resp = client.post(url, json={"action": action, "body": body}, headers=admin)
        assert resp.status_code == 201, resp.get_json()
        indexes.append(resp.get_json()["ledger_index"])
    seen = client.get(f"/api/v1/reports/{fresh['id']}", headers=people.auth("desk")).get_json()
    assert seen["review_status"] == "signed_off"  # the desk sees the outcome
    assert [r["action"] for r in seen["reviews"]] == ["comment", "approve", "sign_off"]
    from web.db import get_session

    with app.app_context():
        s = get_session()
        types = [ledger.entry_at(s, i).envelope() for i in indexes]
    assert [e["type"] for e in types] == ["report.reviewed"] * 3
    assert [e["payload"]["to"] for e in types] == ["pending", "approved", "signed_off"]
    assert "body" not in types[0]["payload"]  # free text only as a salted digest
    page = client.get(f"/reports/{fresh['id']}", headers=people.auth("desk"))
    assert page.status_code == 200 and b"review-status" in page.data


def test_a_merchant_never_gets_a_report_with_complainant_details(client, people, case_id):
    staff = generate(client, people, case_id, language="en", audience="staff")
    mine = generate(client, people, case_id, language="en", audience="merchant")
    merchant = people.auth("merchant")
    for path in (
        f"/api/v1/reports/{staff['id']}",
        f"/api/v1/reports/{staff['id']}/pdf",
        f"/reports/{staff['id']}",
    ):
        assert client.get(path, headers=merchant).status_code == 404, path
    listed = client.get("/api/v1/reports", headers=merchant).get_json()["items"]
    assert [r["id"] for r in listed] == [mine["id"]]
    assert all(not r["has_complainant_details"] for r in listed)
    resp = client.get(f"/api/v1/reports/{mine['id']}/pdf", headers=merchant)
    assert resp.status_code == 200
    text = pdf_text(resp.data)
    assert not any(v in text for v in COMPLAINANT.values())
    other = people.auth("merchant2")  # another merchant's user sees nothing
    assert client.get(f"/api/v1/reports/{mine['id']}/pdf", headers=other).status_code == 404
    assert client.get("/api/v1/reports", headers=other).get_json()["items"] == []
    assert (
        client.post(f"/api/v1/cases/{case_id}/reports", json={}, headers=merchant).status_code
        == 403
    )


def test_anyone_can_verify_an_uploaded_report(client, people, case_id):
    report = generate(client, people, case_id, language="zh-CN")
    pdf = client.get(report["pdf_url"], headers=people.auth("desk")).data
    resp = client.post(
        "/api/v1/reports/verify",
        data={"file": (io.BytesIO(pdf), "r.pdf")},
        content_type="multipart/form-data",
    )
    body = resp.get_json()
    assert resp.status_code == 200 and body["ok"] is True
    assert body["report"]["version"] == 1 and all(r["ok"] for r in body["records"])
    bad = client.post(
        "/api/v1/reports/verify",
        data={"file": (io.BytesIO(b"hello"), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "not_a_report"
    missing = client.post("/api/v1/reports/verify", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422
    assert client.get("/reports/verify").status_code == 200


def test_the_report_list_filters_by_review_status(client, people, case_id):
    first = generate(client, people, case_id, language="en")
    generate(client, people, case_id, language="zh-CN")
    client.post(
        f"/api/v1/reports/{first['id']}/reviews",
        json={"action": "approve"},
        headers=people.auth("admin"),
    )
    items = client.get(
        "/api/v1/reports?review_status=approved", headers=people.auth("admin")
    ).get_json()["items"]
    assert [r["id"] for r in items] == [first["id"]]
    assert (
        client.get(
            "/api/v1/reports?requested_from=yesterday", headers=people.auth("admin")
        ).status_code
        == 422
    )
    page = client.get("/reports/?review_status=approved", headers=people.auth("admin"))
    assert page.status_code == 200 and f'data-report="{first["id"]}"'.encode() in page.data
