"""In a real browser: the alerts page picks up a new alert without a reload; the pages render."""

from __future__ import annotations

from datetime import timedelta

import pytest

from columns import utcnow
from sensors import coldchain, demo
from tests.sensors.conftest import PASSWORD, readings


def sign_in(page, base, role):
    page.goto(f"{base}/lang/en")
    page.goto(f"{base}/login")
    page.fill("input[name=email]", f"{role}@uni.edu")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


@pytest.mark.browser
def test_a_new_alert_appears_on_the_open_alerts_page(live_server, browser_page, world, client):
    now = utcnow()
    made = world.device("probe-1", "BOX-1", bound_at=now - timedelta(hours=1))
    with world.session() as s:
        coldchain.watch_delivery(
            session=s, delivery_id=5, box_id="BOX-1", pickup_at=now - timedelta(minutes=20),
            food_class="hot", merchant_id=7,
        )  # fmt: skip
    page = browser_page
    sign_in(page, live_server, "merchant")
    page.goto(f"{live_server}/sensors/alerts")
    assert page.locator("[data-testid=alerts-body] tr[data-alert]").count() == 0
    resp = client.post(
        "/api/v1/sensors/readings",
        json=readings(now - timedelta(minutes=2), [65.0, 45.0]),
        headers=world.auth(made.token),
    )
    assert resp.status_code == 201
    row = page.locator("[data-testid=alerts-body] tr[data-alert]")
    row.first.wait_for(timeout=12_000)
    assert "#5" in row.first.inner_text()
    page.screenshot(path="/tmp/sensors-alerts.png", full_page=True)
    row.first.locator("a").click()  # the merchant follows the alert to its delivery
    page.wait_for_selector("[data-testid=chart] svg .excursion")
    assert page.locator("[data-testid=verdict]").get_attribute("data-verdict") == "fail"
    page.screenshot(path="/tmp/sensors-delivery.png", full_page=True)


@pytest.mark.browser
def test_box_and_devices_pages_render_for_staff(live_server, browser_page, world):
    with world.session() as s:
        demo.seed(session=s)
    page = browser_page
    sign_in(page, live_server, "admin")
    since = (utcnow() - timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M:%SZ")
    page.goto(f"{live_server}/sensors/boxes/BOX-002?class=cold&from={since}")
    assert page.locator("[data-testid=chart] svg .threshold").count() == 1
    page.screenshot(path="/tmp/sensors-box.png", full_page=True)
    page.goto(f"{live_server}/sensors/devices")
    assert page.locator("[data-testid=device-list] tr[data-device]").count() == 3
    page.screenshot(path="/tmp/sensors-devices.png", full_page=True)
