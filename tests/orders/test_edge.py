"""The edge gate: order storms are refused before the web framework runs, and requests it lets
through are not counted twice by the in-app gate."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from flask import request, request_started

from orders import views
from orders.admission import Admission
from orders.edge import ADMITTED, AdmissionGate
from tests.orders.conftest import bearer


class App:
    """A WSGI app that records what reached it."""

    def __init__(self) -> None:
        self.seen: list[tuple[bool, bytes]] = []

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read()
        self.seen.append((bool(environ.get(ADMITTED)), body))
        start_response("201 Created", [("Content-Type", "application/json")])
        return [b"{}"]


def call(gate, path="/api/v1/orders", method="POST", body=None, who="t1", close=True):
    data = json.dumps(body if body is not None else {"merchant_id": 1}).encode()
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data), "HTTP_AUTHORIZATION": f"Bearer {who}",
    }  # fmt: skip
    status: list[str] = []
    headers: list[list[tuple[str, str]]] = []
    out = gate(environ, lambda s, h: (status.append(s), headers.append(h)))
    payload = b"".join(out)
    if close:
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


def test_slots_are_given_back_once_the_app_answered():
    app, admission = App(), gates(user_per_minute=100, max_in_flight=1)
    gate = AdmissionGate(app, lambda: admission)
    for i in range(5):
        assert call(gate, who=f"t{i}", close=False)[0].startswith("201")


def test_a_slot_is_given_back_when_the_app_raises():
    def broken(environ, start_response):
        raise RuntimeError("boom")

    admission = gates(user_per_minute=100, max_in_flight=1)
    gate = AdmissionGate(broken, lambda: admission)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            call(gate)
    assert call(AdmissionGate(App(), lambda: admission))[0].startswith("201")


def test_other_requests_pass_untouched():
    app, admission = App(), gates(user_per_minute=1)
    gate = AdmissionGate(app, lambda: admission)
    for _ in range(3):
        assert call(gate, path="/api/v1/orders/1", method="POST")[0].startswith("201")
        assert call(gate, method="GET")[0].startswith("201")
    assert not any(marked for marked, _ in app.seen)


def test_requests_without_a_bearer_token_are_left_to_the_in_app_gate():
    app, admission = App(), gates(user_per_minute=1)
    gate = AdmissionGate(app, lambda: admission)
    for _ in range(3):  # a session cookie: only the app knows whose it is
        assert call(gate, who="")[0].startswith("201")
    assert not any(marked for marked, _ in app.seen)


def test_a_body_without_a_usable_length_is_left_to_the_in_app_gate():
    app, admission = App(), gates(user_per_minute=1, merchant_per_second=1)
    gate = AdmissionGate(app, lambda: admission)
    for length in ("", "abc", str(10**6)):  # chunked, nonsense, too big to read here
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/orders", "CONTENT_LENGTH": length,
            "wsgi.input": io.BytesIO(b""), "HTTP_AUTHORIZATION": "Bearer t1",
        }  # fmt: skip
        gate(environ, lambda s, h: None)
    assert [marked for marked, _ in app.seen] == [False] * 3  # the app's gate will count them


def test_a_request_an_outer_gate_admitted_is_not_counted_again():
    app, admission = App(), gates(user_per_minute=1)
    gate = AdmissionGate(AdmissionGate(app, lambda: admission), lambda: admission)
    assert call(gate)[0].startswith("201")
    assert call(gate)[0].startswith("429")
    assert len(app.seen) == 1


def _place_three(app, app_campus) -> tuple[list[int], list[str], dict[str, str]]:
    """Three API orders by one student, with a per-minute limit of 2; returns the statuses,
    the order paths Flask saw and the refusal's headers."""
    app.config["ORDERS_USER_PER_MINUTE"] = 2
    views.runtime(app, rebuild=True)
    seen: list[str] = []

    def started(_sender, **_extra) -> None:
        if request.method == "POST":
            seen.append(request.path)

    request_started.connect(started, app)
    client = app.test_client()
    body = {
        "merchant_id": app_campus.merchant,
        "items": [{"menu_item_id": app_campus.salad, "quantity": 1}],
        "address": {"building": "Dorm", "room": "1"},
    }
    responses = [
        client.post("/api/v1/orders", json=body,
                    headers=bearer(app_campus, "student", **{"Idempotency-Key": uuid.uuid4().hex}))
        for _ in range(3)
    ]  # fmt: skip
    request_started.disconnect(started, app)
    return [r.status_code for r in responses], seen, dict(responses[-1].headers)


def test_init_app_puts_the_gate_in_front_of_flask(app, app_campus):
    statuses, seen, headers = _place_three(app, app_campus)
    assert statuses == [201, 201, 429]  # each order counted once (edge, not again in the app)
    assert seen == ["/api/v1/orders"] * 2  # the refusal never reached Flask
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert headers["X-Frame-Options"] == "DENY" and "Content-Security-Policy" in headers


def test_with_the_edge_gate_off_the_in_app_gate_refuses(app, app_campus):
    app.config["ORDERS_EDGE_GATE"] = False
    statuses, seen, _headers = _place_three(app, app_campus)
    assert statuses == [201, 201, 429]
    assert seen == ["/api/v1/orders"] * 3  # Flask ran for the refusal too
