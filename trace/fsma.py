"""FDA FSMA 204 "electronic sortable spreadsheet" (21 CFR 1.1455(c)(3)(ii)).

One row per receiving event and one row per transformation input, with the key data elements
of 21 CFR 1.1345 (receiving) and 1.1350 (transformation), sorted by date then lot code. The
records are plain data: the service fills them from the database.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from math import isfinite
from typing import Any, Literal, TypeAlias

import pandas as pd
from openpyxl.utils import get_column_letter

from trace.cells import FORMULA_PREFIXES  # OWASP "CSV Injection" prefixes

Lang: TypeAlias = Literal["en", "zh-CN"]
Number: TypeAlias = float | int | Decimal


@dataclass(frozen=True, slots=True)
class ReceivingKde:
    """A receiving critical tracking event (21 CFR 1.1345)."""

    tlc: str
    product: str
    quantity: Number
    unit: str
    immediate_previous_source: str
    tlc_source: str  # location description of the TLC source, or the TLC source reference
    location: str
    received_on: date
    reference_document_type: str
    reference_document_number: str
    ledger_index: int | None = None


@dataclass(frozen=True, slots=True)
class TransformationInput:
    """One food used in a transformation."""

    tlc: str
    product: str
    quantity: Number
    unit: str


@dataclass(frozen=True, slots=True)
class TransformationKde:
    """A transformation critical tracking event (21 CFR 1.1350): inputs → a new lot."""

    tlc: str  # the new traceability lot code
    product: str
    quantity: Number
    unit: str
    location: str  # where it was transformed: also the new lot's TLC source
    completed_on: date
    inputs: tuple[TransformationInput, ...]
    reference_document_type: str | None = None
    reference_document_number: str | None = None
    ledger_index: int | None = None


# key, English header, Chinese header
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("event_type", "Event type", "事件类型"),
    ("tlc", "Traceability lot code", "追溯批次码"),
    ("product", "Product description", "产品描述"),
    ("quantity", "Quantity", "数量"),
    ("unit", "Unit of measure", "计量单位"),
    ("immediate_previous_source", "Immediate previous source", "直接供货方"),
    ("input_tlc", "Input traceability lot code", "投入追溯批次码"),
    ("input_product", "Input product description", "投入产品描述"),
    ("input_quantity", "Input quantity", "投入数量"),
    ("input_unit", "Input unit of measure", "投入计量单位"),
    ("tlc_source", "TLC source or TLC source reference", "追溯码来源或来源参考"),
    ("location", "Location", "地点"),
    ("date", "Date", "日期"),
    ("reference_document_type", "Reference document type", "参考单据类型"),
    ("reference_document_number", "Reference document number", "参考单据编号"),
    ("ledger_index", "Ledger index", "账本序号"),
)
EVENT_LABELS: Mapping[Lang, Mapping[str, str]] = {
    "en": {"receiving": "Receiving", "transformation": "Transformation"},
    "zh-CN": {"receiving": "收货", "transformation": "加工转化"},
}


def headers(lang: Lang) -> list[str]:
    """Column headers of the sheet in `lang`."""
    return [zh if lang == "zh-CN" else en for _, en, zh in COLUMNS]


def build_sheet(
    events: Iterable[ReceivingKde | TransformationKde], *, lang: Lang = "en"
) -> pd.DataFrame:
    """The sortable spreadsheet as a DataFrame, sorted by date then traceability lot code."""
    labels = EVENT_LABELS[lang]
    data: dict[str, list[Any]] = {key: [] for key, _, _ in COLUMNS}

    def add(**row: Any) -> None:
        for key, values in data.items():
            values.append(row.get(key))

    for event in events:
        if isinstance(event, ReceivingKde):
            add(
                event_type=labels["receiving"],
                tlc=event.tlc,
                product=event.product,
                quantity=float(event.quantity),
                unit=event.unit,
                immediate_previous_source=event.immediate_previous_source,
                tlc_source=event.tlc_source,
                location=event.location,
                date=event.received_on,
                reference_document_type=event.reference_document_type,
                reference_document_number=event.reference_document_number,
                ledger_index=event.ledger_index,
            )
            continue
        # A transformation with no inputs listed still gets its one row.
        for item in event.inputs or (None,):
            add(
                event_type=labels["transformation"],
                tlc=event.tlc,
                product=event.product,
                quantity=float(event.quantity),
                unit=event.unit,
                input_tlc=item.tlc if item else None,
                input_product=item.product if item else None,
                input_quantity=float(item.quantity) if item else None,
                input_unit=item.unit if item else None,
                tlc_source=event.location,
                location=event.location,
                date=event.completed_on,
                reference_document_type=event.reference_document_type,
                reference_document_number=event.reference_document_number,
                ledger_index=event.ledger_index,
            )
    frame = pd.DataFrame(data, dtype=object)
    frame["quantity"] = frame["quantity"].astype("float64")
    frame["input_quantity"] = frame["input_quantity"].astype("float64")
    frame["ledger_index"] = frame["ledger_index"].astype("Int64")
    frame = frame.sort_values(["date", "tlc"], kind="stable", ignore_index=True)
    frame.columns = headers(lang)
    return frame


def to_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes (UTF-8 with BOM for Excel); text that could run as a formula gets a ' prefix."""
    safe = frame.copy()
    for name in safe.columns:
        column = safe[name]
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            texts = column.map(lambda v: v if not isinstance(v, str) else _csv_safe(v))
            safe[name] = texts
    return safe.to_csv(index=False, lineterminator="\r\n", date_format="%Y-%m-%d").encode(
        "utf-8-sig"
    )


def to_xlsx(frame: pd.DataFrame, *, sheet_title: str = "FSMA 204") -> bytes:
    """XLSX bytes: header row frozen, autofilter over the data, dates as real dates.

    Written as SpreadsheetML directly (ECMA-376): openpyxl takes ~10x longer for 100,000 rows.
    Text is always stored as text, so a cell like "=1+1" can never run as a formula.
    """
    if not _SHEET_TITLE.fullmatch(sheet_title):
        raise ValueError(f"{sheet_title!r} is not a valid worksheet name")
    if len(frame.columns) == 0:
        raise ValueError("a sheet needs at least one column")
    width = len(frame.columns)
    letters = [get_column_letter(i) for i in range(1, width + 1)]
    area = f"A1:{letters[-1]}{len(frame) + 1}"
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{max(12, len(str(name)) + 2)}" customWidth="1"/>'
        for i, name in enumerate(frame.columns, start=1)
    )
    header = "".join(
        f'<c r="{letters[i]}1" s="1" t="inlineStr"><is><t>{_xml_text(str(name))}</t></is></c>'
        for i, name in enumerate(frame.columns)
    )
    columns = [_cell_bodies(frame[name]) for name in frame.columns]
    rows = [f'<row r="1">{header}</row>']
    for number, bodies in enumerate(zip(*columns, strict=True), start=2):
        cells = "".join(
            f'<c r="{letter}{number}"{body}'
            for letter, body in zip(letters, bodies, strict=False)
            if body is not None
        )
        rows.append(f'<row r="{number}">{cells}</row>')
    sheet = (
        f'{_XML_HEAD}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}"><dimension ref="{area}"/>'
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
        'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A2" '
        f'sqref="A2"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
        f"<cols>{cols}</cols><sheetData>{''.join(rows)}</sheetData>"
        f'<autoFilter ref="{area}"/></worksheet>'
    )
    absolute = f"$A$1:${letters[-1]}${len(frame) + 1}"
    title = _xml_text(sheet_title).replace('"', "&quot;")
    workbook = (
        f'{_XML_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
        f'<sheet name="{title}" sheetId="1" r:id="rId1"/></sheets><definedNames>'
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
        f"&apos;{title}&apos;!{absolute}</definedName></definedNames></workbook>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, text in (*_PACKAGE_PARTS, ("xl/workbook.xml", workbook)):
            archive.writestr(name, text)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return out.getvalue()


def _csv_safe(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_SHEET_TITLE = re.compile(r"[^\[\]:*?/\\']{1,31}")
_EXCEL_EPOCH = datetime(1899, 12, 30)  # serial day 0 in the 1900 date system
# XML 1.0 forbids most C0 controls; Excel writes them as _xHHHH_ escapes.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_LITERAL_ESCAPE = re.compile(r"(_x[0-9A-Fa-f]{4}_)")
_PACKAGE_PARTS: tuple[tuple[str, str], ...] = (
    (
        "[Content_Types].xml",
        f'{_XML_HEAD}<Types xmlns="{_PKG}/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
        'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
        'worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>',
    ),
    (
        "_rels/.rels",
        f'{_XML_HEAD}<Relationships xmlns="{_PKG}/relationships"><Relationship Id="rId1" '
        f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    ),
    (
        "xl/_rels/workbook.xml.rels",
        f'{_XML_HEAD}<Relationships xmlns="{_PKG}/relationships">'
        f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/></Relationships>',
    ),
    (
        # Cell styles: 0 plain, 1 bold header, 2 date (yyyy-mm-dd).
        "xl/styles.xml",
        f'{_XML_HEAD}<styleSheet xmlns="{_MAIN}"><numFmts count="1"><numFmt numFmtId="164" '
        'formatCode="yyyy-mm-dd"/></numFmts><fonts count="2"><font><sz val="11"/>'
        '<name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font>'
        '</fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill>'
        '<patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/>'
        '<right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" '
        'applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" '
        'xfId="0" builtinId="0"/></cellStyles></styleSheet>',
    ),
)


def _xml_text(text: str) -> str:
    text = _LITERAL_ESCAPE.sub(r"_x005F\1", text)  # a literal "_x0041_" must stay literal
    text = _XML_ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell_bodies(column: pd.Series) -> list[str | None]:
    """Each cell's XML after `<c r="A1"`, None for empty; repeated values are built once."""
    values = column.astype(object).where(column.notna(), None).tolist()
    cache: dict[tuple[type, Any], str] = {}
    bodies: list[str | None] = []
    for value in values:
        if value is None:
            bodies.append(None)
            continue
        key = (type(value), value)  # 1, 1.0 and True are equal keys otherwise
        body = cache.get(key)
        if body is None:
            body = cache[key] = _cell_body(value)
        bodies.append(body)
    return bodies


def _cell_body(value: Any) -> str:
    if isinstance(value, str):
        return f' t="inlineStr"><is><t xml:space="preserve">{_xml_text(value)}</t></is></c>'
    if isinstance(value, bool):
        return f' t="b"><v>{int(value)}</v></c>'
    if isinstance(value, datetime):
        serial = (value.replace(tzinfo=None) - _EXCEL_EPOCH) / timedelta(days=1)
        return f' s="2"><v>{serial!r}</v></c>'
    if isinstance(value, date):
        return f' s="2"><v>{(value - _EXCEL_EPOCH.date()).days}</v></c>'
    if isinstance(value, int | float | Decimal) and isfinite(value):
        return f"><v>{value}</v></c>"
    return _cell_body(str(value))
