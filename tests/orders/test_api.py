"""The ordering API: placing orders idempotently, reading them with role isolation, refusals
naming their field, 429 under a storm, payment states as they are."""

from __future__ import annotations

import uuid

from orders import views
from orders.gateway_sim import charge_count
from tests.orders.conftest import bearer


def body(campus, **changes):
    base = {
        "merchant_id": campus.merchant,
        "items": [{"menu_item_id": campus.rice, "quantity": 2}],
        "address": {"building": "North Dorm 3", "room": "301"},
    }
    base.update(changes)
    return base


def post(client, campus, who="student", key=None, **changes):
    headers = bearer(campus, who)
    if key is not False:
        headers["Idempotency-Key"] = key or uuid.uuid4().hex
    return client.post("/api/v1/orders", json=body(campus, **changes), headers=headers)


def test_placing_an_order_answers_201_with_the_paid_order(client, app, app_campus):
    c = app_campus
    resp = post(client, c, key="k-1", expected_total_fen=3000)
    assert resp.status_code == 201, resp.json
    order = resp.json
    assert (order["status"], order["payment"]["status"], order["total_fen"]) == (
        "placed",
        "paid",
        3000,
    )
    assert order["lines"][0]["name"] == "Fried rice" and order["lines"][0]["quantity"] == 2
    assert order["address"] == {"building": "North Dorm 3", "room": "301", "phone": ""}
    assert charge_count(views.runtime(app).gateway.engine) == 1


def test_a_retry_with_the_same_key_returns_the_original(client, app, app_campus):
    first = post(client, app_campus, key="same")
    again = post(client, app_campus, key="same")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"]
    assert charge_count(views.runtime(app).gateway.engine) == 1


def test_the_same_key_with_another_body_is_422(client, app_campus):
    post(client, app_campus, key="same")
    resp = post(
        client, app_campus, key="same", items=[{"menu_item_id": app_campus.rice, "quantity": 1}]
    )
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "idempotency_conflict"
    assert resp.json["error"]["details"][0]["field"] == "Idempotency-Key"


def test_the_idempotency_key_is_required(client, app_campus):
    resp = post(client, app_campus, key=False)
    assert resp.status_code == 400
    assert resp.json["error"]["details"][0]["field"] == "Idempotency-Key"


BAD_INPUT = [
    ({"items": [{"menu_item_id": 999999, "quantity": 1}]}, 422, "items[0].menu_item_id"),
    ({"items": [{"menu_item_id": "NOODLES", "quantity": 1}]}, 422, "items[0].menu_item_id"),
    ({"items": [{"menu_item_id": "RICE", "quantity": 0}]}, 422, "items[0].quantity"),
    ({"items": [{"menu_item_id": "RICE", "quantity": -2}]}, 422, "items[0].quantity"),
    ({"items": [{"menu_item_id": "RICE", "quantity": 500}]}, 422, "items[0].quantity"),
    ({"items": [{"menu_item_id": "RICE", "quantity": "lots"}]}, 422, "items.0.quantity"),
    ({"items": [{"menu_item_id": "RICE", "quantity": 16}]}, 409, "items[0].quantity"),
    ({"items": [{"menu_item_id": "RICE", "quantity": 1, "unit_price_fen": 1}]}, 409,
     "items[0].unit_price_fen"),
    ({"expected_total_fen": 2999}, 409, "expected_total_fen"),
    ({"address": {"building": "", "room": "1"}}, 422, "address.building"),
    ({"address": None}, 422, "address"),
    ({"merchant_id": 424242}, 422, "merchant_id"),
    ({"extra": 1}, 422, "extra"),
    ({"items": []}, 422, "items"),
    ({"items": [{"menu_item_id": "RICE", "quantity": 10**30}]}, 422, "items[0].quantity"),
    ({"items": [{"menu_item_id": "RICE", "quantity": 1.5}]}, 422, "items.0.quantity"),
    ({"items": [{"menu_item_id": "RICE", "quantity": 1, "unit_price_fen": -5}]}, 422,
     "items[0].unit_price_fen"),
    ({"items": [{"menu_item_id": -1, "quantity": 1}]}, 422, "items[0].menu_item_id"),
    ({"items": [{"menu_item_id": "RICE", "quantity": 1}] * 21}, 422, "items"),
    ({"merchant_id": "one"}, 422, "merchant_id"),
    ({"merchant_id": None}, 422, "merchant_id"),
    ({"address": {"building": "Dorm", "room": "1", "phone": "x" * 41}}, 422, "address.phone"),
    ({"note": "n" * 201}, 422, "note"),
    ({"expected_total_fen": -1}, 422, "expected_total_fen"),
]  # fmt: skip


def test_bad_input_is_4xx_naming_the_field(app, client, app_campus):
    app.config["ORDERS_USER_PER_MINUTE"] = 1000  # more attempts than a student may make
    views.runtime(app, rebuild=True)
    ids = {"RICE": app_campus.rice, "NOODLES": app_campus.noodles}
    failures = []
    for changes, status, field in BAD_INPUT:
        changes = {k: v for k, v in changes.items()}
        for item in changes.get("items", []):
            item["menu_item_id"] = ids.get(item["menu_item_id"], item["menu_item_id"])
        if "address" in changes and changes["address"] is None:
            base = body(app_campus)
            del base["address"]
            headers = bearer(app_campus, "student", **{"Idempotency-Key": uuid.uuid4().hex})
            resp = client.post("/api/v1/orders", json=base, headers=headers)
        else:
            resp = post(client, app_campus, **changes)
        details = resp.json["error"]["details"] or []
        fields = [d["field"] for d in details] if isinstance(details, list) else details
        if resp.status_code != status or field not in fields:
            failures.append((changes, resp.status_code, resp.json))
    assert failures == []
    listed = client.get("/api/v1/orders", headers=bearer(app_campus, "student")).json
    assert listed["total"] == 0  # none of them made an order


def test_only_students_place_orders(client, app_campus):
    for who in ("merchant", "courier", "desk", "admin"):
        assert post(client, app_campus, who=who).status_code == 403


def test_a_student_sees_only_their_own_orders(client, app_campus):
    c = app_campus
    mine = post(client, c).json["id"]
    theirs = post(client, c, who="student2").json["id"]
    assert client.get(f"/api/v1/orders/{mine}", headers=bearer(c, "student")).status_code == 200
    assert client.get(f"/api/v1/orders/{theirs}", headers=bearer(c, "student")).status_code == 404
    listed = client.get("/api/v1/orders", headers=bearer(c, "student")).json
    assert [o["id"] for o in listed["items"]] == [mine] and listed["total"] == 1


def test_a_merchant_sees_its_own_merchants_orders_without_addresses(client, app_campus):
    c = app_campus
    rice = post(client, c).json["id"]
    noodles = post(
        client, c, merchant_id=c.other_merchant, items=[{"menu_item_id": c.noodles, "quantity": 1}]
    ).json["id"]
    got = client.get(f"/api/v1/orders/{rice}", headers=bearer(c, "merchant"))
    assert got.status_code == 200 and "address" not in got.json
    assert client.get(f"/api/v1/orders/{noodles}", headers=bearer(c, "merchant")).status_code == 404
    listed = client.get("/api/v1/orders", headers=bearer(c, "merchant2")).json
    assert [o["id"] for o in listed["items"]] == [noodles]


def test_a_courier_sees_the_orders_it_carries(client, app_campus):
    c = app_campus
    order_id = post(client, c).json["id"]
    assert client.get(f"/api/v1/orders/{order_id}", headers=bearer(c, "courier")).status_code == 404
    for step in ("accept",):
        assert (
            client.post(
                f"/api/v1/orders/{order_id}/{step}", headers=bearer(c, "merchant")
            ).status_code
            == 200
        )
    claim = client.post(
        f"/api/v1/orders/{order_id}/courier",
        json={"courier_id": c.users["courier"]},
        headers=bearer(c, "courier"),
    )
    assert claim.status_code == 201
    assert client.get(f"/api/v1/orders/{order_id}", headers=bearer(c, "courier")).status_code == 200
    assert (
        client.get(f"/api/v1/orders/{order_id}", headers=bearer(c, "courier2")).status_code == 404
    )


def test_the_whole_flow_through_the_api(client, app_campus):
    c = app_campus
    order_id = post(client, c).json["id"]
    for step in ("accept", "ready"):
        resp = client.post(f"/api/v1/orders/{order_id}/{step}", headers=bearer(c, "merchant"))
        assert resp.status_code == 200
    assigned = client.post(
        f"/api/v1/orders/{order_id}/courier",
        json={"courier_id": c.users["courier"]},
        headers=bearer(c, "desk"),
    )
    delivery_id = assigned.json["delivery"]["id"]
    picked = client.post(
        f"/api/v1/deliveries/{delivery_id}/pickup",
        headers=bearer(c, "courier"),
        json={"box_id": "BOX-001", "seal_number": "FS-777"},
    )
    assert picked.json["status"] == "out_for_delivery"
    assert picked.json["delivery"]["box_id"] == "BOX-001"
    dropped = client.post(
        f"/api/v1/deliveries/{delivery_id}/dropoff",
        headers=bearer(c, "courier"),
        json={"seal_number": "FS-777"},
    )
    assert dropped.json["status"] == "delivered" and dropped.json["delivery"]["seal_intact"] is True


def test_a_merchant_cannot_move_another_merchants_order(client, app_campus):
    order_id = post(client, app_campus).json["id"]
    resp = client.post(f"/api/v1/orders/{order_id}/accept", headers=bearer(app_campus, "merchant2"))
    assert resp.status_code == 404


def test_the_list_filters_and_pages(client, app_campus):
    c = app_campus
    ids = [
        post(client, c, items=[{"menu_item_id": c.salad, "quantity": 1}]).json["id"]
        for _ in range(5)
    ]
    client.post(f"/api/v1/orders/{ids[0]}/accept", headers=bearer(c, "merchant"))
    page = client.get("/api/v1/orders?per_page=2&page=2", headers=bearer(c, "student")).json
    assert (page["total"], page["page"], [o["id"] for o in page["items"]]) == (5, 2, ids[::-1][2:4])
    accepted = client.get("/api/v1/orders?status=accepted", headers=bearer(c, "student")).json
    assert [o["id"] for o in accepted["items"]] == [ids[0]]
    bad = client.get("/api/v1/orders?status=eaten", headers=bearer(c, "student"))
    assert bad.status_code == 422 and bad.json["error"]["details"][0]["field"] == "status"
    future = client.get("/api/v1/orders?since=2999-01-01T00:00:00Z", headers=bearer(c, "student"))
    assert future.json["total"] == 0


def test_a_storm_gets_429_with_retry_after(client, app, app_campus):
    app.config["ORDERS_USER_PER_MINUTE"] = 3
    views.runtime(app, rebuild=True)
    statuses = [
        post(client, app_campus, items=[{"menu_item_id": app_campus.salad, "quantity": 1}])
        for _ in range(5)
    ]
    assert [r.status_code for r in statuses] == [201, 201, 201, 429, 429]
    refused = statuses[-1]
    assert refused.json["error"]["code"] == "too_many_orders"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    listed = client.get("/api/v1/orders", headers=bearer(app_campus, "student")).json
    assert listed["total"] == 3  # every accepted order is there; no refused one is


def test_the_in_flight_limit_refuses_with_429(client, app, app_campus):
    rt = views.runtime(app)
    with rt.admission.in_flight():  # hold every slot
        app.config["ORDERS_MAX_IN_FLIGHT"] = 1
        rt = views.runtime(app, rebuild=True)
        with rt.admission.in_flight():
            resp = post(client, app_campus)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"


def test_with_the_gateway_down_the_order_is_accepted_as_deferred(client, app, app_campus):
    admin = bearer(app_campus, "admin")
    assert (
        client.put("/api/v1/payments/gateway", json={"mode": "down"}, headers=admin).status_code
        == 200
    )
    resp = post(client, app_campus)
    assert resp.status_code == 201
    assert resp.json["payment"]["status"] == "deferred"
    assert "payment service is back" in resp.json["payment"]["message"]
    client.put("/api/v1/payments/gateway", json={"mode": "healthy"}, headers=admin)
    assert client.get("/api/v1/payments/gateway", headers=admin).json["mode"] == "healthy"
    bad = client.put("/api/v1/payments/gateway", json={"mode": "sleepy"}, headers=admin)
    assert bad.status_code == 422


def test_menus_and_merchants(client, app_campus):
    c = app_campus
    merchants = client.get("/api/v1/merchants", headers=bearer(c, "student")).json["merchants"]
    assert {m["id"] for m in merchants} == {c.merchant, c.other_merchant}
    menu = client.get(f"/api/v1/merchants/{c.merchant}/menu", headers=bearer(c, "student")).json
    rice = next(i for i in menu["items"] if i["id"] == c.rice)
    assert (rice["price_fen"], rice["remaining"], rice["allergens"]) == (1500, 15, ["soy"])
    assert client.get("/api/v1/merchants/999/menu", headers=bearer(c, "student")).status_code == 404


def test_refunds_through_the_api_are_idempotent(client, app_campus):
    c = app_campus
    order_id = post(client, c).json["id"]
    headers = bearer(c, "desk", **{"Idempotency-Key": "comp-9"})
    first = client.post(
        f"/api/v1/orders/{order_id}/refunds", json={"amount_fen": 500}, headers=headers
    )
    again = client.post(
        f"/api/v1/orders/{order_id}/refunds", json={"amount_fen": 500}, headers=headers
    )
    assert first.status_code == again.status_code == 201 and first.json == again.json
    assert (
        client.get(f"/api/v1/orders/{order_id}", headers=bearer(c, "student")).json["payment"][
            "refunded_fen"
        ]
        == 500
    )
    too_much = client.post(
        f"/api/v1/orders/{order_id}/refunds",
        json={"amount_fen": 10**6},
        headers=bearer(c, "desk", **{"Idempotency-Key": "x"}),
    )
    assert too_much.status_code == 422


# --------------------------------------------------------------------------- vouchers


def desk_voucher(session, config, order_id, amount, key="desk-1"):
    from orders.service import issue_voucher

    return issue_voucher(
        session=session, order_id=order_id, amount_fen=amount, idempotency_key=key,
        actor="user:desk", reason="complaint", config=config,
    )  # fmt: skip


def test_a_voucher_code_pays_the_order_and_the_answer_shows_the_discount(
    client, app, app_campus, session, config
):
    c = app_campus
    source = post(client, c, key="source").json["id"]
    v = desk_voucher(session, config, source, 5000)
    charges = charge_count(views.runtime(app).gateway.engine)
    resp = post(client, c, key="free", voucher_code=v.code, expected_total_fen=3000)
    assert resp.status_code == 201, resp.json
    made = resp.json
    assert (made["total_fen"], made["discount_fen"], made["lines_total_fen"]) == (0, 3000, 3000)
    assert made["voucher_id"] == v.voucher_id and made["payment"]["status"] == "paid"
    assert charge_count(views.runtime(app).gateway.engine) == charges  # no gateway call
    read = client.get(f"/api/v1/orders/{made['id']}", headers=bearer(c, "student")).json
    assert {k: read[k] for k in made} == made | {"payment": read["payment"]}
    assert set(read) - set(made) == {"ledger_index"}
    partial = post(client, c, key="partial", voucher_code=v.code).json  # 2000 left of 5000
    assert (partial["total_fen"], partial["discount_fen"]) == (1000, 2000)
    assert partial["payment"]["status"] == "paid"
    assert charge_count(views.runtime(app).gateway.engine) == charges + 1


def test_a_voucher_that_cannot_pay_is_4xx_naming_voucher_code(
    client, app, app_campus, session, config
):
    c = app_campus
    mine = desk_voucher(session, config, post(client, c, key="a").json["id"], 100, key="mine")
    theirs = desk_voucher(
        session, config, post(client, c, who="student2", key="b").json["id"], 100, key="theirs"
    )
    assert post(client, c, key="spend", voucher_code=mine.code).status_code == 201
    for code, status, error in (
        (mine.code, 409, "voucher_unusable"),  # spent
        (theirs.code, 422, "unknown_voucher"),
        ("V" + "Z" * 10, 422, "unknown_voucher"),
        ("not a code", 422, "invalid_order"),
    ):
        resp = post(client, c, voucher_code=code)
        assert (resp.status_code, resp.json["error"]["code"]) == (status, error), code
        assert resp.json["error"]["details"][0]["field"] == "voucher_code"
    listed = client.get("/api/v1/orders", headers=bearer(c, "student")).json
    assert listed["total"] == 2  # the source and the one that spent it


def test_vouchers_are_listed_to_their_owner_and_the_desk_only(
    client, app, app_campus, session, config
):
    c = app_campus
    v = desk_voucher(session, config, post(client, c, key="s").json["id"], 700)
    mine = client.get("/api/v1/vouchers", headers=bearer(c, "student")).json
    assert [(x["code"], x["balance_fen"], x["status"]) for x in mine["items"]] == [
        (v.code, 700, "usable")
    ]
    assert mine["total"] == 1 and mine["items"][0]["expires_at"]
    other = client.get("/api/v1/vouchers", headers=bearer(c, "student2")).json
    assert other["items"] == [] and other["total"] == 0
    sneaky = client.get(
        f"/api/v1/vouchers?user_id={c.users['student']}", headers=bearer(c, "student2")
    ).json
    assert sneaky["total"] == 0  # a student's filter is always themselves
    desk = client.get(
        f"/api/v1/vouchers?user_id={c.users['student']}", headers=bearer(c, "desk")
    ).json
    assert [x["id"] for x in desk["items"]] == [v.voucher_id]
    for who in ("merchant", "courier"):
        assert client.get("/api/v1/vouchers", headers=bearer(c, who)).status_code == 403
    post(client, c, key="use", voucher_code=v.code)
    usable = client.get("/api/v1/vouchers?usable=true", headers=bearer(c, "student")).json
    assert usable["total"] == 0
    spent = client.get("/api/v1/vouchers", headers=bearer(c, "student")).json["items"][0]
    assert (spent["balance_fen"], spent["status"]) == (0, "spent")
    doc = client.get("/api/v1/openapi.json").json
    assert "/api/v1/vouchers" in doc["paths"]
