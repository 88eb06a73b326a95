"""Who may use each trace endpoint and page: admin, desk, the record's merchant, another merchant,
courier, student and device. The generic matrix (tests/web) checks roles; this checks data."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.trace.campus import DESK, NOW, lot_input, merchant_viewer, production, receipt
from trace import imports, service
from web.db import get_session

OUTSIDERS = ("courier", "student", "device")
FIX = {"changes": {"location": "b"}, "reason": "r"}


@pytest.fixture
def north(app, campus):
    """The North Canteen's lot, batch, order line 77 and a finished upload."""
    with app.app_context():
        session = get_session()
        viewer = merchant_viewer(campus.north)
        lot = service.receive_lot(
            session=session, viewer=viewer, receipt=receipt(campus, "LET-1"), now=NOW
        )
        batch = service.produce_batch(
            session=session,
            viewer=viewer,
            production=production(campus, "DISH-1", [lot_input(lot.id)]),
            now=NOW,
        )
        service.record_allocation(
            session=session, order_line_id=77, batch_id=batch.id, quantity=1, actor="user:o"
        )
        submitted = imports.submit_upload(
            session=session,
            viewer=viewer,
            data=b"not,a,template\n",
            filename="x.csv",
            kind="receiving",
        )
        imports.process_upload(session=session, upload_id=submitted.upload.id, now=NOW)
        return {"lot": lot.id, "batch": batch.id, "upload": submitted.upload.id}


def reads(ids, campus):
    """GET requests about the North Canteen's records."""
    return [
        f"/api/v1/trace/lots/{ids['lot']}",
        f"/api/v1/trace/batches/{ids['batch']}",
        f"/api/v1/trace/uploads/{ids['upload']}",
        "/api/v1/trace/backward?kind=order_line&id=77",
        f"/api/v1/trace/backward?kind=batch&id={ids['batch']}",
        f"/api/v1/trace/forward?kind=lot&id={ids['lot']}",
        f"/api/v1/trace/export?format=csv&merchant_id={campus.north}",
        f"/api/v1/trace/completeness?merchant_id={campus.north}",
        f"/trace/uploads/{ids['upload']}",
        f"/trace/graph?kind=lot&id={ids['lot']}&direction=forward",
        f"/trace/merchant?merchant_id={campus.north}",
    ]


def writes(ids, campus):
    """POST requests changing the North Canteen's records (valid bodies)."""
    return [
        (f"/api/v1/trace/lots/{ids['lot']}/status", {"action": "hold", "reason": "check"}),
        (f"/api/v1/trace/batches/{ids['batch']}/status", {"action": "hold", "reason": "check"}),
        (f"/api/v1/trace/lots/{ids['lot']}/corrections", FIX),
        (f"/api/v1/trace/batches/{ids['batch']}/corrections", FIX),
        (
            f"/api/v1/trace/lots/{ids['lot']}/transfers",
            {"to_merchant_id": campus.south, "quantity": 1, "unit": "kg",
             "shipped_at": (NOW + timedelta(minutes=1)).isoformat()},
        ),
        (
            "/api/v1/trace/lots",
            {"merchant_id": campus.north, "tlc": "NEW", "product_id": campus.lettuce,
             "quantity": 1, "unit": "kg", "received_at": NOW.isoformat()},
        ),
    ]  # fmt: skip


def test_staff_and_the_owner_read_the_records(client, callers, north, campus):
    for who in ("admin", "desk", "merchant"):
        for url in reads(north, campus):
            answer = client.get(url, headers=callers[who].headers)
            assert answer.status_code == 200, (who, url, answer.status_code)


def test_another_merchant_reads_none_of_them(client, callers, north, campus):
    other = callers["other"]
    for url in reads(north, campus):
        answer = client.get(url, headers=other.headers)
        if url.startswith("/trace/merchant"):  # a merchant's page is always its own
            assert answer.status_code == 200 and "南区食堂" in answer.get_data(as_text=True)
        else:
            assert answer.status_code == 403, (url, answer.status_code)


def test_another_merchants_lists_and_exports_leave_out_the_records(client, callers, north):
    other = callers["other"].headers
    for path, key in (("lots", "lots"), ("batches", "batches"), ("uploads", "uploads")):
        assert client.get(f"/api/v1/trace/{path}", headers=other).get_json()[key] == []
    sheet = client.get("/api/v1/trace/export?format=csv", headers=other).get_data(as_text=True)
    assert "LET-1" not in sheet and "DISH-1" not in sheet
    pages = client.get("/trace/records", headers=other).get_data(as_text=True)
    assert "LET-1" not in pages


def test_outsiders_are_refused_everywhere(client, callers, north, campus):
    for who in OUTSIDERS:
        for url in [*reads(north, campus), "/trace/uploads", "/trace/completeness"]:
            assert client.get(url, headers=callers[who].headers).status_code == 403, (who, url)
        for url, body in writes(north, campus):
            assert client.post(url, json=body, headers=callers[who].headers).status_code == 403


def test_another_merchant_cannot_change_the_records(client, callers, north, campus):
    for url, body in writes(north, campus):
        answer = client.post(url, json=body, headers=callers["other"].headers)
        assert answer.status_code == 403, (url, answer.get_json())


def test_the_owner_and_admins_change_them_and_the_desk_may_hold(client, callers, north, campus):
    admin, desk, merchant = (callers[w].headers for w in ("admin", "desk", "merchant"))
    hold, batch_hold, fix, batch_fix, _transfer, create = writes(north, campus)
    assert client.post(hold[0], json=hold[1], headers=desk).status_code == 201
    assert client.post(batch_hold[0], json=batch_hold[1], headers=merchant).status_code == 201
    assert client.post(fix[0], json=fix[1], headers=desk).status_code == 403  # desk: no edits
    assert client.post(fix[0], json=fix[1], headers=merchant).status_code == 201
    assert client.post(batch_fix[0], json=batch_fix[1], headers=admin).status_code == 201
    answer = client.post(create[0], json=create[1], headers=admin)
    assert answer.status_code == 201 and answer.get_json()["merchant_id"] == campus.north
    assert client.post(create[0], json=create[1] | {"tlc": "N2"}, headers=desk).status_code == 403


def test_merchants_cannot_trace_from_a_supplier_and_see_no_customers(
    client, callers, north, campus
):
    answer = client.get(
        f"/api/v1/trace/forward?kind=supplier&id={campus.greens}",
        headers=callers["merchant"].headers,
    )
    assert answer.status_code == 403
    desk = client.get(
        f"/api/v1/trace/forward?kind=supplier&id={campus.greens}", headers=callers["desk"].headers
    )
    assert {n["kind"] for n in desk.get_json()["nodes"]} == {
        "supplier",
        "lot",
        "batch",
        "order_line",
    }
    assert DESK.sees_all
