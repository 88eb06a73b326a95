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


def test_desk_opens_a_case_from_a_students_order_sees_trace_and_ranking_and_sends_notices(
    app,
    live_server,
    browser_page,
    people,
):
    from datetime import UTC

    from sqlmodel import Session

    from app import engine_of
    from complaints import service
    from tests.complaints.world import add_order as world_order
    from tests.complaints.world import build_world, planted_outbreak

    with Session(engine_of(app), expire_on_commit=False) as s:
        world = build_world(s, prefix="b")
        planted_outbreak(s, world)
        # The student's own salad at merchant B, from the planted lettuce lot.
        order = world_order(
            s, world, user=people.id("student"), merchant=world.merchants[1],
            item=world.items["salad1"], batch=world.salad_batches[1],
        )  # fmt: skip
        s.commit()
        for k, other in enumerate(world.orders["ill"][:6]):  # earlier callers, other stalls
            service.open_case(
                session=s,
                data={
                    "channel": "phone", "category": "illness", "description": f"ill {k}",
                    "onset_at": datetime.now(UTC) - timedelta(hours=6), "symptoms": ["fever"],
                    "order_ids": [other],
                    "complainant": {"name": f"Caller {k}", "phone": f"1390000{k:04d}"},
                },
                actor="user:1",
            )  # fmt: skip
    page, base = browser_page, live_server
    zone = ZoneInfo(app.extensions["foodtrace"].settings.timezone)
    onset = (datetime.now(zone) - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    sign_in(page, base, "desk@uni.edu")
    page.goto(base + "/complaints/")
    assert page.is_visible("[data-testid=cluster-alert]")  # the callers' cases already alerted
    page.goto(base + "/complaints/new")
    page.select_option("[data-testid=channel]", "phone")
    page.fill("[data-testid=complainant_name]", "Student Caller")
    page.fill("[data-testid=complainant_phone]", "13812340000")
    page.select_option("[data-testid=category]", "illness")
    page.fill("[data-testid=onset_at]", onset)
    page.fill("[data-testid=description]", "Diarrhoea after the salad")
    page.fill("[data-testid=order_refs]", str(order))
    page.click("[data-testid=open-case]")
    page.wait_for_selector("[data-testid=case-number]")
    panel = page.inner_text("[data-testid=traceback]")
    assert f"Order #{order}" in panel and "LET-b" in panel
    assert page.is_visible("[data-testid=case-cluster]")
    shot(page, "desk-traceback")
    page.click("[data-testid=case-cluster] a")
    page.wait_for_selector("[data-testid=rank-cluster]")
    page.click("[data-testid=rank-cluster]")
    page.wait_for_selector("[data-testid=ranking-table]")
    first = page.locator("[data-testid=ranking-table] tbody tr").first
    assert first.get_attribute("data-kind") == "lot"
    assert first.get_attribute("data-id") == str(world.lettuce_lot)
    shot(page, "desk-ranking")
    first.locator("a").click()
    page.wait_for_selector("[data-testid=affected-count]")
    assert "13 orders" in page.inner_text("[data-testid=affected-count]")
    page.click("[data-testid=send-notices] button")
    page.wait_for_selector("text=13 notices sent")
    shot(page, "desk-notices")
    page.click("[data-testid=logout]")
    sign_in(page, base, "student@uni.edu")
    page.goto(base + "/complaints/notices")
    assert page.locator("[data-testid=notice]").count() == 1
