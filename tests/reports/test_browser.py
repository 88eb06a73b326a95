"""In a real browser: the report page follows the rendering's progress and reveals the PDF;
an administrator approves and signs off."""

from __future__ import annotations

import threading

import pytest

from reports import service
from tests.complaints.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def sign_in(page, base, email):
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_load_state()


def test_the_page_shows_progress_then_the_pdf_and_the_admin_signs_off(
    app, live_server, browser_page, people, case_id
):
    from web.db import get_session

    with app.app_context():
        s = get_session()
        report = service.request_case_report(
            session=s,
            case_id=case_id,
            language="en",
            audience="staff",
            caller=service.Caller(f"user:{people.id('desk')}", "desk"),
        )
        report_id = report.id
    page, base = browser_page, live_server
    sign_in(page, base, "admin@uni.edu")
    page.goto(f"{base}/reports/{report_id}")
    assert "(0%)" in page.inner_text("[data-testid=report-status]")
    assert page.eval_on_selector("#report-progress progress", "e => e.value") == 0
    assert page.locator("[data-testid=report-pdf]").is_hidden()

    def render() -> None:  # what the Celery worker does, while the page polls
        with app.app_context():
            state = app.extensions["foodtrace"]
            service.render_report(
                session=get_session(),
                report_id=report_id,
                key=state.extras["ledger_key"],
                tz="Asia/Shanghai",
            )

    worker = threading.Thread(target=render)
    worker.start()
    worker.join(60)
    page.wait_for_selector("[data-testid=report-pdf]", state="visible")
    assert "Ready" in page.inner_text("[data-testid=report-status]")
    page.reload()
    page.click("button[value=approve]")
    page.wait_for_selector("button[value=sign_off]")
    page.click("button[value=sign_off]")
    page.wait_for_selector("[data-testid=review-status]")
    assert page.inner_text("[data-testid=review-status]") == "Signed off"
