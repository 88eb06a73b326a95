"""The trace JSON API: master data, events, status, corrections, traces, exports, OpenAPI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from tests.trace.campus import SHARED_EPCIS
from tests.trace.epcis_schema import schema_errors

API = "/api/v1/trace"


def now_iso(hours: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def lot_body(campus, tlc: str, **extra):
    body = {
        "tlc": tlc,
        "product": "Lettuce 生菜",
        "quantity": 12.5,
        "unit": "kg",
        "received_at": now_iso(-5),
        "supplier_id": campus.greens,
        "tlc_source": "Chongming farm",
        "location": "cold room",
        "reference_document_type": "Invoice",
        "reference_document_number": f"INV-{tlc}",
        "storage": "chilled",
    }
    return body | extra


def post(client, caller, path, body):
    return client.post(API + path, json=body, headers=caller.headers)


def get(client, caller, path, **params):
    return client.get(API + path, query_string=params, headers=caller.headers)


@pytest.fixture
def chain(client, campus, callers):
    """A lot → sauce → dish chain of the North Canteen made through the API, and two order lines."""
    m = callers["merchant"]
    lot = post(client, m, "/lots", lot_body(campus, "LET-9")).get_json()
    sauce = post(
        client,
        m,
        "/batches",
        {
            "batch_code": "SAUCE-9",
            "product": "Sesame sauce",
            "quantity": 2,
            "unit": "kg",
            "completed_at": now_iso(-3),
            "inputs": [{"kind": "lot", "id": lot["id"], "quantity": 1, "unit": "kg"}],
        },
    ).get_json()
    dish = post(
        client,
        m,
        "/batches",
        {
            "batch_code": "DISH-9",
            "product": "Salad",
            "quantity": 30,
            "unit": "份",
            "completed_at": now_iso(-2),
            "location": "North kitchen",
            "inputs": [
                {"code": "LET-9", "quantity": 3, "unit": "kg"},
                {"code": "SAUCE-9", "quantity": 0.5, "unit": "kg"},
            ],
        },
    ).get_json()
    from trace import service
    from web.db import get_session

    with client.application.app_context():
        service.record_allocations(
            session=get_session(),
            allocations=[(501, dish["id"], 1, None), (502, dish["id"], 2, None)],
            actor="user:orders",
        )
    return {"lot": lot, "sauce": sauce, "dish": dish}


def test_master_data_is_created_and_listed(client, callers):
    admin, merchant = callers["admin"], callers["merchant"]
    made = post(
        client,
        admin,
        "/merchants",
        {"name": "西区 West", "licence_number": "JY9", "licence_expires_on": "2030-01-01"},
    )
    assert made.status_code == 201, made.get_json()
    supplier = post(
        client,
        merchant,
        "/suppliers",
        {
            "name": "New Farm",
            "licence_number": "SC9",
            "certificates": [{"kind": "SC", "number": "1", "expires_on": "2030-01-01"}],
        },
    )
    assert supplier.status_code == 201
    assert supplier.get_json()["certificates"][0]["expires_on"] == "2030-01-01"
    assert post(client, merchant, "/merchants", {"name": "x"}).status_code == 403
    assert (
        post(client, merchant, "/suppliers", {"name": "Dup", "licence_number": "SC9"}).status_code
        == 409
    )
    product = post(client, merchant, "/products", {"name": "Tofu 豆腐", "category": "ingredient"})
    assert product.status_code == 201
    names = [p["name"] for p in get(client, merchant, "/products").get_json()["products"]]
    assert "Tofu 豆腐" in names
    mine = get(client, merchant, "/merchants").get_json()["merchants"]
    assert [m["id"] for m in mine] == [merchant.merchant_id]


def test_a_lot_and_batches_recorded_through_the_api_are_traced_both_ways(client, callers, chain):
    desk = callers["desk"]
    back = get(client, desk, "/backward", kind="order_line", id=501).get_json()
    kinds = {(n["kind"], n["label"].split(" · ")[0]) for n in back["nodes"]}
    assert {("batch", "DISH-9"), ("batch", "SAUCE-9"), ("lot", "LET-9")} <= kinds
    assert ("supplier", "绿源蔬菜 Green Source") in {(n["kind"], n["label"]) for n in back["nodes"]}
    assert all(n["ledger_index"] is not None for n in back["nodes"])
    depth = {(n["kind"], n["id"]): n["depth"] for n in back["nodes"]}
    assert depth[("lot", str(chain["lot"]["id"]))] == 2  # the shortest path: dish ← lot
    forward = get(client, desk, "/forward", kind="lot", id=chain["lot"]["id"]).get_json()
    lines = sorted(n["id"] for n in forward["nodes"] if n["kind"] == "order_line")
    assert lines == ["501", "502"]
    bounded = get(
        client, desk, "/forward", kind="lot", id=chain["lot"]["id"], until=now_iso(-2.5)
    ).get_json()
    assert {n["kind"] for n in bounded["nodes"]} == {"lot", "batch"}  # only the sauce by then


def test_trace_queries_validate_their_input(client, callers):
    desk = callers["desk"]
    assert get(client, desk, "/backward", kind="supplier", id=1).status_code == 422
    assert get(client, desk, "/forward", kind="lot", id=999).status_code == 404
    assert get(client, desk, "/forward", kind="lot").status_code == 422
    assert get(client, desk, "/forward", kind="lot", id=1, since="yesterday").status_code == 422


def test_status_changes_and_corrections_through_the_api(client, callers, chain):
    merchant, desk = callers["merchant"], callers["desk"]
    lot_id = chain["lot"]["id"]
    held = post(client, desk, f"/lots/{lot_id}/status", {"action": "hold", "reason": "case 7"})
    assert held.status_code == 201 and held.get_json()["status"] == "on_hold"
    again = post(client, desk, f"/lots/{lot_id}/status", {"action": "hold", "reason": "again"})
    assert again.status_code == 409
    fixed = post(
        client,
        merchant,
        f"/lots/{lot_id}/corrections",
        {"changes": {"quantity": 11.0, "location": "cold room 2"}, "reason": "scale error"},
    )
    assert fixed.status_code == 201, fixed.get_json()
    assert fixed.get_json()["changed"] == ["location", "quantity"]
    lot = get(client, merchant, f"/lots/{lot_id}").get_json()
    assert (lot["quantity"], lot["location"], lot["status"]) == (11.0, "cold room 2", "on_hold")
    bad = post(
        client, merchant, f"/lots/{lot_id}/corrections", {"changes": {"colour": 1}, "reason": "x"}
    )
    assert bad.status_code == 422
    relink = post(
        client,
        merchant,
        f"/batches/{chain['sauce']['id']}/corrections",
        {
            "changes": {
                "inputs": [
                    {"kind": "batch", "id": chain["dish"]["id"], "quantity": 1, "unit": "kg"}
                ]
            },
            "reason": "x",
        },
    )
    # the dish was made from the sauce (and after it): it cannot become the sauce's input
    assert relink.status_code == 422
    sauce = get(client, merchant, f"/batches/{chain['sauce']['id']}").get_json()
    assert sauce["inputs"] == [{"kind": "lot", "id": lot_id, "quantity": 1.0, "unit": "kg"}]


def test_an_uploaded_csv_with_one_bad_row_stores_nothing_and_names_the_row(client, callers, campus):
    data = receiving_csv(
        [
            row("LET-1"),
            row("LET-2", quantity="-3"),
            row("LET-3", received_on=(datetime.now(UTC) + timedelta(days=2)).date().isoformat()),
        ]
    )
    answer = upload(client, callers["merchant"], data, "lots.csv")
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "upload_rejected"
    assert {(e["row"], e["column"]) for e in error["details"]} == {
        (3, "quantity"),
        (4, "received_on"),
    }
    lots = get(client, callers["merchant"], "/lots").get_json()["lots"]
    assert lots == []


def test_partial_uploads_store_the_good_rows(client, callers, campus):
    data = receiving_csv([row("LET-1"), row("LET-2", unit="furlong"), row("LET-3")])
    answer = upload(client, callers["merchant"], data, "lots.csv", partial="true")
    assert answer.status_code == 201
    body = answer.get_json()
    assert (body["outcome"], body["created_count"], body["error_count"]) == ("partial", 2, 1)
    assert body["errors"][0]["row"] == 3 and body["errors"][0]["column"] == "unit"
    codes = {lot["tlc"] for lot in get(client, callers["merchant"], "/lots").get_json()["lots"]}
    assert codes == {"LET-1", "LET-3"}


def test_the_same_file_twice_creates_nothing_new(client, callers, campus):
    data = receiving_csv([row("LET-1"), row("LET-2")])
    first = upload(client, callers["merchant"], data, "lots.csv")
    second = upload(client, callers["merchant"], data, "renamed.csv")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json()["id"] == first.get_json()["id"]
    assert len(get(client, callers["merchant"], "/lots").get_json()["lots"]) == 2


def test_a_rejected_file_is_checked_again_when_uploaded_again(client, callers, campus):
    data = receiving_csv([row("LET-1", supplier="SC555")])
    first = upload(client, callers["merchant"], data, "lots.csv")
    assert first.status_code == 422
    post(client, callers["admin"], "/suppliers", {"name": "Late Farm", "licence_number": "SC555"})
    second = upload(client, callers["merchant"], data, "lots.csv")
    assert second.status_code == 201, second.get_json()


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_chinese_headers_in_gbk_and_utf8_with_bom_are_read(client, callers, campus, encoding):
    from trace.columns import COLUMNS

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.zh for c in COLUMNS["receiving"]])
    writer.writerow(list(row("生菜-1", product="生菜").values()))
    answer = upload(client, callers["merchant"], buffer.getvalue().encode(encoding), "收货.csv")
    assert answer.status_code == 201, answer.get_json()
    [lot] = get(client, callers["merchant"], "/lots").get_json()["lots"]
    assert lot["tlc"] == "生菜-1"


def test_formula_injection_and_unknown_lot_references_are_reported(client, callers, campus):
    bad = upload(client, callers["merchant"], receiving_csv([row("=HYPERLINK(1)")]), "x.csv")
    assert bad.get_json()["error"]["details"][0]["column"] == "tlc"
    assert "formula" in bad.get_json()["error"]["details"][0]["reason"]
    production = production_csv([prod_row("DISH-1", "NO-SUCH-LOT")])
    answer = upload(client, callers["merchant"], production, "p.csv", kind="production")
    [error] = answer.get_json()["error"]["details"]
    assert (error["row"], error["column"], error["code"]) == (2, "input_code", "unknown_reference")


def test_production_uploads_build_sub_batches_from_the_same_file(client, callers, campus):
    upload(client, callers["merchant"], receiving_csv([row("LET-1")]), "r.csv")
    data = production_csv([prod_row("SAUCE-1", "LET-1"), prod_row("DISH-1", "SAUCE-1")])
    answer = upload(client, callers["merchant"], data, "p.csv", kind="production")
    assert answer.status_code == 201, answer.get_json()
    batches = get(client, callers["merchant"], "/batches").get_json()["batches"]
    dish = next(b for b in batches if b["batch_code"] == "DISH-1")
    full = get(client, callers["merchant"], f"/batches/{dish['id']}").get_json()
    sauce = next(b for b in batches if b["batch_code"] == "SAUCE-1")
    assert full["inputs"] == [{"kind": "batch", "id": sauce["id"], "quantity": 1.0, "unit": "kg"}]


def test_an_oversize_upload_is_refused_with_413(client, callers):
    data = b"x" * (10 * 1024 * 1024 + 1)
    answer = upload(client, callers["merchant"], data, "big.csv")
    assert answer.status_code == 413


def test_large_uploads_run_in_the_background_with_progress(client, callers, campus):
    rows = [row(f"LOT-{i}") for i in range(2100)]
    answer = upload(client, callers["merchant"], receiving_csv(rows), "big.csv")
    assert answer.status_code in (201, 202)
    upload_id = answer.get_json()["id"]
    state = get(client, callers["merchant"], f"/uploads/{upload_id}").get_json()
    assert (state["status"], state["progress"], state["created_count"]) == ("finished", 100, 2100)


def test_templates_download_in_both_languages(client, callers):
    csv_zh = get(client, callers["merchant"], "/templates/receiving", lang="zh-CN", format="csv")
    assert csv_zh.status_code == 200 and "追溯批次码".encode() in csv_zh.data
    xlsx = get(client, callers["merchant"], "/templates/production", lang="en", format="xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).worksheets[0]
    assert sheet.cell(1, 1).value == "Batch code"


def test_the_fsma_spreadsheet_has_one_row_per_receipt_and_per_input(client, callers, chain):
    answer = get(client, callers["desk"], "/export", format="csv")
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.data.decode("utf-8-sig"))))
    kinds = [r["Event type"] for r in rows]
    assert kinds.count("Receiving") == 1 and kinds.count("Transformation") == 3
    lot_only = get(client, callers["desk"], "/export", format="csv", lot="SAUCE-9")
    codes = {
        r["Traceability lot code"]
        for r in csv.DictReader(io.StringIO(lot_only.data.decode("utf-8-sig")))
    }
    assert codes == {"SAUCE-9", "DISH-9"}  # the sauce's transformation and the one using it
    xlsx = get(client, callers["desk"], "/export", format="xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).worksheets[0]
    assert sheet.max_row == 1 + len(rows)


def test_the_epcis_export_validates_against_the_gs1_schema(client, callers, chain):
    post(
        client,
        callers["desk"],
        f"/lots/{chain['lot']['id']}/status",
        {"action": "hold", "reason": "x"},
    )
    answer = get(client, callers["desk"], "/export", format="epcis")
    document = json.loads(answer.data)
    assert schema_errors(document) == []
    types = sorted(e["type"] for e in document["epcisBody"]["eventList"])
    assert types == ["ObjectEvent", "ObjectEvent", "TransformationEvent", "TransformationEvent"]


def test_completeness_lists_missing_kdes_and_expiring_documents(client, callers, campus):
    post(
        client,
        callers["merchant"],
        "/lots",
        lot_body(campus, "BARE", location=None, reference_document_number=None),
    )
    answer = get(client, callers["merchant"], "/completeness").get_json()
    [mine] = answer["merchants"]
    assert mine["merchant_id"] == campus.north
    assert mine["missing"] == {"lot:location": 1, "lot:reference_document": 1}
    assert mine["score"] == pytest.approx(6 / 8)
    expired = [e for e in mine["expiring"] if e["expired"]]
    assert expired == []  # the expired poultry certificate is not one of its suppliers'


def test_the_openapi_document_describes_the_trace_api(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/trace/backward",
        "/api/v1/trace/forward",
        "/api/v1/trace/epcis",
        "/api/v1/trace/uploads",
        "/api/v1/trace/export",
    ):
        assert path in spec["paths"], path
    params = {p["name"] for p in spec["paths"]["/api/v1/trace/forward"]["get"]["parameters"]}
    assert {"kind", "id", "since", "until"} <= params


# ------------------------------------------------------------------ upload helpers


def row(tlc: str, **values: str) -> dict[str, str]:
    base = {
        "tlc": tlc,
        "product": "Lettuce",
        "quantity": "20",
        "unit": "kg",
        "supplier": "SC101",
        "tlc_source": "Chongming farm",
        "tlc_source_reference": "",
        "received_on": (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
        "location": "cold room",
        "reference_document_type": "Invoice",
        "reference_document_number": f"D-{tlc}",
        "expiry_date": "",
        "storage": "chilled",
    }
    return base | values


def receiving_csv(rows: list[dict[str, str]]) -> bytes:
    from trace.columns import COLUMNS

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.en for c in COLUMNS["receiving"]])
    for values in rows:
        writer.writerow([values[c.key] for c in COLUMNS["receiving"]])
    return buffer.getvalue().encode()


def prod_row(code: str, input_code: str) -> dict[str, str]:
    return {
        "batch_code": code,
        "product": "Dish",
        "quantity": "10",
        "unit": "portion",
        "completed_at": (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M+00:00"),
        "location": "kitchen",
        "reference_document_type": "log",
        "reference_document_number": f"L-{code}",
        "input_code": input_code,
        "input_quantity": "1",
        "input_unit": "kg",
    }


def production_csv(rows: list[dict[str, str]]) -> bytes:
    from trace.columns import COLUMNS

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.en for c in COLUMNS["production"]])
    for values in rows:
        writer.writerow([values[c.key] for c in COLUMNS["production"]])
    return buffer.getvalue().encode()


def upload(client, caller, data: bytes, name: str, kind: str = "receiving", **extra: str):
    """POST a multipart form built here: the test client spools large bodies to a temporary
    file it never closes."""
    boundary = "----trace-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in {"kind": kind, **extra}.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return client.post(
        API + "/uploads",
        data=body,
        headers=caller.headers,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_every_shared_epcis_file_is_captured_once_set_up(client, callers, campus):
    merchant = callers["merchant"]
    files = sorted(p for p in SHARED_EPCIS.glob("*.json*") if "Schema" not in p.name)
    for code in (
        "urn:epc:id:sgtin:4012345.011122.25",
        "urn:epc:id:sgtin:4000001.065432.99886655",
        "urn:epc:class:lgtin:4012345.011111.4444",
        "urn:epc:class:lgtin:0614141.077777.987",
    ):
        answer = post(
            client, merchant, "/lots", lot_body(campus, code, received_at="2013-10-30T10:00:00Z")
        )
        assert answer.status_code == 201, answer.get_json()
    for path in files:
        answer = client.post(
            API + "/epcis",
            data=path.read_bytes(),
            headers={**merchant.headers, "Content-Type": "application/ld+json"},
        )
        assert answer.status_code == 201, (path.name, answer.get_json())
        body = answer.get_json()
        assert body["captured"] and all(c["ledger_index"] is not None for c in body["captured"])
        repeat = client.post(
            API + "/epcis",
            data=path.read_bytes(),
            headers={**merchant.headers, "Content-Type": "application/ld+json"},
        )
        assert repeat.status_code == 200 and repeat.get_json()["captured"] == body["captured"]


def test_a_retried_lot_post_answers_200_with_the_same_lot_and_other_facts_409(
    client, campus, callers
):
    m = callers["merchant"]
    body = lot_body(campus, "LET-RETRY")
    first = post(client, m, "/lots", body)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = post(client, m, "/lots", body)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["ledger_index"] == first.get_json()["ledger_index"]
    other = post(client, m, "/lots", body | {"quantity": 13})
    assert other.status_code == 409
    assert "LET-RETRY" in other.get_json()["error"]["message"]
    listed = get(client, m, "/lots").get_json()["lots"]
    assert [lot["tlc"] for lot in listed].count("LET-RETRY") == 1


def test_a_retried_batch_post_answers_200_with_the_same_batch(client, campus, callers):
    m = callers["merchant"]
    lot = post(client, m, "/lots", lot_body(campus, "LET-R2")).get_json()
    body = {
        "batch_code": "DISH-R2",
        "product": "Salad",
        "quantity": 30,
        "unit": "份",
        "completed_at": now_iso(-2),
        "inputs": [{"kind": "lot", "id": lot["id"], "quantity": 3, "unit": "kg"}],
    }
    first = post(client, m, "/batches", body)
    assert first.status_code == 201
    again = post(client, m, "/batches", body)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    changed = body | {"inputs": [{"kind": "lot", "id": lot["id"], "quantity": 4, "unit": "kg"}]}
    assert post(client, m, "/batches", changed).status_code == 409
