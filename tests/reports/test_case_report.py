"""Generated case reports: key facts in both languages, pages that render, the embedded proof
bundle that verifies (and fails once tampered with), immutable versions in the ledger."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from sqlmodel import Session

import ledger
from evidence.service import LedgerKey
from reports import proofs, service
from tests.reports.conftest import COMPLAINANT, open_illness_case, pdf_text

ADMIN = service.Caller("user:1", "admin")


def _key(tmp_path: Path) -> LedgerKey:
    return LedgerKey(tmp_path / "ledger.pem", "foodtrace.test/ledger")


def _render(session: Session, key: LedgerKey, case_id: int, language: str, audience="staff"):
    report = service.request_case_report(
        session=session, case_id=case_id, language=language, audience=audience, caller=ADMIN
    )
    report = service.render_report(
        session=session, report_id=report.id, key=key, tz="Asia/Shanghai"
    )
    assert report.status == "ready", report.error
    return report, service.report_pdf(session=session, report_id=report.id, caller=ADMIN)[1]


def test_the_english_report_states_the_cases_key_facts(engine, tmp_path):
    with Session(engine, expire_on_commit=False) as s:
        case_id = open_illness_case(s)
        report, data = _render(s, _key(tmp_path), case_id, "en")
    text = pdf_text(data)
    assert report.case_number in text and "Food-safety investigation report" in text
    assert "It concerns 6 order(s) from 3 merchant(s)" in text
    assert "2 of 2 people in the party fell ill" in text
    assert "Cold chain: 5 delivery(ies) judged, 1 outside the safe range" in text
    for heading in (
        "1. Executive summary",
        "3. Trace",
        "5. Temperature during delivery",
        "6. Affected orders",
        "Appendix: evidence and ledger proofs",
    ):
        assert heading in text
    assert COMPLAINANT["name"] in text  # the staff edition names the complainant
    # complaints.investigation's ranked table, with its plain-language reading
    assert "4. Possible sources: attack rates and ranking" in text
    assert "Relative risk (95% CI)" in text and "Plain reading: of the people who received" in text
    assert "Page 3" in text and "Report version 1" in text


def test_the_chinese_report_states_the_same_facts_in_chinese(engine, tmp_path):
    with Session(engine, expire_on_commit=False) as s:
        case_id = open_illness_case(s)
        report, data = _render(s, _key(tmp_path), case_id, "zh-CN")
    text = pdf_text(data)
    assert "食品安全调查报告" in text and report.case_number in text
    assert "涉及 3 家商户的 6 个订单" in text
    assert "共判定 5 次配送，其中 1 次超出安全温度范围" in text
    assert "疑似食源性疾病" in text and "一、摘要" in text and "附录：证据与账本证明" in text
    assert "第 2 页" in text
    assert "\u00b7" not in text  # the CID font has no middle dot: it would print as a box


def test_every_page_renders_to_a_png(engine, tmp_path):
    with Session(engine, expire_on_commit=False) as s:
        _, data = _render(s, _key(tmp_path), open_illness_case(s), "zh-CN")
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "p")], check=True)
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == len(PdfReader(io.BytesIO(data)).pages) >= 4
    assert all(p.read_bytes().startswith(b"\x89PNG") and p.stat().st_size > 2000 for p in pngs)


def _with_attachment(data: bytes, document: bytes) -> bytes:
    reader = PdfReader(io.BytesIO(data))
    writer = PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.add_attachment(proofs.ATTACHMENT, document)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_the_embedded_bundle_verifies_and_fails_once_tampered_with(engine, tmp_path):
    key = _key(tmp_path)
    with Session(engine, expire_on_commit=False) as s:
        _, data = _render(s, key, open_illness_case(s), "en")
    report, checks = service.verify_upload(upload=data, key=key)
    assert report["version"] == 1 and len(checks) >= 5 and all(c.ok for c in checks)
    document = PdfReader(io.BytesIO(data)).attachments[proofs.ATTACHMENT][0]
    qr = proofs.qr_payload(number=report["case"], version=1, language="en", document=document)
    assert qr.split("proofs-sha256=")[1] in pdf_text(data).replace(" ", "")

    doc = json.loads(document)
    bundle = doc["records"][0]["bundle"]
    envelope = json.loads(__import__("base64").b64decode(bundle["entry"]))
    envelope["actor"] = "user:999"  # rewrite who did it
    bundle["entry"] = __import__("base64").b64encode(json.dumps(envelope).encode()).decode()
    tampered = _with_attachment(data, json.dumps(doc).encode())
    _, checks = service.verify_upload(upload=tampered, key=key)
    assert checks[0].ok is False and "FAILED" in checks[0].message
    assert all(c.ok for c in checks[1:])

    other = LedgerKey(tmp_path / "other.pem", "foodtrace.test/ledger")
    _, checks = service.verify_upload(upload=data, key=other)
    assert not any(c.ok for c in checks)  # a bundle's own key is never trusted


def test_each_generation_is_a_new_version_whose_sha256_is_in_the_ledger(engine, tmp_path):
    key = _key(tmp_path)
    with Session(engine, expire_on_commit=False) as s:
        case_id = open_illness_case(s)
        first, first_pdf = _render(s, key, case_id, "en")
        second, second_pdf = _render(s, key, case_id, "en")
        assert (first.version, second.version) == (1, 2) and first.id != second.id
        for report, data in ((first, first_pdf), (second, second_pdf)):
            assert report.sha256 == hashlib.sha256(data).hexdigest()
            entry = ledger.entry_at(s, report.ledger_index).envelope()
            assert entry["type"] == "report.generated"
            assert entry["payload"]["sha256"] == report.sha256
        again = service.render_report(session=s, report_id=first.id, key=key, tz="UTC")
        assert again.sha256 == first.sha256  # a rendered version is never rewritten
        assert service.report_pdf(session=s, report_id=first.id, caller=ADMIN)[1] == first_pdf


def test_the_merchant_edition_carries_no_complainant_details(engine, tmp_path):
    with Session(engine, expire_on_commit=False) as s:
        report, data = _render(s, _key(tmp_path), open_illness_case(s), "en", "merchant")
    text = pdf_text(data)
    assert report.has_complainant_details is False
    for value in COMPLAINANT.values():
        assert value not in text
    assert "Merchant (pseudonymous" in text
