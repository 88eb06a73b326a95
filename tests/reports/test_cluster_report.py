"""Cluster reports: the cases of a complaint cluster in one report (epidemic curve, ranking,
orders the top-ranked source reached, holds and notices among the actions), in English and
Chinese, through the service, the API (with Idempotency-Key) and the list page's form."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select

import ledger
from accounts import passwords
from complaints import clusters, notices
from complaints import service as complaints
from evidence.service import LedgerKey
from ledger.models import LedgerEntryRow
from reports import service
from reports.models import PROJECTIONS, Report
from tests.complaints.conftest import signed_in
from tests.complaints.world import NOW, build_world, planted_outbreak
from tests.reports.conftest import pdf_text
from trace.access import Viewer

passwords.use_cheap_parameters_for_tests()
ADMIN = service.Caller("user:1", "admin")
NAMES = ("Chen Jing", "Wang Fang", "Zhao Lei")


def _outbreak(session: Session) -> dict:
    """Three people ill after the planted lettuce lot at three merchants: one cluster; the
    lot is held and the exposed customers notified for the first case."""
    world = build_world(session, prefix="rep")
    planted_outbreak(session, world)
    ill = world.orders["ill"]
    cases = []
    for k, order in enumerate((ill[0], ill[3], ill[6])):
        cases.append(
            complaints.open_case(
                session=session,
                data={
                    "channel": "phone",
                    "category": "illness",
                    "description": f"Vomiting after the salad ({k})",
                    "onset_at": NOW - timedelta(hours=10 - k),
                    "symptoms": ["vomiting"],
                    "order_ids": [order],
                    "complainant": {"name": NAMES[k], "phone": f"1390000000{k}"},
                },
                actor="user:1",
            ).case
        )
    member = clusters.cluster_of(session, cases[0].id)
    assert member is not None
    admin = Viewer(actor="user:1", role="admin")
    held = notices.hold_source(
        session=session,
        viewer=admin,
        kind="lot",
        ident=world.lettuce_lot,
        reason="suspected source",
        case_number=cases[0].number,
    )
    assert held
    sent = notices.send_notices(
        session=session,
        viewer=admin,
        case_id=cases[0].id,
        kind="lot",
        ident=world.lettuce_lot,
        survey_url="https://foodtrace.test/s/{token}",
    )
    assert sent.sent
    return {
        "cluster": member.cluster_id,
        "numbers": [c.number for c in cases],
        "lot": world.lettuce_lot,
        "notified": len(sent.sent) + sent.already,
    }


def _render(session: Session, key: LedgerKey, cluster_id: int, language: str, audience="staff"):
    report = service.request_cluster_report(
        session=session, cluster_id=cluster_id, language=language, audience=audience, caller=ADMIN
    )
    report = service.render_report(
        session=session, report_id=report.id, key=key, tz="Asia/Shanghai"
    )
    assert report.status == "ready", report.error
    return report, service.report_pdf(session=session, report_id=report.id, caller=ADMIN)[1]


def test_the_english_cluster_report_states_the_clusters_facts(engine, tmp_path: Path):
    key = LedgerKey(tmp_path / "ledger.pem", "foodtrace.test/ledger")
    with Session(engine, expire_on_commit=False) as s:
        world = _outbreak(s)
        report, data = _render(s, key, world["cluster"], "en")
        assert report.kind == "cluster" and report.cluster_id == world["cluster"]
        assert report.case_id is None and report.merchant_id is None  # three merchants
        text = pdf_text(data)
        assert f"CL-{world['cluster']}" in text
        assert "complaint cluster" in text
        for number in world["numbers"]:
            assert number in text
        assert "groups 3 case(s)" in text
        assert "Epidemic curve" in text
        assert "Possible sources" in text and "Lettuce rep" in text  # the ranked lot
        assert "forward trace from the top-ranked source" in text
        assert "hold" in text and f"lot #{world['lot']}" in text
        assert f"notice lot #{world['lot']}: {world['notified']}" in text
        for name in NAMES:
            assert name not in text  # no complainant details in a cluster report
        assert "no complainant details in a cluster report" in text
        entry = ledger.entry_at(s, report.ledger_index)
        assert entry.envelope()["subject"] == {"report": report.id, "cluster": world["cluster"]}
        assert ledger.verify(s, projections=PROJECTIONS).ok


def test_the_chinese_cluster_report_says_the_same_in_chinese(engine, tmp_path: Path):
    key = LedgerKey(tmp_path / "ledger.pem", "foodtrace.test/ledger")
    with Session(engine, expire_on_commit=False) as s:
        world = _outbreak(s)
        report, data = _render(s, key, world["cluster"], "zh-CN", audience="merchant")
        text = pdf_text(data)
        assert "食品安全调查报告（投诉聚集）" in text
        assert "包含 3 起案件" in text
        assert "流行曲线" in text and "暂扣" in text and "暴露通知" in text
        assert "收到原料批次 Lettuce rep" in text and "自排名第一的可疑来源正向追溯" in text
        for number in world["numbers"]:
            assert number in text
        again, _ = _render(s, key, world["cluster"], "zh-CN", audience="merchant")
        assert again.version == report.version + 1 and again.sha256 != report.sha256
        # spanning three merchants, the merchant edition is no merchant's to read
        merchant = service.Caller("user:9", "merchant", 1)
        assert (
            service.list_reports(
                session=s, filters=service.ReportFilters(kind="cluster"), caller=merchant
            )
            == []
        )


def test_the_cluster_api_and_idempotency_key(app, client, people):
    from web.db import get_session

    with app.app_context():
        world = _outbreak(get_session())
    url = f"/api/v1/clusters/{world['cluster']}/reports"
    desk = people.auth("desk")
    first = client.post(url, json={"language": "en"}, headers={**desk, "Idempotency-Key": "k-1"})
    assert first.status_code == 202, first.get_json()
    body = first.get_json()
    assert body["kind"] == "cluster" and body["cluster_id"] == world["cluster"]
    got = client.get(first.headers["Location"], headers=desk).get_json()
    assert got["status"] == "ready" and got["case_number"] == f"CL-{world['cluster']}"
    replay = client.post(url, json={"language": "en"}, headers={**desk, "Idempotency-Key": "k-1"})
    assert replay.status_code == 202 and replay.get_json()["id"] == body["id"]
    assert replay.get_json()["version"] == 1
    other = client.post(url, json={"language": "zh-CN"}, headers={**desk, "Idempotency-Key": "k-1"})
    assert other.status_code == 422
    assert other.get_json()["error"]["details"][0]["field"] == "Idempotency-Key"
    fresh = client.post(url, json={"language": "en"}, headers=desk)
    assert fresh.get_json()["version"] == 2
    assert client.post("/api/v1/clusters/99999/reports", json={}, headers=desk).status_code == 404
    bad = client.post(url, json={"audience": "public"}, headers=desk)
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"][0]["field"] == "audience"
    for who in ("merchant", "student", "courier"):
        assert client.post(url, json={}, headers=people.auth(who)).status_code == 403, who


def test_a_replayed_case_report_request_is_the_same_version_and_entry(app, client, people, case_id):
    from web.db import get_session

    url = f"/api/v1/cases/{case_id}/reports"
    desk = {**people.auth("desk"), "Idempotency-Key": "case-key-1"}
    first = client.post(url, json={"language": "en"}, headers=desk)
    assert first.status_code == 202
    with app.app_context():
        s = get_session()
        requested = s.exec(
            select(func.count()).where(col(LedgerEntryRow.type) == "report.requested")
        ).one()
    for _ in range(2):
        again = client.post(url, json={"language": "en"}, headers=desk)
        assert again.status_code == 202 and again.get_json()["id"] == first.get_json()["id"]
        assert again.headers["Location"] == first.headers["Location"]
    with app.app_context():
        s = get_session()
        assert (
            s.exec(select(func.count()).where(col(LedgerEntryRow.type) == "report.requested")).one()
            == requested
        )
        assert len(s.exec(select(Report).where(Report.case_id == case_id)).all()) == 1
    # the key is the requester's: another person's same key is a new request
    admin = {**people.auth("admin"), "Idempotency-Key": "case-key-1"}
    theirs = client.post(url, json={"language": "en"}, headers=admin)
    assert theirs.status_code == 202 and theirs.get_json()["version"] == 2
    too_long = {**people.auth("desk"), "Idempotency-Key": "x" * 201}
    assert client.post(url, json={}, headers=too_long).status_code == 422


def test_the_list_page_offers_open_clusters_and_starts_a_cluster_report(app, people):
    from web.db import get_session

    with app.app_context():
        world = _outbreak(get_session())
    client, token = signed_in(app, people.users["desk"])
    page = client.get("/reports/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="cluster-report-form"' in html
    assert f'value="{world["cluster"]}"' in html
    resp = client.post(
        "/reports/clusters",
        data={
            "csrf_token": token,
            "cluster_id": str(world["cluster"]),
            "language": "en",
            "audience": "staff",
        },
    )
    assert resp.status_code == 302 and "/reports/" in resp.headers["Location"]
    detail = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"CL-{world['cluster']}" in detail
    assert client.post("/reports/clusters", data={"csrf_token": token}).status_code == 422


@pytest.mark.parametrize("who", ["merchant", "student"])
def test_only_staff_see_the_cluster_form(client, people, who):
    resp = client.get("/reports/", headers=people.auth(who))
    if who == "student":
        assert resp.status_code == 403
    else:
        assert 'data-testid="cluster-report-form"' not in resp.get_data(as_text=True)
