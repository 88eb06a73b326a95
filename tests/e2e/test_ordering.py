"""A student orders lunch in a real browser (phone-sized), the kitchen sees the order arrive
live on its page and cooks it, a courier claims it on a phone, picks it up sealed in a sensor
box and delivers it; the student sees each step. Phone pages never scroll sideways."""

from __future__ import annotations

import pytest
from sqlmodel import Session

import app as composition
from tests.orders.conftest import PASSWORD, build_campus

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def campus(app):  # type: ignore[no-untyped-def]
    with Session(composition.engine_of(app), expire_on_commit=False) as s:
        return build_campus(s)


def sign_in(page, base, email):  # type: ignore[no-untyped-def]
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_selector("[data-testid=logout]")


def fits_the_phone(page) -> None:  # type: ignore[no-untyped-def]
    """Mobile-first: nothing wider than the phone's screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px phone"


def test_a_student_orders_and_a_courier_delivers(live_server, browser_page, app, campus):
    page = browser_page
    page.set_viewport_size(PHONE)
    kitchen_context = page.context.browser.new_context(locale="en-US")  # the kitchen's computer
    kitchen = kitchen_context.new_page()
    kitchen.set_default_timeout(15_000)
    sign_in(kitchen, live_server, "merchant@orders.test")
    kitchen.goto(live_server + "/orders/kitchen")
    kitchen.wait_for_selector("[data-testid=kitchen-orders]")

    sign_in(page, live_server, "student@orders.test")
    page.goto(live_server + "/orders/")
    page.click(f"[data-testid=merchant-{campus.merchant}] a.title")
    page.wait_for_selector("[data-testid=menu]")
    page.select_option(f"#q{campus.rice}", "2")
    page.click(f"[data-testid=add-{campus.rice}]")
    page.wait_for_selector(".flash")
    fits_the_phone(page)
    page.screenshot(path="/tmp/orders-menu.png", full_page=True)
    page.click("[data-testid=nav-cart]")
    assert "¥30.00" in page.inner_text("[data-testid=cart-total]")
    page.fill("[data-testid=building]", "North Dorm 3")
    page.fill("[data-testid=room]", "301")
    fits_the_phone(page)
    page.screenshot(path="/tmp/orders-cart.png", full_page=True)
    page.click("[data-testid=place-order]")
    status = page.wait_for_selector("[data-testid=payment-status]")
    assert status.get_attribute("data-status") == "paid"
    order_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    fits_the_phone(page)
    page.screenshot(path="/tmp/orders-status.png", full_page=True)

    # the kitchen's open page polls: the new order appears without anyone reloading it
    kitchen.wait_for_selector(f"[data-testid=kitchen-order-{order_id}]")
    kitchen.click(f"[data-testid=accept-{order_id}]")
    kitchen.click(f"[data-testid=ready-{order_id}]")
    kitchen.wait_for_selector(f"[data-testid=ready-{order_id}]", state="detached")
    card = kitchen.inner_text(f"[data-testid=kitchen-order-{order_id}]")
    assert "Ready for pickup" in card and "2 × Fried rice" in card, card
    kitchen_context.close()

    page.click("[data-testid=logout]")
    sign_in(page, live_server, "courier@orders.test")
    page.goto(live_server + "/orders/courier")
    page.click(f"[data-testid=claim-{order_id}]")
    form = page.wait_for_selector("form[data-testid^=pickup-]")
    assert "North Dorm 3 301" in page.inner_text("main")
    form.query_selector("[data-testid=box-id]").fill("BOX-001")
    form.query_selector("[data-testid=seal-pickup]").fill("FS-20250301")
    fits_the_phone(page)
    page.screenshot(path="/tmp/orders-courier-pickup.png", full_page=True)
    form.query_selector("button[type=submit]").click()
    drop = page.wait_for_selector("form[data-testid^=dropoff-]")
    drop.query_selector("[data-testid=seal-dropoff]").fill("fs-20250301")
    page.screenshot(path="/tmp/orders-courier-dropoff.png", full_page=True)
    drop.query_selector("button[type=submit]").click()
    page.wait_for_selector("[data-testid=no-deliveries]")

    page.click("[data-testid=logout]")
    sign_in(page, live_server, "student@orders.test")
    page.goto(f"{live_server}/orders/{order_id}")
    assert page.get_attribute("[data-testid=order-status]", "data-status") == "delivered"
    assert "seal intact" in page.inner_text("[data-testid=order-" + str(order_id) + "]")
    page.screenshot(path="/tmp/orders-delivered.png", full_page=True)
