"""The ordering pages: a student orders through the cart, the kitchen and the courier work
their pages, the desk and administrators theirs; each page shows only what its role may see."""

from __future__ import annotations

import re

from orders import views
from orders.gateway_sim import charge_count
from tests.orders.conftest import login


def local_now() -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def add(client, csrf, item, quantity=1):
    return client.post(
        "/orders/cart/add", data={"csrf_token": csrf, "menu_item_id": item, "quantity": quantity}
    )


def checkout(client, csrf, **extra):
    page = client.get("/orders/cart").data.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    data = {"csrf_token": csrf, "idempotency_key": key, "building": "Dorm 5", "room": "502"}
    data.update(extra)
    return client.post("/orders/checkout", data=data), key


def test_a_student_orders_through_menu_cart_and_checkout(client, app, app_campus):
    c = app_campus
    csrf = login(client, "student@orders.test")
    merchants = client.get("/orders/").data.decode()
    assert "North Canteen" in merchants and "East Noodles" in merchants
    menu = client.get(f"/orders/merchants/{c.merchant}").data.decode()
    assert "Fried rice" in menu and "¥15.00" in menu and "soy" in menu
    add(client, csrf, c.rice, 2)
    add(client, csrf, c.salad)
    cart = client.get("/orders/cart").data.decode()
    assert "¥39.00" in cart  # 2 × 15.00 + 9.00
    resp, _key = checkout(client, csrf)
    assert resp.status_code == 302
    status = client.get(resp.headers["Location"]).data.decode()
    assert 'data-status="paid"' in status and "Fried rice" in status
    assert 'http-equiv="refresh"' in status  # it follows the kitchen by itself
    # the cart is empty now; the order is in the history
    assert "cart-empty" in client.get("/orders/cart").data.decode()
    assert "North Canteen" in client.get("/orders/history").data.decode()
    assert charge_count(views.runtime(app).gateway.engine) == 1


def test_a_double_submitted_checkout_is_one_order(client, app, app_campus):
    csrf = login(client, "student@orders.test")
    add(client, csrf, app_campus.salad)
    first, key = checkout(client, csrf)
    add(client, csrf, app_campus.salad)  # the same cart again, as a second click would send
    again = client.post(
        "/orders/checkout",
        data={"csrf_token": csrf, "idempotency_key": key, "building": "Dorm 5", "room": "502"},
    )
    assert again.headers["Location"] == first.headers["Location"]


def test_checkout_problems_come_back_to_the_cart_with_the_reason(client, app_campus):
    csrf = login(client, "student@orders.test")
    add(client, csrf, app_campus.salad)
    resp, _key = checkout(client, csrf, building="")
    assert resp.headers["Location"].endswith("/orders/cart")
    assert "building" in client.get("/orders/cart").data.decode()


def test_a_storm_shows_a_friendly_busy_page(client, app, app_campus):
    app.config["ORDERS_USER_PER_MINUTE"] = 1
    views.runtime(app, rebuild=True)
    csrf = login(client, "student@orders.test")
    add(client, csrf, app_campus.salad)
    checkout(client, csrf)
    add(client, csrf, app_campus.salad)
    resp, _key = checkout(client, csrf)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    assert 'data-testid="orders-busy"' in resp.data.decode()
    assert "you are ordering too fast" in resp.data.decode()  # which gate, in words


def test_the_gateway_down_page_says_we_will_charge_later(client, app, app_campus):
    admin = app.test_client()
    admin_csrf = login(admin, "admin@orders.test")
    admin.post("/orders/admin/payments", data={"csrf_token": admin_csrf, "mode": "down"})
    assert 'data-mode="down"' in admin.get("/orders/admin/payments").data.decode()
    csrf = login(client, "student@orders.test")
    add(client, csrf, app_campus.salad)
    resp, _key = checkout(client, csrf)
    page = client.get(resp.headers["Location"]).data.decode()
    assert 'data-status="deferred"' in page
    assert "we will charge when the payment service is back" in page


def test_the_kitchen_accepts_and_marks_ready_from_its_page(client, app, app_campus):
    student = app.test_client()
    csrf = login(student, "student@orders.test")
    add(student, csrf, app_campus.rice)
    resp, _key = checkout(student, csrf)
    order_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    chef_csrf = login(client, "merchant@orders.test")
    page = client.get("/orders/kitchen").data.decode()
    assert f"kitchen-order-{order_id}" in page and "data-source" in page
    client.post(f"/orders/kitchen/{order_id}/accept", data={"csrf_token": chef_csrf})
    client.post(f"/orders/kitchen/{order_id}/ready", data={"csrf_token": chef_csrf})
    assert 'data-status="ready"' in student.get(f"/orders/{order_id}").data.decode()
    # the other kitchen never sees it
    other = app.test_client()
    other_csrf = login(other, "merchant2@orders.test")
    assert f"kitchen-order-{order_id}" not in other.get("/orders/kitchen").data.decode()
    assert other.get(f"/orders/{order_id}").status_code == 404
    resp = other.post(
        f"/orders/kitchen/{order_id}/reject", data={"csrf_token": other_csrf, "reason": "x"}
    )
    assert resp.status_code == 302
    assert 'data-status="ready"' in student.get(f"/orders/{order_id}").data.decode()


def test_the_kitchen_manages_its_menu_and_production(client, app_campus):
    csrf = login(client, "merchant@orders.test")
    client.post(
        "/orders/kitchen/menu",
        data={
            "csrf_token": csrf,
            "name": "Egg rice",
            "price": "12.5",
            "product_id": app_campus.dish,
            "food_class": "hot",
            "allergens": "egg，soy",
            "available": "on",
        },
    )
    page = client.get("/orders/kitchen/menu").data.decode()
    assert "Egg rice" in page and "¥12.50" in page
    item_id = int(re.findall(r'data-testid="menu-item-(\d+)"', page)[-1])
    resp = client.post(
        f"/orders/kitchen/menu/{item_id}/production",
        data={
            "csrf_token": csrf,
            "batch_code": "EGG-1",
            "portions": "30",
            "completed_at": local_now(),
            "lot_id": str(app_campus.lot),
            "lot_quantity": "2",
            "lot_unit": "kg",
        },
    )
    assert resp.status_code == 302
    page = client.get("/orders/kitchen/menu").data.decode()
    assert "EGG-1" in page and "30 left" in page
    client.post(
        f"/orders/kitchen/menu/{item_id}/photo",
        data={"csrf_token": csrf, "photo": (__import__("io").BytesIO(PNG), "p.png")},
        content_type="multipart/form-data",
    )
    assert client.get(f"/orders/menu-items/{item_id}/photo").data == PNG


def test_the_courier_claims_picks_up_and_delivers_on_its_phone_page(client, app, app_campus):
    c = app_campus
    student = app.test_client()
    csrf = login(student, "student@orders.test")
    add(student, csrf, c.rice)
    resp, _key = checkout(student, csrf)
    order_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    chef = app.test_client()
    chef_csrf = login(chef, "merchant@orders.test")
    chef.post(f"/orders/kitchen/{order_id}/accept", data={"csrf_token": chef_csrf})
    chef.post(f"/orders/kitchen/{order_id}/ready", data={"csrf_token": chef_csrf})
    rider_csrf = login(client, "courier@orders.test")
    assert f"waiting-{order_id}" in client.get("/orders/courier").data.decode()
    client.post(f"/orders/courier/claim/{order_id}", data={"csrf_token": rider_csrf})
    page = client.get("/orders/courier").data.decode()
    delivery_id = int(re.search(r'data-testid="delivery-(\d+)"', page).group(1))
    assert "Dorm 5 502" in page
    client.post(
        f"/orders/courier/deliveries/{delivery_id}/pickup",
        data={"csrf_token": rider_csrf, "box_id": "BOX-001", "seal_number": "FS-1"},
    )
    assert "seal number" in client.get("/orders/courier").data.decode().lower()
    client.post(
        f"/orders/courier/deliveries/{delivery_id}/pickup",
        data={"csrf_token": rider_csrf, "box_id": "BOX-001", "seal_number": "FS-1234"},
    )
    client.post(
        f"/orders/courier/deliveries/{delivery_id}/dropoff",
        data={"csrf_token": rider_csrf, "seal_number": "FS-9999"},
    )
    page = client.get("/orders/courier").data.decode()
    assert "seal broken" in page
    status = student.get(f"/orders/{order_id}").data.decode()
    assert 'data-status="delivered"' in status and "seal broken" in status
    other = app.test_client()
    login(other, "courier2@orders.test")
    assert other.get(f"/orders/{order_id}").status_code == 404


def test_pages_refuse_the_wrong_roles(client, app_campus):
    login(client, "student@orders.test")
    for url in (
        "/orders/kitchen",
        "/orders/kitchen/menu",
        "/orders/courier",
        "/orders/desk",
        "/orders/admin/payments",
    ):
        assert client.get(url).status_code == 403, url


def test_the_desk_sees_every_order_and_assigns_couriers(client, app, app_campus):
    student = app.test_client()
    csrf = login(student, "student@orders.test")
    add(student, csrf, app_campus.noodles)
    resp, _key = checkout(student, csrf)
    order_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    desk_csrf = login(client, "desk@orders.test")
    page = client.get("/orders/desk").data.decode()
    assert f"/orders/{order_id}" in page and "East Noodles" in page
    client.post(
        f"/orders/desk/{order_id}/courier",
        data={"csrf_token": desk_csrf, "courier_id": app_campus.users["courier2"]},
    )
    rider = app.test_client()
    login(rider, "courier2@orders.test")
    assert "delivery-" in rider.get("/orders/courier").data.decode()


def test_a_student_pays_with_a_voucher_at_checkout(client, app, app_campus, session, config):
    from orders.service import issue_voucher

    c = app_campus
    csrf = login(client, "student@orders.test")
    add(client, csrf, c.rice, 2)
    source, _ = checkout(client, csrf)
    source_id = int(source.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    v = issue_voucher(
        session=session, order_id=source_id, amount_fen=1000, idempotency_key="desk-1",
        actor="user:desk", reason="complaint", config=config,
    )  # fmt: skip
    listed = client.get("/orders/vouchers").data.decode()
    assert v.code in listed and "¥10.00" in listed and 'data-status="usable"' in listed
    add(client, csrf, c.rice, 2)
    cart = client.get("/orders/cart").data.decode()
    assert f'data-testid="voucher-{v.code}"' in cart and "¥10.00" in cart
    resp, _ = checkout(client, csrf, voucher_code=v.code)
    assert resp.status_code == 302 and "/orders/cart" not in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).data.decode()
    assert 'data-testid="discount"' in page and "¥10.00" in page and "¥20.00" in page
    assert 'data-status="paid"' in page
    assert "¥0.00" in client.get("/orders/vouchers").data.decode()
    # a spent voucher is no longer offered; typing it anyway comes back with the reason
    add(client, csrf, c.rice, 1)
    assert v.code not in client.get("/orders/cart").data.decode()
    resp, _ = checkout(client, csrf, voucher_code=v.code)
    assert resp.headers["Location"].endswith("/orders/cart")
    assert "spent" in client.get("/orders/cart").data.decode()
