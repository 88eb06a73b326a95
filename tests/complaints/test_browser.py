"""In a real browser: the desk opens a phone case from the form, works it, and the student
reports a problem and reads the acknowledgement (screenshots under /tmp when asked)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.complaints.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
SHOTS = os.environ.get("COMPLAINTS_SCREENSHOTS")  # a folder, to look at the pages


def sign_in(page, base, email):
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_load_state()


def shot(page, name):
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_desk_opens_and_works_a_case_and_the_student_reads_the_answer(
    app,
    live_server,
    browser_page,
    people,
):
    page, base = browser_page, live_server
    zone = ZoneInfo(app.extensions["foodtrace"].settings.timezone)
    sign_in(page, base, "student@uni.edu")
    page.goto(base + "/complaints/report")
    page.select_option("[data-testid=category]", "illness")
    onset = (datetime.now(zone) - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")
    page.fill("[data-testid=onset_at]", onset)
    page.fill("[data-testid=description]", "Vomiting after the spicy tofu")
    page.check("input[name=symptoms][value=vomiting]")
    page.fill("[data-testid=order_refs]", "4096")
    page.click("[data-testid=send-report]")
    page.wait_for_selector("[data-testid=my-case]")
    assert "We have received your report FT-" in page.inner_text("[data-testid=my-case]")
    shot(page, "student-mine")
    page.click("[data-testid=logout]")

    sign_in(page, base, "desk@uni.edu")
    page.goto(base + "/complaints/new")
    page.select_option("[data-testid=channel]", "phone")
    page.fill("[data-testid=complainant_name]", "Wei Lan")
    page.fill("[data-testid=complainant_phone]", "13812345678")
    page.select_option("[data-testid=category]", "illness")
    page.fill("[data-testid=onset_at]", onset)
    page.fill("[data-testid=description]", "Two of us ill after the same tofu")
    page.fill("[data-testid=n_ill]", "2")
    page.fill("input[name=n_party]", "2")
    page.fill("[data-testid=order_refs]", "4097")
    page.click("[data-testid=open-case]")
    page.wait_for_selector("[data-testid=case-number]")
    assert page.inner_text("[data-testid=case-number]").endswith("000002")
    assert "Critical" in page.inner_text("[data-testid=case-head]")
    assert "left" in page.inner_text("[data-testid=sla-clocks]")
    assert page.is_visible("[data-testid=traceback]")
    page.click("[data-testid=to-acknowledged]")
    page.wait_for_selector("[data-testid=to-investigating]")
    assert "Met" in page.inner_text("[data-testid=sla-clocks]")
    page.fill("[data-testid=reply-form] textarea", "We are calling the stall now.")
    page.click("[data-testid=reply-form] button")
    page.wait_for_selector("text=We are calling the stall now.")
    shot(page, "desk-case")
    page.goto(base + "/complaints/")
    assert page.locator("[data-testid=case-list] tbody tr").count() == 2
    shot(page, "desk-list")
