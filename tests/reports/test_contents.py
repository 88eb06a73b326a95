"""The cover's table of contents gives each section the page it really starts on."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from sqlmodel import Session

from reports.pdf import SECTIONS
from reports.wording import words
from tests.reports.test_case_report import _key, _render
from tests.reports.test_case_report import open_illness_case as open_case


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_contents_list_every_section_with_its_page(engine, tmp_path, language):
    with Session(engine, expire_on_commit=False) as s:
        _report, data = _render(s, _key(tmp_path), open_case(s), language)
    pages = [(p.extract_text() or "") for p in PdfReader(io.BytesIO(data)).pages]
    cover = pages[0]
    w = words(language)
    listed = []
    for section in SECTIONS:
        title = w[section]
        # pypdf extracts each entry's dot leader and page number just before its title
        found = re.search(r"\.\s+(\d+)\s*\n" + re.escape(title), cover)
        assert found, (title, cover)
        page = int(found.group(1))
        starts = next(i + 1 for i, text in enumerate(pages[1:], start=1) if title in text)
        assert page == starts, (title, page, starts)
        listed.append(page)
    assert listed == sorted(listed) and listed[0] == 2 and listed[-1] <= len(pages)
    assert "Placeholder" not in cover
