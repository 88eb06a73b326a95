"""FSMA 204 sortable spreadsheet: one row per receiving and per transformation input."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
from openpyxl import load_workbook

from trace.fsma import (
    COLUMNS,
    ReceivingKde,
    TransformationInput,
    TransformationKde,
    build_sheet,
    headers,
    to_csv,
    to_xlsx,
)

D1 = date(2025, 3, 1)
D2 = date(2025, 3, 2)


def receiving(tlc: str, on: date, **overrides: object) -> ReceivingKde:
    fields: dict[str, object] = {
        "tlc": tlc,
        "product": "Chicken thigh",
        "quantity": 20,
        "unit": "kg",
        "immediate_previous_source": "Jiading Poultry Co.",
        "tlc_source": "Jiading Poultry Co., 88 Jiangqiao Rd",
        "location": "Canteen 2 cold room",
        "received_on": on,
        "reference_document_type": "Invoice",
        "reference_document_number": f"INV-{tlc}",
        "ledger_index": 7,
    }
    fields.update(overrides)
    return ReceivingKde(**fields)  # type: ignore[arg-type]


def dish(tlc: str, on: date, inputs: list[str]) -> TransformationKde:
    return TransformationKde(
        tlc=tlc,
        product="Kung pao chicken",
        quantity=40,
        unit="portion",
        location="Canteen 2 kitchen",
        completed_on=on,
        inputs=tuple(TransformationInput(code, "ingredient", 1.5, "kg") for code in inputs),
        reference_document_type="Production log",
        reference_document_number=f"PL-{tlc}",
        ledger_index=9,
    )


def column(frame: pd.DataFrame, key: str) -> list[Any]:
    """A column by key, whatever the header language."""
    index = [k for k, _, _ in COLUMNS].index(key)
    return frame.iloc[:, index].tolist()


def test_one_row_per_receiving_and_per_transformation_input() -> None:
    events: list[ReceivingKde | TransformationKde] = [
        receiving("CHK-1", D1),
        receiving("OIL-1", D1),
        dish("KP-1", D2, ["CHK-1", "OIL-1", "SAUCE-1"]),
        dish("EMPTY-1", D2, []),
    ]
    frame = build_sheet(events)
    expected_rows = 2 + 3 + 1
    assert len(frame) == expected_rows
    kp_inputs = [
        i
        for t, i in zip(column(frame, "tlc"), column(frame, "input_tlc"), strict=True)
        if t == "KP-1"
    ]
    assert sorted(kp_inputs) == ["CHK-1", "OIL-1", "SAUCE-1"]
    assert column(frame, "event_type").count("Transformation") == 4
    # a transformation's lot code source is where it was transformed
    kp = frame[frame.iloc[:, 1] == "KP-1"]
    assert set(kp.iloc[:, 10]) == {"Canteen 2 kitchen"}
    assert list(frame.columns) == headers("en")


def test_rows_are_sorted_by_date_then_lot_code() -> None:
    events: list[ReceivingKde | TransformationKde] = [
        receiving("ZZZ", D2),
        dish("BBB", D1, ["X2", "X1"]),
        receiving("AAA", D2),
        receiving("CCC", D1),
    ]
    frame = build_sheet(events)
    got = list(zip(column(frame, "date"), column(frame, "tlc"), strict=True))
    assert got == sorted(got)
    # equal keys keep the order the inputs were listed in
    assert [i for i in column(frame, "input_tlc") if isinstance(i, str)] == ["X2", "X1"]


def test_chinese_headers_and_event_labels() -> None:
    frame = build_sheet([receiving("CHK-1", D1)], lang="zh-CN")
    assert list(frame.columns) == headers("zh-CN")
    assert "追溯批次码" in frame.columns
    assert column(frame, "event_type") == ["收货"]


def test_xlsx_reads_back_with_pandas_and_has_frozen_header_and_filter() -> None:
    events: list[ReceivingKde | TransformationKde] = [
        receiving("CHK-1", D1, product="Pork & <beef>", quantity=2.5),
        dish("KP-1", D2, ["CHK-1", "OIL-1"]),
    ]
    frame = build_sheet(events)
    data = to_xlsx(frame)
    back = pd.read_excel(io.BytesIO(data), dtype=object)
    assert list(back.columns) == list(frame.columns)
    assert len(back) == len(frame)
    assert column(back, "tlc") == column(frame, "tlc")
    assert column(back, "product")[0] == "Pork & <beef>"
    assert column(back, "quantity")[0] == 2.5
    assert [d.date() for d in column(back, "date")] == column(frame, "date")
    assert column(back, "ledger_index") == [7, 9, 9]

    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:P{len(frame) + 1}"
    assert sheet["A1"].font.b
    assert sheet.cell(row=2, column=13).number_format == "yyyy-mm-dd"


def test_text_that_looks_like_a_formula_never_runs() -> None:
    frame = build_sheet([receiving("=1+1", D1, product="@SUM(A1)", location="-2+3")])
    sheet = load_workbook(io.BytesIO(to_xlsx(frame))).active
    assert sheet is not None
    assert sheet["B2"].data_type == "s" and sheet["B2"].value == "=1+1"
    csv_back = pd.read_csv(io.BytesIO(to_csv(frame)), dtype=str, encoding="utf-8-sig")
    assert column(csv_back, "tlc") == ["'=1+1"]
    assert column(csv_back, "product") == ["'@SUM(A1)"]
    assert column(csv_back, "location") == ["'-2+3"]


def test_control_characters_are_escaped_not_dropped_into_invalid_xml() -> None:
    frame = build_sheet([receiving("CHK-1", D1, product="bad\x01byte")])
    sheet = load_workbook(io.BytesIO(to_xlsx(frame))).active
    assert sheet is not None
    # ECMA-376 ST_Xstring escape: Excel shows the control character, openpyxl the escape
    assert sheet["C2"].value == "bad_x0001_byte"


def test_csv_has_bom_and_reads_back() -> None:
    frame = build_sheet([receiving("CHK-1", D1), dish("KP-1", D2, ["CHK-1"])], lang="zh-CN")
    data = to_csv(frame)
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert list(back.columns) == headers("zh-CN")
    assert column(back, "date") == [D1.isoformat(), D2.isoformat()]
    assert column(back, "input_tlc") == ["", "CHK-1"]


def test_bad_sheet_titles_are_refused() -> None:
    frame = build_sheet([receiving("CHK-1", D1)])
    with pytest.raises(ValueError, match="worksheet name"):
        to_xlsx(frame, sheet_title="a/b")


@pytest.mark.slow
def test_a_hundred_thousand_rows_export_in_seconds() -> None:
    events: list[ReceivingKde | TransformationKde] = [
        receiving(f"L{i:06d}", D1 + timedelta(days=i % 365), ledger_index=i) for i in range(40_000)
    ]
    events += [
        dish(f"B{i:06d}", D1 + timedelta(days=i % 365), [f"L{i}", "OIL", "SALT"])
        for i in range(20_000)
    ]
    started = time.process_time()  # CPU time: the machine's other load does not count
    frame = build_sheet(events)
    data = to_xlsx(frame)
    elapsed = time.process_time() - started
    assert len(frame) == 100_000
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml")
    assert b'<dimension ref="A1:P100001"/>' in sheet_xml
    assert elapsed < 15  # a few seconds on a quiet machine; generous for shared CI cores
