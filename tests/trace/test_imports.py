"""Uploads at the service level: XLSX, production files, supplier look-up, the background task."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from openpyxl import Workbook
from sqlalchemy import select

import ledger
from tests.trace.campus import NOW, merchant_viewer
from trace import imports, tasks
from trace.columns import COLUMNS
from trace.errors import InvalidRecord, UploadTooLarge
from trace.models import PROJECTIONS, DishBatch, IngredientLot, Product, Upload

YESTERDAY = (NOW - timedelta(days=1)).date().isoformat()


def xlsx(kind, rows):
    book = Workbook()
    sheet = book.active
    sheet.append([c.zh for c in COLUMNS[kind]])
    for values in rows:
        sheet.append([values.get(c.key, "") for c in COLUMNS[kind]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def lot_row(tlc, **extra):
    return {
        "tlc": tlc,
        "product": "鸡腿肉",
        "quantity": 5,
        "unit": "公斤",
        "supplier": "绿源蔬菜 Green Source",
        "tlc_source": "farm",
        "received_on": YESTERDAY,
        "location": "冷库",
        "reference_document_type": "送货单",
        "reference_document_number": f"D-{tlc}",
        "storage": "冷冻",
    } | extra


def batch_row(code, source, **extra):
    return {
        "batch_code": code,
        "product": "宫保鸡丁",
        "quantity": 40,
        "unit": "份",
        "completed_at": (NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "location": "后厨",
        "input_code": source,
        "input_quantity": 2,
        "input_unit": "kg",
    } | extra


def run(session, campus, data, kind="receiving", partial=False, name="f.xlsx"):
    viewer = merchant_viewer(campus.north)
    submitted = imports.submit_upload(
        session=session, viewer=viewer, data=data, filename=name, kind=kind, partial=partial
    )
    return imports.process_upload(session=session, upload_id=submitted.upload.id, now=NOW)


def test_an_xlsx_with_chinese_headers_is_imported_with_suppliers_found_by_name(session, campus):
    upload = run(session, campus, xlsx("receiving", [lot_row("CHK-1"), lot_row("CHK-2")]))
    assert (upload.outcome, upload.created_count) == ("accepted", 2), upload.errors
    lots = session.execute(select(IngredientLot).order_by(IngredientLot.id)).scalars().all()
    assert [(lot.tlc, lot.unit, lot.storage, lot.supplier_id) for lot in lots] == [
        ("CHK-1", "kg", "frozen", campus.greens),
        ("CHK-2", "kg", "frozen", campus.greens),
    ]
    product = session.get(Product, lots[0].product_id)
    assert product.name == "鸡腿肉" and product.category == "ingredient"
    assert ledger.verify(session, projections=PROJECTIONS).ok


def test_unknown_suppliers_and_codes_recorded_before_are_row_errors(session, campus):
    run(session, campus, xlsx("receiving", [lot_row("CHK-1")]))
    upload = run(
        session, campus, xlsx("receiving", [lot_row("CHK-1"), lot_row("CHK-3", supplier="Nobody")])
    )
    assert upload.outcome == "rejected"
    assert [(e["row"], e["column"], e["code"]) for e in upload.errors] == [
        (2, "tlc", "DuplicateCode"),
        (3, "supplier", "UnknownReference"),
    ]


def csv_file(kind, rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.en for c in COLUMNS[kind]])
    writer.writerows([values.get(c.key, "") for c in COLUMNS[kind]] for values in rows)
    return out.getvalue().encode()


def test_a_partial_receiving_upload_writes_every_row_without_a_problem(session, campus):
    run(session, campus, xlsx("receiving", [lot_row("CHK-1")]))
    rows = [
        lot_row("CHK-1"),  # recorded before
        lot_row("CHK-2", supplier="Nobody"),
        lot_row("CHK-3", quantity=0),
        lot_row("CHK-4", product="新产品"),
        lot_row("CHK-5", supplier="SC202"),  # every certificate expired
        lot_row("CHK-6", received_on="2099-01-01"),
    ]
    upload = run(session, campus, csv_file("receiving", rows), partial=True, name="f.csv")
    assert (upload.outcome, upload.created_count) == ("partial", 1)
    assert [(e["row"], e["column"], e["code"]) for e in upload.errors] == [
        (2, "tlc", "DuplicateCode"),
        (3, "supplier", "UnknownReference"),
        (4, "quantity", "not_positive"),
        (6, "supplier", "LicenceExpired"),
        (7, "received_on", "future"),
    ]
    lots = session.execute(select(IngredientLot).order_by(IngredientLot.id)).scalars().all()
    assert [lot.tlc for lot in lots] == ["CHK-1", "CHK-4"]
    assert session.get(Product, lots[1].product_id).name == "新产品"
    assert upload.result == {"lot_ids": [lots[1].id]}
    assert ledger.verify(session, projections=PROJECTIONS).ok


def test_a_rejected_upload_leaves_no_new_products(session, campus):
    before = session.execute(select(Product.id)).all()
    upload = run(
        session, campus, xlsx("receiving", [lot_row("X", product="全新产品", supplier="Nobody")])
    )
    assert upload.outcome == "rejected"
    assert session.execute(select(Product.id)).all() == before


def test_a_partial_production_upload_skips_batches_built_on_bad_ones(session, campus):
    run(session, campus, xlsx("receiving", [lot_row("CHK-1")]))
    rows = [
        batch_row("SAUCE", "CHK-1", unit="bucket"),  # bad unit
        batch_row("DISH", "SAUCE"),  # built on the bad batch
        batch_row("RICE", "CHK-1"),
    ]
    upload = run(session, campus, xlsx("production", rows), kind="production", partial=True)
    assert upload.outcome == "partial"
    assert {(e["row"], e["column"]) for e in upload.errors} == {(2, "unit"), (3, "input_code")}
    codes = session.execute(select(DishBatch.batch_code)).scalars().all()
    assert codes == ["RICE"]


def test_uploads_refuse_empty_oversize_and_unknown_kinds(session, campus):
    viewer = merchant_viewer(campus.north)
    for data, kind, error in (
        (b"", "receiving", InvalidRecord),
        (b"x" * 11, "receiving", UploadTooLarge),
        (b"x", "invoices", InvalidRecord),
    ):
        try:
            imports.submit_upload(
                session=session, viewer=viewer, data=data, filename="f.csv", kind=kind, max_bytes=10
            )
        except error:
            continue
        raise AssertionError(f"{kind} {len(data)} bytes was accepted")


def test_a_file_that_cannot_be_read_is_rejected_with_one_file_error(session, campus):
    upload = run(session, campus, b"\x00\x01binary", name="f.xls")
    assert upload.outcome == "rejected"
    assert upload.errors == [
        {
            "row": 1,
            "column": "file",
            "code": "UploadError",
            "reason": "f.xls is an old .xls workbook: save it as .xlsx or .csv",
        }
    ]


def test_the_background_task_processes_an_upload_once(app, session, campus):
    viewer = merchant_viewer(campus.north)
    data = xlsx("receiving", [lot_row("CHK-1")])
    submitted = imports.submit_upload(
        session=session, viewer=viewer, data=data, filename="f.xlsx", kind="receiving"
    )
    assert submitted.upload.status == "queued" and submitted.upload.total_rows == 1
    assert tasks.import_upload.apply(args=(submitted.upload.id,)).get() == "accepted"
    assert tasks.import_upload.apply(args=(submitted.upload.id,)).get() == "accepted"  # again
    session.expire_all()
    upload = session.get(Upload, submitted.upload.id)
    assert (upload.status, upload.progress, upload.created_count) == ("finished", 100, 1)
    assert len(session.execute(select(IngredientLot)).all()) == 1


def test_large_files_are_sent_to_the_background(session, campus):
    rows = "\n".join(f"row {i}" for i in range(2500)).encode()
    submitted = imports.submit_upload(
        session=session,
        viewer=merchant_viewer(campus.north),
        data=b"header\n" + rows,
        filename="f.csv",
        kind="receiving",
    )
    assert imports.runs_in_background(submitted.upload)
