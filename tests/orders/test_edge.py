"""The edge gate: order storms are refused before the web framework runs, and requests it lets
through are not counted twice by the in-app gate."""

from __future__ import annotations

import io
import json
import uuid

from orders import views
from orders.admission import Admission
from orders.edge import ADMITTED, AdmissionGate
from tests.orders.conftest import bearer


class App:
    """A WSGI app that records what reached it."""

    def __init__(self) -> None:
        self.seen: list[tuple[bool, bytes]] = []

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.seen.append((bool(environ.get(ADMITTED)), body))
        start_response("201 Created", [("Content-Type", "application/json")])
        return [b"{}"]


def call(gate, path="/api/v1/orders", method="POST", body=None, who="t1"):
    data = json.dumps(body if body is not None else {"merchant_id": 1}).encode()
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data), "HTTP_AUTHORIZATION": f"Bearer {who}",
    }  # fmt: skip
    status: list[str] = []
    headers: list[list[tuple[str, str]]] = []
    out = gate(environ, lambda s, h: (status.append(s), headers.append(h)))
    payload = b"".join(out)
    getattr(out, "close", lambda: None)()
    return status[0], dict(headers[0]), payload


def gates(**kw) -> Admission:
    base = dict(user_per_minute=2, merchant_per_second=100, max_in_flight=4)
    return Admission("memory://", **{**base, **kw})


def test_the_excess_is_refused_with_429_and_never_reaches_the_app():
    app, admission = App(), gates()
    gate = AdmissionGate(app, lambda: admission)
    assert call(gate)[0].startswith("201") and call(gate)[0].startswith("201")
    status, headers, body = call(gate)
    assert status.startswith("429")
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert json.loads(body)["error"]["code"] == "too_many_orders"
    assert len(app.seen) == 2
    assert app.seen[0] == (True, json.dumps({"merchant_id": 1}).encode())  # body intact, marked
    assert call(gate, who="someone-else")[0].startswith("201")


def test_the_merchant_rate_reads_the_json_body():
    app, admission = App(), gates(user_per_minute=100, merchant_per_second=1)
    gate = AdmissionGate(app, lambda: admission)
    assert call(gate, body={"merchant_id": 7})[0].startswith("201")
    assert call(gate, body={"merchant_id": 7}, who="t2")[0].startswith("429")
    assert call(gate, body={"merchant_id": 8}, who="t3")[0].startswith("201")
    assert call(gate, body={"merchant_id": "x"}, who="t4")[0].startswith("201")


def test_slots_are_given_back_when_the_response_is_closed():
    app, admission = App(), gates(user_per_minute=100, max_in_flight=1)
    gate = AdmissionGate(app, lambda: admission)
    for i in range(5):
        assert call(gate, who=f"t{i}")[0].startswith("201")


def test_other_requests_pass_untouched():
    app, admission = App(), gates(user_per_minute=1)
    gate = AdmissionGate(app, lambda: admission)
    for _ in range(3):
        assert call(gate, path="/api/v1/orders/1", method="POST")[0].startswith("201")
        assert call(gate, method="GET")[0].startswith("201")
    assert not any(marked for marked, _ in app.seen)


def test_behind_the_gate_the_app_counts_each_order_once(app, app_campus):
    app.config["ORDERS_USER_PER_MINUTE"] = 2
    views.runtime(app, rebuild=True)
    app.wsgi_app = AdmissionGate(app.wsgi_app, lambda: views.runtime(app).admission)
    client = app.test_client()
    body = {
        "merchant_id": app_campus.merchant,
        "items": [{"menu_item_id": app_campus.salad, "quantity": 1}],
        "address": {"building": "Dorm", "room": "1"},
    }
    statuses = [
        client.post("/api/v1/orders", json=body,
                    headers=bearer(app_campus, "student", **{"Idempotency-Key": uuid.uuid4().hex}))
        .status_code
        for _ in range(3)
    ]  # fmt: skip
    assert statuses == [201, 201, 429]
