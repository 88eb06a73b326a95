"""Questionnaire mapping, CSV/XLSX reading and answer coding, with row-and-column errors."""

import io
from datetime import UTC, datetime

import openpyxl
import pandas as pd
import pytest

from complaints.questionnaire import (
    MISSING,
    NO,
    YES,
    SurveyError,
    SurveyMapping,
    code_survey,
    read_survey,
)

MAPPING = {
    "id_column": "编号",
    "ill_column": "是否生病",
    "item_columns": ["鸡肉沙拉", "米饭"],
    "onset_columns": ["发病日期", "发病时间"],
    "timezone": "Asia/Shanghai",
}
CSV_TEXT = (
    "编号,是否生病,鸡肉沙拉,米饭,发病日期,发病时间\n"
    "S1,是,是,否,2025-05-12,20:30\n"
    "S2,否,否,是,,\n"
    "S3,不知道,是,?,,\n"
)


def problems(exc: pytest.ExceptionInfo[SurveyError]) -> set[tuple[int | None, str | None]]:
    return {(d["row"], d["column"]) for d in exc.value.details}


def test_mapping_defaults_cover_english_and_chinese_answers() -> None:
    mapping = SurveyMapping.from_dict(
        {"id_column": "id", "ill_column": "ill", "item_columns": ["a"]}
    )
    assert {"yes", "y", "1", "true", "是"} <= mapping.yes_values
    assert {"no", "n", "0", "false", "否"} <= mapping.no_values
    assert {"", "?", "unknown", "不知道"} <= mapping.missing_values
    assert mapping.onset_columns == ()
    assert mapping.timezone == "UTC"


def test_mapping_values_are_compared_after_strip_and_casefold() -> None:
    mapping = SurveyMapping.from_dict(
        {"id_column": "id", "ill_column": "ill", "item_columns": ["a"], "yes_values": [" Ate "]}
    )
    df = pd.DataFrame({"id": ["1", "2"], "ill": ["YES", "no"], "a": ["aTE", "  no "]})
    with pytest.raises(SurveyError) as exc:
        code_survey(df, mapping)
    # "YES" is no longer a yes value once yes_values is overridden.
    assert problems(exc) == {(2, "ill")}


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (
            {"id_column": "id", "ill_column": "ill", "item_columns": ["a"], "colour": "red"},
            "colour",
        ),
        ({"id_column": 3, "ill_column": "ill", "item_columns": ["a"]}, "id_column"),
        ({"id_column": "id", "ill_column": "ill", "item_columns": "a"}, "item_columns"),
        ({"id_column": "id", "ill_column": "ill", "item_columns": []}, "item_columns"),
        ({"id_column": "id", "ill_column": "ill", "item_columns": ["a", "a"]}, "item_columns"),
        (
            {
                "id_column": "id",
                "ill_column": "ill",
                "item_columns": ["a"],
                "portion_columns": {"b": "n"},
            },
            "portion_columns.b",
        ),
        (
            {"id_column": "id", "ill_column": "ill", "item_columns": ["a"], "no_values": ["yes"]},
            "yes_values",
        ),
        (
            {
                "id_column": "id",
                "ill_column": "ill",
                "item_columns": ["a"],
                "timezone": "Mars/Olympus",
            },
            "timezone",
        ),
    ],
)
def test_bad_mappings_name_the_offending_key(data: dict, key: str) -> None:
    with pytest.raises(SurveyError) as exc:
        SurveyMapping.from_dict(data)
    assert (None, key) in problems(exc)
    assert isinstance(exc.value, ValueError)


def test_every_mapping_problem_is_reported_at_once() -> None:
    with pytest.raises(SurveyError) as exc:
        SurveyMapping.from_dict({"ill_column": 1, "item_columns": "x", "extra": True})
    assert {"id_column", "ill_column", "item_columns", "extra"} <= {c for _, c in problems(exc)}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_utf8_bom_and_gbk_reads_to_the_same_strings(encoding: str) -> None:
    df = read_survey(io.BytesIO(CSV_TEXT.encode(encoding)), "survey.csv")
    assert list(df.columns) == ["编号", "是否生病", "鸡肉沙拉", "米饭", "发病日期", "发病时间"]
    assert df.iloc[0].tolist() == ["S1", "是", "是", "否", "2025-05-12", "20:30"]
    assert df.iloc[2, 4] == ""
    coded = code_survey(df, SurveyMapping.from_dict(MAPPING))
    assert coded.ill.tolist() == [YES, NO, MISSING]
    assert coded.items["米饭"].tolist() == [NO, YES, MISSING]
    # 20:30 in Shanghai is 12:30 UTC.
    assert coded.onsets == [datetime(2025, 5, 12, 12, 30, tzinfo=UTC), None, None]


def test_xlsx_written_with_openpyxl_reads_numbers_booleans_and_dates_as_text() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "ill", "salad", "salad portions", "onset"])
    sheet.append([101, True, 1, 2.0, datetime(2025, 5, 12, 20, 30)])
    sheet.append([102, False, 0, None, None])
    sheet.append([103, "unknown", "y", 1.5, None])
    buffer = io.BytesIO()
    book.save(buffer)
    df = read_survey(io.BytesIO(buffer.getvalue()), "Survey.XLSX")
    assert df.to_dict("list") == {
        "id": ["101", "102", "103"],
        "ill": ["true", "false", "unknown"],
        "salad": ["1", "0", "y"],
        "salad portions": ["2", "", "1.5"],
        "onset": ["2025-05-12 20:30:00", "", ""],
    }
    mapping = SurveyMapping.from_dict(
        {
            "id_column": "id",
            "ill_column": "ill",
            "item_columns": ["salad"],
            "portion_columns": {"salad": "salad portions"},
            "onset_columns": ["onset"],
        }
    )
    coded = code_survey(df, mapping)
    assert coded.items["salad"].tolist() == [YES, NO, YES]
    assert coded.portions["salad"][[0, 2]].tolist() == [2.0, 1.5]
    assert coded.onsets[0] == datetime(2025, 5, 12, 20, 30, tzinfo=UTC)


def test_unsupported_files_and_headerless_files_are_survey_errors() -> None:
    with pytest.raises(SurveyError, match="unsupported"):
        read_survey(io.BytesIO(b"x"), "survey.pdf")
    with pytest.raises(SurveyError, match="XLSX"):
        read_survey(io.BytesIO(b"not a zip"), "survey.xlsx")
    with pytest.raises(SurveyError, match="header"):
        read_survey(io.BytesIO(b""), "survey.csv")


def test_duplicate_headers_and_data_under_a_blank_header_are_rejected() -> None:
    with pytest.raises(SurveyError) as exc:
        read_survey(io.BytesIO(b"id,ill,ill,\n1,y,y,surprise\n"), "s.csv")
    assert problems(exc) == {(1, "ill"), (1, "#4")}


def test_trailing_empty_columns_are_dropped() -> None:
    df = read_survey(io.BytesIO(b"id,ill,,\n1,y,,\n"), "s.csv")
    assert list(df.columns) == ["id", "ill"]


def test_missing_columns_are_reported_on_the_header_row() -> None:
    df = read_survey(io.BytesIO("编号,是否生病,鸡肉沙拉\nS1,是,是\n".encode()), "s.csv")
    with pytest.raises(SurveyError) as exc:
        code_survey(df, SurveyMapping.from_dict(MAPPING))
    assert problems(exc) == {(1, "米饭"), (1, "发病日期"), (1, "发病时间")}


def test_bad_answers_duplicate_ids_and_bad_cells_name_the_spreadsheet_row_and_column() -> None:
    text = (
        "id,ill,salad,salad n,onset\n"
        "A,yes,yes,2,2025-05-12 10:00\n"
        ",,,,\n"  # a blank line keeps its row number (row 3) and is skipped
        "B,sick,yes,1,\n"  # row 4: illness answer in no list
        "A,no,maybe,x,\n"  # row 5: duplicate id, bad answer, bad portion
        ",no,no,,now\n"  # row 6: missing id, bad onset
    )
    mapping = SurveyMapping.from_dict(
        {
            "id_column": "id",
            "ill_column": "ill",
            "item_columns": ["salad"],
            "portion_columns": {"salad": "salad n"},
            "onset_columns": ["onset"],
        }
    )
    with pytest.raises(SurveyError) as exc:
        code_survey(read_survey(io.BytesIO(text.encode()), "s.csv"), mapping)
    assert problems(exc) == {
        (4, "ill"),
        (5, "id"),
        (5, "salad"),
        (5, "salad n"),
        (6, "id"),
        (6, "onset"),
    }
    reasons = {(d["row"], d["column"]): d["reason"] for d in exc.value.details}
    assert "first on row 2" in reasons[(5, "id")]
    assert "'maybe'" in reasons[(5, "salad")]


def test_blank_rows_are_skipped_without_renumbering() -> None:
    df = read_survey(io.BytesIO(b"id,ill,salad\n\n1,y,n\n"), "s.csv")
    coded = code_survey(
        df,
        SurveyMapping.from_dict(
            {"id_column": "id", "ill_column": "ill", "item_columns": ["salad"]}
        ),
    )
    assert coded.rows == [3]
    assert coded.ids == ["1"]
