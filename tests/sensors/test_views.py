"""Sensors pages and JSON endpoints: who may open what, live alerts, timelines, device admin."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from columns import utcnow
from sensors import coldchain
from tests.sensors.conftest import ROLES, csrf, readings, signer

# (method, path, roles allowed) for every sensors page and endpoint except the device upload.
PAGES = [
    ("GET", "/sensors/devices", {"admin"}),
    ("GET", "/sensors/alerts", {"admin", "desk", "merchant"}),
    ("GET", "/sensors/boxes/BOX-1", {"admin", "desk"}),
    ("GET", "/sensors/deliveries/5", {"admin", "desk", "merchant"}),
]
API = [
    ("GET", "/api/v1/sensors/alerts", {"admin", "desk", "merchant"}),
    ("GET", "/api/v1/sensors/devices", {"admin"}),
    ("GET", "/api/v1/sensors/boxes/BOX-1/verdict?from=2025-03-01T11:00:00Z", {"admin", "desk"}),
]


@pytest.fixture
def road(world):
    """probe-1 in BOX-1, delivery 5 of merchant 7 on the road since 20 minutes."""
    now = utcnow()
    made = world.device("probe-1", "BOX-1", bound_at=now - timedelta(hours=1))
    with world.session() as s:
        coldchain.watch_delivery(
            session=s,
            delivery_id=5,
            box_id="BOX-1",
            pickup_at=now - timedelta(minutes=20),
            food_class="hot",
            merchant_id=7,
        )
    return made


@pytest.fixture(scope="module")
def shared_road(shared_world):
    """`road` in the module's shared app (read-only tests)."""
    now = utcnow()
    made = shared_world.device("probe-1", "BOX-1", bound_at=now - timedelta(hours=1))
    with shared_world.session() as s:
        coldchain.watch_delivery(
            session=s,
            delivery_id=5,
            box_id="BOX-1",
            pickup_at=now - timedelta(minutes=20),
            food_class="hot",
            merchant_id=7,
        )
    return made


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "allowed"), PAGES)
def test_every_page_checks_the_role(shared_world, shared_road, role, method, path, allowed):
    client = shared_world.app.test_client()
    if role == "device":
        headers = {"Authorization": f"Bearer {shared_road.token}"}
        assert client.open(path, method=method, headers=headers).status_code == 403
        return
    signer(client)(role)
    resp = client.open(path, method=method)
    assert resp.status_code == (200 if role in allowed else 403), resp.get_data(as_text=True)[:300]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "allowed"), API)
def test_every_endpoint_checks_the_role(shared_world, shared_road, role, method, path, allowed):
    client = shared_world.app.test_client()
    resp = client.open(path, method=method, headers=shared_world.auth(role))
    assert resp.status_code == (200 if role in allowed else 403)


@pytest.mark.parametrize(
    "path", ["/sensors/devices", "/sensors/alerts", "/sensors/boxes/BOX-1", "/sensors/deliveries/5"]
)
def test_anonymous_visitors_are_sent_to_sign_in(shared_world, path):
    resp = shared_world.app.test_client().get(path)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize("path", ["/api/v1/sensors/alerts", "/api/v1/sensors/devices"])
def test_anonymous_api_calls_are_401(shared_world, path):
    assert shared_world.app.test_client().get(path).status_code == 401


def test_posting_readings_that_leave_the_range_raises_one_alert_seen_by_desk_and_merchant(
    client, world, road
):
    start = utcnow() - timedelta(minutes=3)
    resp = client.post(
        "/api/v1/sensors/readings",
        json=readings(start, [65.0, 50.0, 49.0]),
        headers=world.auth(road.token),
    )
    assert resp.status_code == 201
    client.post(  # more of the same excursion: no second alert
        "/api/v1/sensors/readings",
        json=readings(start + timedelta(minutes=3), [48.0]),
        headers=world.auth(road.token),
    )
    desk = client.get("/api/v1/sensors/alerts", headers=world.auth("desk")).json["alerts"]
    assert [(a["delivery_id"], a["peak_c"]) for a in desk] == [(5, 49.0)]  # peak when raised
    mine = client.get("/api/v1/sensors/alerts", headers=world.auth("merchant")).json["alerts"]
    assert [a["id"] for a in mine] == [desk[0]["id"]]


def test_a_merchant_sees_only_its_own_alerts(client, world, road, app):
    with world.session() as s:
        coldchain.watch_delivery(
            session=s,
            delivery_id=6,
            box_id="BOX-1",
            pickup_at=utcnow() - timedelta(minutes=20),
            food_class="hot",
            merchant_id=8,
        )
    client.post(
        "/api/v1/sensors/readings",
        json=readings(utcnow() - timedelta(minutes=1), [40.0]),
        headers=world.auth(road.token),
    )
    every = client.get("/api/v1/sensors/alerts", headers=world.auth("admin")).json["alerts"]
    assert sorted(a["delivery_id"] for a in every) == [5, 6]
    mine = client.get("/api/v1/sensors/alerts", headers=world.auth("merchant")).json["alerts"]
    assert [a["delivery_id"] for a in mine] == [5]


def test_alerts_page_polls_a_static_script_and_lists_alerts(client, login, world, road):
    client.post(
        "/api/v1/sensors/readings",
        json=readings(utcnow() - timedelta(minutes=1), [40.0]),
        headers=world.auth(road.token),
    )
    login("desk")
    page = client.get("/sensors/alerts").get_data(as_text=True)
    assert 'src="/sensors/static/alerts.js"' in page
    assert 'data-source="/api/v1/sensors/alerts"' in page
    assert "#5" in page and "<script>" not in page
    script = client.get("/sensors/static/alerts.js")
    assert script.status_code == 200 and "fetch(" in script.get_data(as_text=True)
    script.close()


def test_merchant_may_not_open_another_merchants_delivery(client, login, world, road):
    with world.session() as s:
        coldchain.watch_delivery(
            session=s,
            delivery_id=9,
            box_id="BOX-1",
            pickup_at=utcnow() - timedelta(minutes=5),
            food_class="hot",
            merchant_id=8,
        )
    login("merchant")
    assert client.get("/sensors/deliveries/9").status_code == 403
    assert client.get("/sensors/deliveries/404").status_code == 404


def test_box_page_shows_chart_verdict_and_excursions(client, login, world, road):
    start = utcnow().replace(second=0, microsecond=0) - timedelta(minutes=30)
    client.post(
        "/api/v1/sensors/readings",
        json=readings(start, [65.0] * 5 + [50.0] * 3 + [65.0] * 5),
        headers=world.auth(road.token),
    )
    login("desk")
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    end = start + timedelta(minutes=12)
    query = f"from={start.strftime(fmt)}&to={end.strftime(fmt)}&class=hot"
    page = client.get(f"/sensors/boxes/BOX-1?{query}").get_data(as_text=True)
    assert 'data-verdict="fail"' in page
    assert 'class="threshold"' in page and 'class="excursion"' in page
    assert page.count("<tr><td>") >= 1 and "50.0 °C" in page


@pytest.mark.parametrize(
    "query", ["?from=yesterday", "?class=lukewarm", "?from=2025-03-02T00:00Z&to=2025-03-01T00:00Z"]
)
def test_box_page_refuses_a_bad_window(client, login, road, query):
    login("admin")
    assert client.get(f"/sensors/boxes/BOX-1{query}").status_code == 400


def test_verdict_api_judges_the_window(client, world, road):
    start = utcnow().replace(microsecond=0) - timedelta(minutes=10)
    client.post(
        "/api/v1/sensors/readings",
        json=readings(start, [65.0, 66.0, 67.0]),
        headers=world.auth(road.token),
    )
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    to = start + timedelta(minutes=2)
    body = client.get(
        f"/api/v1/sensors/boxes/BOX-1/verdict?from={start.strftime(fmt)}&to={to.strftime(fmt)}&food_class=hot",
        headers=world.auth("desk"),
    ).json
    assert (body["verdict"], body["n_readings"], body["min_c"], body["max_c"]) == (
        "pass",
        3,
        65.0,
        67.0,
    )


def test_admin_registers_binds_and_revokes_a_device_on_the_devices_page(client, login, world):
    login("admin")
    token = csrf(client)
    page = client.post(
        "/sensors/devices",
        data={
            "device_id": "probe-9",
            "kind": "probe",
            "box_id": "BOX-9",
            "calibrated_on": "2025-01-15",
            "csrf_token": token,
        },
    ).get_data(as_text=True)
    shown = page.split('data-testid="device-token">', 1)[1].split("<", 1)[0]
    resp = client.post(
        "/api/v1/sensors/readings",
        json=readings(utcnow() - timedelta(minutes=1), [4.0]),
        headers={"Authorization": f"Bearer {shown}"},
    )
    assert resp.status_code == 201
    client.post("/sensors/devices/probe-9/bind", data={"box_id": "BOX-10", "csrf_token": token})
    devices = client.get("/api/v1/sensors/devices", headers=world.auth("admin")).json["devices"]
    assert [(d["device_id"], d["box_id"], d["calibrated_on"]) for d in devices] == [
        ("probe-9", "BOX-10", "2025-01-15")
    ]
    assert (
        client.post("/sensors/devices/probe-9/revoke", data={"csrf_token": token}).status_code
        == 302
    )
    resp = client.post(
        "/api/v1/sensors/readings",
        json=readings(utcnow() - timedelta(minutes=2), [4.0]),
        headers={"Authorization": f"Bearer {shown}"},
    )
    assert resp.status_code == 403


def test_devices_page_forms_need_csrf_and_report_bad_input(client, login):
    login("admin")
    assert client.post("/sensors/devices", data={"device_id": "probe-x"}).status_code == 400
    page = client.post(
        "/sensors/devices", data={"device_id": "bad id/", "csrf_token": csrf(client)}
    )
    assert page.status_code == 422 and 'data-testid="device-error"' in page.get_data(as_text=True)


def test_device_api_registers_and_conflicts(client, world):
    body = {"device_id": "probe-7", "box_id": "BOX-7"}
    made = client.post("/api/v1/sensors/devices", json=body, headers=world.auth("admin"))
    assert made.status_code == 201 and made.json["token"].startswith("ft_")
    again = client.post("/api/v1/sensors/devices", json=body, headers=world.auth("admin"))
    assert again.status_code == 409
    assert (
        client.post("/api/v1/sensors/devices/none/revoke", headers=world.auth("admin")).status_code
        == 404
    )
    bad = client.post(
        "/api/v1/sensors/devices",
        json={"device_id": "x", "kind": "toaster"},
        headers=world.auth("admin"),
    )
    assert bad.status_code == 422


@pytest.mark.parametrize("role", ["desk", "merchant", "courier", "student", "device"])
@pytest.mark.parametrize(
    "path", ["/api/v1/sensors/devices", "/api/v1/sensors/devices/probe-1/revoke"]
)
def test_only_admins_manage_devices_through_the_api(shared_world, shared_road, role, path):
    resp = shared_world.app.test_client().post(
        path, json={"device_id": "p"}, headers=shared_world.auth(role)
    )
    assert resp.status_code == 403


def test_ledger_verify_passes_after_ingest_bind_revoke_and_alerts(client, world, road, runner):
    client.post(
        "/api/v1/sensors/readings",
        json=readings(utcnow() - timedelta(minutes=3), [65.0, 40.0]),
        headers=world.auth(road.token),
    )
    world.device("probe-2", "BOX-1")  # evicts probe-1 from BOX-1
    from sensors import service

    with world.session() as s:
        service.revoke_device(session=s, device_id="probe-2")
    result = runner.invoke(args=["ledger", "verify", "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:")
    checked = runner.invoke(args=["sensors", "verify-readings"])
    assert checked.exit_code == 0 and "2 readings in 1 batches" in checked.output


def test_ledger_verify_names_a_tampered_device_row(client, world, road, runner):
    from sqlalchemy import text

    with world.session() as s:
        s.connection().execute(text("UPDATE sensor_devices SET box_id = 'BOX-X'"))
        s.commit()
    result = runner.invoke(args=["ledger", "verify", "--quiet"])
    assert result.exit_code == 1 and "sensor_devices" in result.output


def test_openapi_documents_the_readings_endpoint(shared_world):
    client = shared_world.app.test_client()
    spec = json.loads(client.get("/api/v1/openapi.json").get_data(as_text=True))
    assert "/api/v1/sensors/readings" in spec["paths"]
