"""Column definitions of the merchant upload templates, and the templates themselves.

Two record kinds: `receiving` (FSMA 204 receiving KDEs, 21 CFR 1.1345) and `production`
(a transformation, 21 CFR 1.1350: rows sharing a batch code form one transformation, one row
per input). Headers are accepted in English or Chinese; keys are what the code uses.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

RecordKind: TypeAlias = Literal["receiving", "production"]
Lang: TypeAlias = Literal["en", "zh-CN"]
ColumnType: TypeAlias = Literal["code", "text", "number", "unit", "date", "datetime", "storage"]

RECORD_KINDS: tuple[RecordKind, ...] = ("receiving", "production")
LANGS: tuple[Lang, ...] = ("en", "zh-CN")

# Longest accepted cell per type: generous for real codes and names, small enough for the UI.
MAX_LENGTH: Mapping[ColumnType, int] = {
    "code": 80,
    "text": 200,
    "number": 40,
    "unit": 20,
    "date": 40,
    "datetime": 40,
    "storage": 20,
}


@dataclass(frozen=True, slots=True)
class Column:
    """One template column: `key` for code, headers per language, type and whether required."""

    key: str
    en: str
    zh: str
    type: ColumnType
    required: bool
    example_en: str
    example_zh: str
    hint_en: str = ""
    hint_zh: str = ""
    aliases: tuple[str, ...] = ()
    per_input: bool = False  # production only: varies per input row, not per batch

    def header(self, lang: Lang) -> str:
        """The header shown in a template of language `lang`."""
        return self.zh if lang == "zh-CN" else self.en

    def example(self, lang: Lang) -> str:
        """The example cell value for a template of language `lang`."""
        return self.example_zh if lang == "zh-CN" else self.example_en


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit of measure: canonical code, accepted spellings, UN/ECE Rec 20 code if any."""

    code: str
    spellings: tuple[str, ...]
    uncefact: str | None


# UN/ECE Recommendation 20 ("Codes for Units of Measure Used in International Trade"), the
# `uom` vocabulary of EPCIS 2.0 quantityList; units with no Rec 20 code travel without one.
UNITS: tuple[Unit, ...] = (
    Unit("kg", ("kg", "kgs", "kilogram", "kilograms", "千克", "公斤"), "KGM"),
    Unit("g", ("g", "gram", "grams", "克"), "GRM"),
    Unit("jin", ("jin", "斤", "市斤"), None),  # 500 g market unit, common on Chinese invoices
    Unit("t", ("t", "tonne", "tonnes", "吨"), "TNE"),
    Unit("L", ("l", "litre", "liter", "litres", "liters", "升", "公升"), "LTR"),
    Unit("mL", ("ml", "millilitre", "milliliter", "毫升"), "MLT"),
    Unit("each", ("each", "ea", "pc", "pcs", "piece", "pieces", "个", "只", "件", "枚"), "H87"),
    Unit("portion", ("portion", "portions", "serving", "servings", "份"), None),
    Unit("box", ("box", "boxes", "盒"), None),
    Unit("case", ("case", "cases", "carton", "cartons", "箱"), None),
    Unit("bag", ("bag", "bags", "袋"), None),
    Unit("bottle", ("bottle", "bottles", "瓶"), None),
    Unit("pack", ("pack", "packs", "包"), None),
    Unit("tray", ("tray", "trays", "盘"), None),
)

# Storage temperature classes named on receiving; the temperatures behind them are sensor rules.
STORAGE_CLASSES: Mapping[str, tuple[str, ...]] = {
    "ambient": ("ambient", "room temperature", "dry", "常温", "室温"),
    "chilled": ("chilled", "refrigerated", "cold", "冷藏"),
    "frozen": ("frozen", "冷冻", "冻品"),
}


def _receiving() -> tuple[Column, ...]:
    return (
        Column("tlc", "Traceability lot code", "追溯批次码", "code", True,
               "CHK-20250301-01", "CHK-20250301-01",
               "Lot code on the case or invoice", "包装或送货单上的批次码",
               ("TLC", "lot code", "lot", "批次码", "批号")),
        Column("product", "Product", "产品", "text", True,
               "Chicken thigh, boneless", "去骨鸡腿肉", "", "", ("product description", "品名")),
        Column("quantity", "Quantity", "数量", "number", True, "20", "20"),
        Column("unit", "Unit", "单位", "unit", True, "kg", "千克",
               "kg, g, L, mL, each, portion, box, case, bag …",
               "千克、克、斤、升、个、份、箱、袋…"),
        Column("supplier", "Supplier", "供应商", "text", True,
               "JY13101140012345", "JY13101140012345",
               "Immediate previous source: licence number or name",
               "直接供货方：食品经营许可证号或名称",
               ("immediate previous source", "supplier licence", "供货商", "供应商许可证号")),
        Column("tlc_source", "TLC source", "追溯码来源", "text", False,
               "Jiading Poultry Co., 88 Jiangqiao Rd, Shanghai", "上海嘉定禽业有限公司 江桥路88号",
               "Where the lot code was assigned (this or the reference is required)",
               "批次码的赋码地点（与来源参考二选一）", ("traceability lot code source",)),
        Column("tlc_source_reference", "TLC source reference", "追溯码来源参考", "text", False,
               "", "", "Web address or registration number that identifies the source",
               "可查到赋码地点的网址或登记号", ("traceability lot code source reference",)),
        Column("received_on", "Receive date", "收货日期", "date", True,
               "2025-03-01T07:30", "2025-03-01T07:30",
               "YYYY-MM-DD or YYYY-MM-DDTHH:MM", "格式 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM",
               ("received", "date received", "收货时间")),
        Column("location", "Receiving location", "收货地点", "text", True,
               "Canteen 2 cold room", "二食堂冷库", "", "", ("location", "地点")),
        Column("reference_document_type", "Reference document type", "参考单据类型", "text", True,
               "Invoice", "送货单", "Invoice, bill of lading, delivery note …", "送货单、发票…",
               ("document type", "单据类型")),
        Column("reference_document_number", "Reference document number", "参考单据编号", "code",
               True, "DN-0001", "DN-0001", "", "", ("document number", "单据编号", "单据号")),
        Column("expiry_date", "Expiry date", "到期日期", "date", False,
               "2025-03-05", "2025-03-05", "Use-by or best-before date", "保质期截止日期",
               ("expiry", "best before", "use by", "保质期至", "有效期至")),
        Column("storage", "Storage temperature class", "储存温度类别", "storage", True,
               "chilled", "冷藏", "ambient, chilled or frozen", "常温、冷藏或冷冻",
               ("storage", "储存条件", "储存方式")),
    )  # fmt: skip


def _production() -> tuple[Column, ...]:
    return (
        Column("batch_code", "Batch code", "批次码", "code", True,
               "KP-20250301-L1", "KP-20250301-L1",
               "Rows with the same batch code form one batch", "批次码相同的行属于同一批次",
               ("batch", "new traceability lot code", "生产批次码")),
        Column("product", "Product", "产品", "text", True, "Kung pao chicken", "宫保鸡丁",
               "Needed on the batch's first row", "同一批次首行必填", ("dish", "菜品", "品名")),
        Column("quantity", "Quantity", "数量", "number", True, "40", "40"),
        Column("unit", "Unit", "单位", "unit", True, "portion", "份"),
        Column("completed_at", "Completion time", "完成时间", "datetime", True,
               "2025-03-01T10:45", "2025-03-01T10:45",
               "YYYY-MM-DDTHH:MM", "格式 YYYY-MM-DDTHH:MM", ("completed", "生产时间")),
        Column("location", "Location", "地点", "text", True, "Canteen 2 kitchen", "二食堂后厨",
               "", "", ("production location", "生产地点")),
        Column("reference_document_type", "Reference document type", "参考单据类型", "text",
               False, "Production log", "生产记录", "", "", ("document type", "单据类型")),
        Column("reference_document_number", "Reference document number", "参考单据编号", "code",
               False, "PL-0301-07", "PL-0301-07", "", "", ("document number", "单据编号")),
        Column("input_code", "Input code", "投入批次码", "code", True,
               "CHK-20250301-01", "CHK-20250301-01",
               "Lot code received, or the batch code of a sub-batch (e.g. a sauce)",
               "收货的批次码，或半成品（如酱料）的批次码",
               ("input", "input lot code", "input tlc", "原料批次码"), per_input=True),
        Column("input_quantity", "Input quantity", "投入数量", "number", True, "6", "6",
               aliases=("原料数量",), per_input=True),
        Column("input_unit", "Input unit", "投入单位", "unit", True, "kg", "千克",
               aliases=("原料单位",), per_input=True),
    )  # fmt: skip


COLUMNS: Mapping[RecordKind, tuple[Column, ...]] = {
    "receiving": _receiving(),
    "production": _production(),
}

_UNIT_BY_SPELLING: Mapping[str, Unit] = {
    spelling.casefold(): unit for unit in UNITS for spelling in (unit.code, *unit.spellings)
}
_STORAGE_BY_SPELLING: Mapping[str, str] = {
    spelling.casefold(): key for key, spellings in STORAGE_CLASSES.items() for spelling in spellings
}


def normalise_header(text: str) -> str:
    """Header comparison form: NFKC (full-width → ASCII), casefolded, no whitespace/_/*."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "_*")


def header_index(kind: RecordKind) -> Mapping[str, str]:
    """Normalised header (English, Chinese, key or alias) → column key for one record kind."""
    index: dict[str, str] = {}
    for column in COLUMNS[kind]:
        for name in (column.key, column.en, column.zh, *column.aliases):
            index.setdefault(normalise_header(name), column.key)
    return index


def column(kind: RecordKind, key: str) -> Column:
    """The column of `kind` with `key`; KeyError if there is none."""
    for candidate in COLUMNS[kind]:
        if candidate.key == key:
            return candidate
    raise KeyError(f"{kind} has no column {key!r}")


def unit_for(text: str) -> Unit | None:
    """The unit a cell names (any accepted spelling, case-insensitive), or None."""
    return _UNIT_BY_SPELLING.get(unicodedata.normalize("NFKC", text).strip().casefold())


def storage_class_for(text: str) -> str | None:
    """`ambient`, `chilled` or `frozen` for any accepted spelling, or None."""
    return _STORAGE_BY_SPELLING.get(unicodedata.normalize("NFKC", text).strip().casefold())


def template_csv(kind: RecordKind, lang: Lang, *, example: bool = True) -> bytes:
    """A CSV template: header row (+ an example row), UTF-8 with BOM so Excel reads Chinese."""
    columns = COLUMNS[kind]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.header(lang) for c in columns])
    if example:
        writer.writerow([c.example(lang) for c in columns])
    return buffer.getvalue().encode("utf-8-sig")


def template_xlsx(kind: RecordKind, lang: Lang, *, example: bool = True) -> bytes:
    """An XLSX template: first sheet to fill in (example row), second sheet explains columns."""
    zh = lang == "zh-CN"
    columns = COLUMNS[kind]
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = {"receiving": "收货", "production": "生产"}[kind] if zh else kind
    sheet.append([c.header(lang) for c in columns])
    if example:
        sheet.append([c.example(lang) for c in columns])
    required_fill = PatternFill("solid", fgColor="FFF2CC")
    for index, col in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        if col.required:
            cell.fill = required_fill
        letter = cell.column_letter
        # Text format stops Excel turning codes like 00123 or 2025-03 into numbers or dates.
        sheet.column_dimensions[letter].number_format = "@"
        sheet.column_dimensions[letter].width = max(14, len(col.header(lang)) * (2 if zh else 1.2))
    sheet.freeze_panes = "A2"

    help_sheet = workbook.create_sheet("说明" if zh else "Help")
    help_sheet.append(
        ["列名", "必填", "类型", "说明"] if zh else ["Column", "Required", "Type", "Notes"]
    )
    for col in columns:
        required = ("是" if zh else "yes") if col.required else ("否" if zh else "no")
        help_sheet.append(
            [col.header(lang), required, col.type, col.hint_zh if zh else col.hint_en]
        )
    for cell in help_sheet[1]:
        cell.font = Font(bold=True)
    help_sheet.column_dimensions["A"].width = 28
    help_sheet.column_dimensions["D"].width = 60

    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
