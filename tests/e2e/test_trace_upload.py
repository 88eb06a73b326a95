"""A merchant uploads a receiving CSV with one bad row in a real browser and reads the error."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from demo.seed import DEMO_PASSWORD, seed_accounts
from trace import demo as trace_demo
from trace.columns import COLUMNS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture
def merchant_email(app):
    from web.db import get_session

    with app.app_context():
        accounts = dict((role, email) for email, role in seed_accounts(session=get_session()))
        trace_demo.seed(session=get_session())
    return accounts["merchant"]


def csv_with_one_bad_row() -> bytes:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    good = {
        "tlc": "E2E-1",
        "product": "Lettuce",
        "quantity": "5",
        "unit": "kg",
        "supplier": "SC11731010000101",
        "tlc_source": "Chongming farm",
        "tlc_source_reference": "",
        "received_on": yesterday,
        "location": "cold room",
        "reference_document_type": "Invoice",
        "reference_document_number": "INV-E2E-1",
        "expiry_date": "",
        "storage": "chilled",
    }
    bad = good | {"tlc": "E2E-2", "unit": "bucket", "reference_document_number": "INV-E2E-2"}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.en for c in COLUMNS["receiving"]])
    for values in (good, bad):
        writer.writerow([values[c.key] for c in COLUMNS["receiving"]])
    return buffer.getvalue().encode("utf-8")


def test_a_merchant_uploads_a_csv_with_one_bad_row_and_reads_the_error(
    live_server, browser_page, merchant_email
):
    page = browser_page
    page.goto(live_server + "/login")
    page.fill("input[name=email]", merchant_email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_selector("[data-testid=home-merchant]")
    page.goto(live_server + "/trace/uploads")
    if page.locator("html").get_attribute("lang") != "en":
        page.click("[data-testid=lang-switch]")
        page.wait_for_selector("html[lang=en]")
    page.select_option("[data-testid=upload-kind]", "receiving")
    page.set_input_files(
        "[data-testid=upload-file]",
        {"name": "lots.csv", "mimeType": "text/csv", "buffer": csv_with_one_bad_row()},
    )
    page.click("[data-testid=upload-submit]")
    page.wait_for_selector("[data-testid=upload-rejected]")
    errors = page.locator("[data-testid=upload-error]")
    assert errors.count() == 1
    cells = [errors.first.locator("td").nth(i).inner_text() for i in range(3)]
    assert cells == ["3", "Unit", "unknown unit 'bucket'"]
    assert page.inner_text("[data-testid=upload-created]") == "0"
