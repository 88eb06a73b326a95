"""The weekly campus summary PDF (what Celery beat runs): stored once per week, in the ledger."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlmodel import Session

import ledger
from columns import utcnow
from reports import service
from tests.reports.conftest import open_illness_case, pdf_text

ADMIN = service.Caller("user:1", "admin")


def test_the_weekly_summary_is_stored_once_and_recorded_in_the_ledger(engine):
    with Session(engine, expire_on_commit=False) as s:
        open_illness_case(s)
        now = utcnow() + timedelta(days=7)  # "last week" is then the week of the seeded data
        report = service.weekly_summary(session=s, tz="Asia/Shanghai", now=now, language="en")
        again = service.weekly_summary(session=s, tz="Asia/Shanghai", now=now, language="en")
        assert again.id == report.id
        _, data = service.report_pdf(session=s, report_id=report.id, caller=ADMIN)
        entry = ledger.entry_at(s, report.ledger_index).envelope()
        listed = service.list_reports(
            session=s, filters=service.ReportFilters(kind="weekly"), caller=ADMIN
        )
    assert [r.id for r in listed] == [report.id]
    assert entry["type"] == "report.generated" and entry["payload"]["kind"] == "weekly"
    assert entry["payload"]["sha256"] == hashlib.sha256(data).hexdigest() == report.sha256
    text = pdf_text(data)
    assert "Weekly campus food-safety summary" in text
    assert "Complaints per 1,000 orders by merchant" in text and "North Canteen" in text
    assert report.period_start is not None and report.period_start.isoformat()[:10] in text


def test_the_chinese_weekly_summary_is_in_chinese(engine):
    with Session(engine, expire_on_commit=False) as s:
        report = service.weekly_summary(
            session=s, tz="Asia/Shanghai", now=utcnow() + timedelta(days=7)
        )
        _, data = service.report_pdf(session=s, report_id=report.id, caller=ADMIN)
    text = pdf_text(data)
    assert "校园食品安全周报" in text and "各商户冷链合规率" in text
