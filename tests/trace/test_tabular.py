"""Upload templates, reading CSV/XLSX and row validation, with user-visible row numbers."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from trace.cells import CellError, parse_cell
from trace.columns import (
    COLUMNS,
    LANGS,
    RECORD_KINDS,
    Lang,
    RecordKind,
    normalise_header,
    template_csv,
    template_xlsx,
)
from trace.row_validation import FUTURE_TOLERANCE, validate_receiving, validate_rows
from trace.tabular import ColumnError, UploadError, content_digest, read_table
from trace.upload_records import ProductionRecord, ReceivingRecord, RowError

NOW = datetime(2025, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")

RECEIVING_ROW: dict[str, str] = {
    "tlc": "CHK-1",
    "product": "鸡腿肉",
    "quantity": "20",
    "unit": "kg",
    "supplier": "JY13101140012345",
    "tlc_source": "Jiading Poultry Co.",
    "tlc_source_reference": "",
    "received_on": "2025-03-01T07:30",
    "location": "Canteen 2 cold room",
    "reference_document_type": "Invoice",
    "reference_document_number": "DN-1",
    "expiry_date": "2025-03-05",
    "storage": "chilled",
}


def production_row(batch: str, source: str, **overrides: str) -> dict[str, str]:
    row = {
        "batch_code": batch,
        "product": "Kung pao chicken",
        "quantity": "40",
        "unit": "portion",
        "completed_at": "2025-03-01T10:45",
        "location": "Kitchen",
        "reference_document_type": "",
        "reference_document_number": "",
        "input_code": source,
        "input_quantity": "6",
        "input_unit": "kg",
    }
    row.update(overrides)
    return row


def make_csv(
    kind: RecordKind,
    rows: Sequence[Mapping[str, str]],
    *,
    lang: Lang = "en",
    encoding: str = "utf-8",
) -> bytes:
    columns = COLUMNS[kind]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header(lang) for c in columns])
    for row in rows:
        writer.writerow([row.get(c.key, "") for c in columns])
    return out.getvalue().encode(encoding)


Known = Callable[[str], bool] | Collection[str]


def receiving(
    rows: Sequence[Mapping[str, str]], *, tz: str = "Asia/Shanghai"
) -> tuple[list[ReceivingRecord], list[RowError]]:
    frame = read_table(make_csv("receiving", rows), "in.csv", kind="receiving")
    result = validate_rows(frame, "receiving", now=NOW, tz=tz)
    return result.records, result.errors


def production(
    rows: Sequence[Mapping[str, str]], *, known_codes: Known
) -> tuple[list[ProductionRecord], list[RowError]]:
    frame = read_table(make_csv("production", rows), "in.csv", kind="production")
    result = validate_rows(frame, "production", now=NOW, known_codes=known_codes)
    return result.records, result.errors


def where(errors: list[RowError]) -> set[tuple[int, str, str]]:
    return {(e.row, e.column, e.code) for e in errors}


# ---------------------------------------------------------------- templates


@pytest.mark.parametrize("kind", RECORD_KINDS)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_filled_template_example_row_validates(kind: RecordKind, lang: Lang, fmt: str) -> None:
    data = template_csv(kind, lang) if fmt == "csv" else template_xlsx(kind, lang)
    frame = read_table(data, f"template.{fmt}", kind=kind)
    example_input = {c.key: c.example(lang) for c in COLUMNS[kind]}.get("input_code", "")
    result = validate_rows(frame, kind, now=NOW, known_codes={example_input})
    assert result.errors == []
    assert len(result.records) == 1
    assert result.records[0].row == 2


def test_csv_template_has_bom_and_chinese_headers() -> None:
    data = template_csv("receiving", "zh-CN", example=False)
    assert data.startswith(b"\xef\xbb\xbf")
    header = data[3:].decode("utf-8").strip().split(",")
    assert header == [c.zh for c in COLUMNS["receiving"]]
    assert "追溯批次码" in header and "收货日期" in header


def test_xlsx_template_has_header_example_and_help_sheet() -> None:
    book = load_workbook(io.BytesIO(template_xlsx("production", "zh-CN")))
    first, help_sheet = book.worksheets
    assert [c.value for c in first[1]] == [c.zh for c in COLUMNS["production"]]
    assert first.max_row == 2
    assert first.freeze_panes == "A2"
    assert help_sheet.max_row == len(COLUMNS["production"]) + 1


@pytest.mark.parametrize("kind", RECORD_KINDS)
def test_every_header_spelling_names_exactly_one_column(kind: RecordKind) -> None:
    owners: dict[str, set[str]] = {}
    for col in COLUMNS[kind]:
        for name in {col.key, col.en, col.zh, *col.aliases}:
            owners.setdefault(normalise_header(name), set()).add(col.key)
    clashes = {name: keys for name, keys in owners.items() if len(keys) > 1}
    assert clashes == {}


# ---------------------------------------------------------------- reading


def test_gbk_file_with_chinese_headers_is_read() -> None:
    data = make_csv("receiving", [RECEIVING_ROW], lang="zh-CN", encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the fixture really is not UTF-8
    frame = read_table(data, "收货.csv", kind="receiving")
    assert frame.loc[2, "product"] == "鸡腿肉"
    assert list(frame.columns) == [c.key for c in COLUMNS["receiving"]]


def test_utf8_bom_file_with_loosely_written_headers_is_read() -> None:
    header = " traceability  LOT code ,PRODUCT,Quantity,unit,Supplier,TLC_source,Receive Date,"
    header += "Receiving location,Reference document type,Reference document number,storage"
    line = "CHK-9,Rice,5,kg,S1,Farm,2025-03-01,Store,Invoice,7,ambient"
    data = ("\ufeff" + header + "\r\n" + line + "\r\n").encode("utf-8")
    frame = read_table(data, "r.csv", kind="receiving")
    assert frame.loc[2, "tlc"] == "CHK-9"
    assert frame.loc[2, "expiry_date"] == ""  # optional column absent from the file
    result = validate_rows(frame, "receiving", now=NOW)
    assert result.errors == []


def test_semicolon_separated_csv_is_read() -> None:
    data = make_csv("receiving", [RECEIVING_ROW]).decode().replace(",", ";").encode()
    frame = read_table(data, "r.csv", kind="receiving")
    assert frame.loc[2, "tlc"] == "CHK-1"


def test_undecodable_bytes_name_the_encodings_tried() -> None:
    data = make_csv("receiving", [RECEIVING_ROW]) + b"\xff\xff\xff\r\n"
    with pytest.raises(UploadError) as caught:
        read_table(data, "bad.csv", kind="receiving")
    message = str(caught.value)
    assert "UTF-8" in message and "GB18030" in message and "0xff" in message


def test_xlsx_made_with_openpyxl_keeps_row_numbers_and_reads_typed_cells() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([c.en for c in COLUMNS["receiving"]])
    typed = dict(RECEIVING_ROW, quantity=20.5, received_on=datetime(2025, 3, 1, 7, 30))
    typed["expiry_date"] = datetime(2025, 3, 5)
    sheet.append([typed[c.key] for c in COLUMNS["receiving"]])
    sheet.append([None] * len(COLUMNS["receiving"]))  # a blank row keeps later numbering
    sheet.append(
        [dict(RECEIVING_ROW, tlc="CHK-2", product="=1+1")[c.key] for c in COLUMNS["receiving"]]
    )
    out = io.BytesIO()
    book.save(out)
    frame = read_table(out.getvalue(), "r.xlsx", kind="receiving")
    assert list(frame.index) == [2, 4]
    result = validate_rows(frame, "receiving", now=NOW)
    assert [r.tlc for r in result.records] == ["CHK-1"]
    first = result.records[0]
    assert first.quantity == Decimal("20.5")
    assert first.expiry_date == date(2025, 3, 5)
    assert first.received_at == datetime(2025, 3, 1, 7, 30, tzinfo=SHANGHAI).astimezone(UTC)
    assert where(result.errors) == {(4, "product", "formula")}


def test_oversize_file_is_refused_with_the_limit() -> None:
    data = make_csv("receiving", [RECEIVING_ROW] * 50)
    with pytest.raises(UploadError, match="largest file accepted is 1000 bytes"):
        read_table(data, "big.csv", kind="receiving", max_bytes=1000)


def test_too_many_rows_is_refused() -> None:
    rows = [dict(RECEIVING_ROW, tlc=f"L{i}") for i in range(4)]
    with pytest.raises(UploadError, match="more than 3 data rows"):
        read_table(make_csv("receiving", rows), "r.csv", kind="receiving", max_rows=3)


def test_missing_and_unknown_columns_are_named() -> None:
    data = b"Product,Quantity,Colour\r\nRice,5,red\r\n"
    with pytest.raises(ColumnError) as caught:
        read_table(data, "r.csv", kind="receiving")
    error = caught.value
    expected_missing = {c.key for c in COLUMNS["receiving"] if c.required} - {"product", "quantity"}
    assert set(error.missing) == expected_missing
    assert error.unknown == ("Colour",)
    assert "Traceability lot code (追溯批次码)" in str(error)


def test_header_given_twice_in_two_languages_is_refused() -> None:
    header = ",".join([c.en for c in COLUMNS["receiving"]] + ["产品"])
    with pytest.raises(ColumnError) as caught:
        read_table(header.encode(), "r.csv", kind="receiving")
    assert caught.value.duplicate == ("产品",)


def test_values_under_a_blank_header_are_refused() -> None:
    text = make_csv("receiving", [RECEIVING_ROW]).decode().replace("\r\n", ",\r\n")
    text = text.replace("chilled,\r\n", "chilled,stray\r\n")
    with pytest.raises(ColumnError, match="no header"):
        read_table(text.encode(), "r.csv", kind="receiving")


def test_other_file_types_are_refused() -> None:
    with pytest.raises(UploadError, match=r"\.xls"):
        read_table(b"\xd0\xcf\x11\xe0", "old.xls", kind="receiving")
    with pytest.raises(UploadError, match=r"not a readable \.xlsx"):
        read_table(b"not a zip", "r.xlsx", kind="receiving")


def test_content_digest_is_sha256_hex() -> None:
    # FIPS 180-2 test vector for "abc"
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert content_digest(b"abc") == expected
    assert content_digest(b"abc") == hashlib.sha256(b"abc").hexdigest()


# ---------------------------------------------------------------- receiving rules


def test_formula_injection_is_rejected_but_negative_numbers_are_numbers() -> None:
    rows = [
        dict(RECEIVING_ROW, tlc="A", product='=HYPERLINK("http://x")'),
        dict(RECEIVING_ROW, tlc="B", supplier="@SUM(A1)", quantity="-5"),
        dict(RECEIVING_ROW, tlc="C", location="+cmd|' /C calc'!A0"),
        dict(RECEIVING_ROW, tlc="D", product="\tTab"),
    ]
    records, errors = receiving(rows)
    assert records == []
    assert where(errors) == {
        (2, "product", "formula"),
        (3, "supplier", "formula"),
        (3, "quantity", "not_positive"),
        (4, "location", "formula"),
        (5, "product", "formula"),
    }
    assert "formula" in next(e for e in errors if e.row == 2).reason


def test_future_receive_dates_are_rejected_beyond_the_tolerance() -> None:
    local_now = NOW.astimezone(SHANGHAI)
    soon = (local_now + FUTURE_TOLERANCE / 2).strftime("%Y-%m-%dT%H:%M:%S")
    later = (local_now + FUTURE_TOLERANCE * 3).strftime("%Y-%m-%dT%H:%M")
    tomorrow = (local_now + timedelta(days=1)).date().isoformat()
    today = local_now.date().isoformat()
    rows = [
        dict(RECEIVING_ROW, tlc="A", received_on=soon),
        dict(RECEIVING_ROW, tlc="B", received_on=later),
        dict(RECEIVING_ROW, tlc="C", received_on=tomorrow, expiry_date=""),
        dict(RECEIVING_ROW, tlc="D", received_on=today, expiry_date=""),
    ]
    records, errors = receiving(rows)
    assert where(errors) == {(3, "received_on", "future"), (4, "received_on", "future")}
    assert [r.tlc for r in records] == ["A", "D"]


def test_times_are_read_in_the_upload_timezone_and_stored_in_utc() -> None:
    rows = [
        dict(RECEIVING_ROW, tlc="A", received_on="2025-03-01T07:30"),
        dict(RECEIVING_ROW, tlc="B", received_on="2025-03-01T07:30:00+01:00"),
        dict(RECEIVING_ROW, tlc="C", received_on="2025-03-01"),
    ]
    records, errors = receiving(rows)
    assert errors == []
    by_tlc = {r.tlc: r for r in records}
    assert by_tlc["A"].received_at == datetime(2025, 2, 28, 23, 30, tzinfo=UTC)
    assert by_tlc["B"].received_at == datetime(2025, 3, 1, 6, 30, tzinfo=UTC)
    assert by_tlc["C"].received_at == datetime(2025, 3, 1, tzinfo=SHANGHAI).astimezone(UTC)
    assert by_tlc["A"].received_on == date(2025, 3, 1)
    records_utc, _ = receiving(rows[:1], tz="UTC")
    assert records_utc[0].received_at == datetime(2025, 3, 1, 7, 30, tzinfo=UTC)


def test_bad_dates_and_expiry_before_receipt_are_rejected() -> None:
    rows = [
        dict(RECEIVING_ROW, tlc="A", received_on="01/03/2025"),
        dict(RECEIVING_ROW, tlc="B", received_on="2025-02-30"),
        dict(RECEIVING_ROW, tlc="C", expiry_date="2025-02-27"),
    ]
    _, errors = receiving(rows)
    assert where(errors) == {
        (2, "received_on", "bad_date"),
        (3, "received_on", "bad_date"),
        (4, "expiry_date", "expired"),
    }


def test_numbers_units_and_storage_classes_are_checked() -> None:
    rows = [
        dict(RECEIVING_ROW, tlc="A", quantity="abc"),
        dict(RECEIVING_ROW, tlc="B", quantity="NaN"),
        dict(RECEIVING_ROW, tlc="C", quantity="1e999"),
        dict(RECEIVING_ROW, tlc="D", quantity="0"),
        dict(RECEIVING_ROW, tlc="E", unit="furlong"),
        dict(RECEIVING_ROW, tlc="F", storage="warm"),
        dict(RECEIVING_ROW, tlc="G", unit="千克", storage="冷冻", quantity="２.５"),
    ]
    records, errors = receiving(rows)
    assert where(errors) == {
        (2, "quantity", "not_a_number"),
        (3, "quantity", "not_finite"),
        (4, "quantity", "not_finite"),
        (5, "quantity", "not_positive"),
        (6, "unit", "unknown_unit"),
        (7, "storage", "unknown_storage"),
    }
    (last,) = records
    assert (last.unit, last.storage, last.quantity) == ("kg", "frozen", Decimal("2.5"))


def test_every_missing_field_and_duplicate_lot_is_reported() -> None:
    rows = [
        dict(RECEIVING_ROW),
        dict(RECEIVING_ROW, product="", supplier="", tlc_source=""),
        dict(RECEIVING_ROW, tlc="OTHER"),
    ]
    records, errors = receiving(rows)
    assert where(errors) == {
        (3, "tlc", "duplicate"),
        (3, "product", "required"),
        (3, "supplier", "required"),
        (3, "tlc_source", "required"),
    }
    assert "row 2" in next(e.reason for e in errors if e.column == "tlc")
    assert [r.tlc for r in records] == ["CHK-1", "OTHER"]


# Texts the column-at-a-time shortcut must judge exactly as the cell parser does.
AWKWARD_CELLS = ["plain", " lead", "trail ", "in ner", "=1+1", "-3", "+x", "@me", "tab\tin",
                 "\u3000wide", "nbsp\xa0", "中文", "", "  ", "x" * 201, "a\u200bb"]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(AWKWARD_CELLS), min_size=1, max_size=6),
    st.lists(st.sampled_from(AWKWARD_CELLS), min_size=1, max_size=6),
)
def test_text_cells_are_judged_as_the_cell_parser_judges_each(locations, codes) -> None:
    rows = [
        dict(RECEIVING_ROW, tlc=f"{codes[i % len(codes)]}{i}", location=location)
        for i, location in enumerate(locations)
    ]
    frame = read_table(make_csv("receiving", rows), "in.csv", kind="receiving")
    result = validate_rows(frame, "receiving", now=NOW)
    expected_errors, expected_values = set(), {}
    for number, row in zip(frame.index, frame.to_dict("records"), strict=True):
        for key, kind in (("location", "text"), ("tlc", "code")):
            try:
                expected_values[number, key] = parse_cell(row[key], kind, SHANGHAI)
            except CellError as exc:
                expected_errors.add((number, key, exc.code))
    assert {(e.row, e.column, e.code) for e in result.errors if e.code != "duplicate"} >= (
        expected_errors
    )
    for record in result.records:
        assert (record.location, record.tlc) == (
            expected_values[record.row, "location"],
            expected_values[record.row, "tlc"],
        )
    columns, errors = validate_receiving(frame, now=NOW)
    assert (columns.records(), errors) == (result.records, result.errors)


def test_naive_now_is_refused() -> None:
    frame = read_table(make_csv("receiving", [RECEIVING_ROW]), "r.csv", kind="receiving")
    with pytest.raises(ValueError, match="timezone"):
        validate_rows(frame, "receiving", now=datetime(2025, 3, 2))


# ---------------------------------------------------------------- production rules


def test_rows_with_one_batch_code_form_one_transformation_after_its_sub_batches() -> None:
    rows = [
        production_row("DISH-1", "SAUCE-1", input_quantity="0.5", input_unit="L"),
        production_row("DISH-1", "CHK-1", product="", quantity="", unit=""),
        production_row("SAUCE-1", "CHILI-1", product="Chili sauce", quantity="2", unit="L"),
    ]
    records, errors = production(rows, known_codes={"CHK-1", "CHILI-1"})
    assert errors == []
    assert [r.batch_code for r in records] == ["SAUCE-1", "DISH-1"]
    dish = records[1]
    assert dish.row == 2
    assert dish.product == "Kung pao chicken"
    assert dish.completed_at == datetime(2025, 3, 1, 10, 45, tzinfo=SHANGHAI).astimezone(UTC)
    assert [(i.row, i.code, i.in_file) for i in dish.inputs] == [
        (2, "SAUCE-1", True),
        (3, "CHK-1", False),
    ]
    assert dish.inputs[0].quantity == Decimal("0.5")


def test_unknown_inputs_are_reported_and_known_codes_are_asked_once_each() -> None:
    asked: list[str] = []

    def known(code: str) -> bool:
        asked.append(code)
        return code == "CHK-1"

    rows = [
        production_row("A", "CHK-1"),
        production_row("A", "NOPE"),
        production_row("B", "NOPE"),
        production_row("B", "CHK-1"),
    ]
    records, errors = production(rows, known_codes=known)
    assert where(errors) == {
        (3, "input_code", "unknown_reference"),
        (4, "input_code", "unknown_reference"),
    }
    assert "unknown lot or batch reference" in errors[0].reason
    assert sorted(asked) == ["CHK-1", "NOPE"]
    assert records == []


def test_batch_listing_itself_or_a_cycle_in_the_file_is_rejected() -> None:
    rows = [
        production_row("A", "A"),
        production_row("B", "C"),
        production_row("C", "B"),
        production_row("D", "B"),  # uses a batch on the cycle
    ]
    records, errors = production(rows, known_codes=set())
    codes = where(errors)
    assert (2, "input_code", "self_input") in codes
    assert (3, "input_code", "cycle") in codes
    assert (5, "input_code", "input_invalid") in codes
    assert "B → C → B" in next(e.reason for e in errors if e.code == "cycle")
    assert records == []


def test_conflicting_batch_fields_future_completion_and_missing_time() -> None:
    future = (NOW + timedelta(hours=2)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
    rows = [
        production_row("A", "CHK-1"),
        production_row("A", "CHK-2", product="Something else"),
        production_row("B", "CHK-1", completed_at=future),
        production_row("C", "CHK-1", completed_at="2025-03-01"),
        production_row("D", "CHK-1", location=""),
    ]
    records, errors = production(rows, known_codes={"CHK-1", "CHK-2"})
    assert where(errors) == {
        (3, "product", "conflict"),
        (4, "completed_at", "future"),
        (5, "completed_at", "time_missing"),
        (6, "location", "required"),
    }
    assert records == []


def test_input_listed_twice_for_one_batch_is_rejected() -> None:
    rows = [production_row("A", "CHK-1"), production_row("A", "CHK-1")]
    _, errors = production(rows, known_codes={"CHK-1"})
    assert where(errors) == {(3, "input_code", "duplicate")}
