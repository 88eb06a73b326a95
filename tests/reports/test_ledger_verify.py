"""`ledger verify` re-derives the reports tables from their entries: it passes after reports are
requested, rendered, reviewed and summarised, and names the table when a report row, a review
or a stored PDF is edited behind the application's back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

import ledger
from evidence.service import LedgerKey
from reports import service
from reports.models import PROJECTIONS
from tests.ledger.tampering import tamper
from tests.reports.conftest import open_illness_case

ADMIN = service.Caller("user:1", "admin")


def _reviewed_world(engine: Engine, tmp_path: Path) -> dict[str, int]:
    """A rendered, commented, approved and signed-off report; a queued one; a weekly summary."""
    key = LedgerKey(tmp_path / "ledger.pem", "foodtrace.test/ledger")
    with Session(engine, expire_on_commit=False) as s:
        case_id = open_illness_case(s)
        first = service.request_case_report(
            session=s, case_id=case_id, language="en", audience="merchant", caller=ADMIN
        )
        service.render_report(session=s, report_id=first.id, key=key, tz="Asia/Shanghai")
        for action, body in (("comment", "Clear"), ("approve", ""), ("sign_off", "")):
            service.review(session=s, report_id=first.id, action=action, body=body, caller=ADMIN)
        queued = service.request_case_report(
            session=s, case_id=case_id, language="zh-CN", audience="staff", caller=ADMIN
        )
        weekly = service.weekly_summary(session=s, tz="Asia/Shanghai", language="en")
        assert ledger.verify(s, projections=PROJECTIONS).ok
        return {"report": first.id, "queued": queued.id, "weekly": weekly.id}


EDITS = [
    ("reports", "UPDATE reports SET merchant_id = merchant_id + 1 WHERE id = :report"),
    ("reports", "UPDATE reports SET audience = 'staff' WHERE id = :report"),
    ("reports", "UPDATE reports SET has_complainant_details = :yes WHERE id = :report"),
    ("reports", "UPDATE reports SET review_status = 'pending' WHERE id = :report"),
    ("reports", "UPDATE reports SET review_status = 'approved' WHERE id = :queued"),
    ("reports", "UPDATE reports SET sha256 = :zeros WHERE id = :report"),
    ("reports", "UPDATE reports SET version = 7 WHERE id = :queued"),
    ("reports", "UPDATE reports SET status = 'failed' WHERE id = :report"),
    ("reports", "UPDATE reports SET request_index = request_index - 1 WHERE id = :report"),
    ("reports", "UPDATE reports SET period_end = period_start WHERE id = :weekly"),
    ("reports", "UPDATE reports SET requested_by = 'user:9' WHERE id = :queued"),
    ("report_reviews", "UPDATE report_reviews SET body = 'Fine' WHERE report_id = :report"),
    ("report_reviews", "UPDATE report_reviews SET actor = 'user:2' WHERE report_id = :report"),
    (
        "report_reviews",
        "UPDATE report_reviews SET action = 'approve' WHERE action = 'sign_off'",
    ),
    (
        "report_files",
        "UPDATE report_files SET content = :pdf WHERE sha256 = "
        "(SELECT sha256 FROM reports WHERE id = :report)",
    ),
    (
        "report_files",
        "DELETE FROM report_files WHERE sha256 = (SELECT sha256 FROM reports WHERE id = :weekly)",
    ),
    ("report_reviews", "DELETE FROM report_reviews WHERE action = 'comment'"),
]


@pytest.mark.parametrize(("table", "statement"), EDITS)
def test_an_edit_behind_the_apps_back_is_detected(engine, tmp_path, table, statement):
    ids = _reviewed_world(engine, tmp_path)
    params = {**ids, "yes": True, "zeros": "0" * 64, "pdf": b"%PDF-1.4 forged"}
    used = {k: v for k, v in params.items() if f":{k}" in statement}
    assert tamper(engine, statement, **used) >= 1
    with Session(engine) as s:
        problem = ledger.verify(s, projections=PROJECTIONS).problem
    assert problem is not None and problem.table == table, (statement, problem)


def test_the_queued_report_row_is_checked_against_its_request(engine, tmp_path):
    ids = _reviewed_world(engine, tmp_path)
    assert tamper(engine, "UPDATE reports SET language = 'en' WHERE id = :q", q=ids["queued"])
    with Session(engine) as s:
        problem = ledger.verify(s, projections=PROJECTIONS).problem
    assert problem is not None and problem.row == str(ids["queued"])
    assert "language" in problem.detail
