"""The server-rendered pages: desk intake and case work, SLA and compliance, surveys, the
student's report and "my reports", the merchant's list; no inline script or style."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from tests.complaints.test_attachments import PNG
from tests.complaints.test_surveys_api import MAPPING, VEHICLE, planted, to_csv

TEMPLATES = Path(__file__).resolve().parents[2] / "complaints" / "templates"


@pytest.fixture
def desk(app, people):
    from tests.complaints.conftest import signed_in

    return signed_in(app, people.users["desk"])


@pytest.fixture
def student(app, people):
    from tests.complaints.conftest import signed_in

    return signed_in(app, people.users["student"])


NEW_CASE = {
    "channel": "walk_in",
    "category": "illness",
    "description": "Diarrhoea after the beef noodles",
    "onset_at": "",
    "symptoms": ["diarrhoea", "fever"],
    "n_party": "2",
    "n_ill": "2",
    "medical_care": "doctor",
    "order_refs": "#2048, 2049",
    "complainant_name": "Feng Shi",
    "complainant_phone": "13500135000",
    "remedy_sought": ["refund"],
    "health_data_processing": "on",
}


def local_onset(app) -> str:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(app.extensions["foodtrace"].settings.timezone)
    return (datetime.now(zone) - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")


def open_from_form(app, desk) -> str:
    client, token = desk
    form = {**NEW_CASE, "onset_at": local_onset(app), "csrf_token": token}
    resp = client.post("/complaints/new", data=form)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    return resp.headers["Location"]


def test_the_desk_opens_a_case_from_the_form_and_lands_on_its_page(app, desk):
    client, _ = desk
    location = open_from_form(app, desk)
    page = client.get(location).get_data(as_text=True)
    assert re.search(r'data-testid="case-number">FT-\d{4}-000001<', page)
    assert "Feng Shi" in page and "2048, 2049" in page
    assert 'data-testid="sla-clocks"' in page and 'data-target="first_response"' in page
    assert 'data-testid="traceback"' in page  # the panel part 2 fills
    assert 'data-testid="to-acknowledged"' in page
    assert "Critical" in page  # two ill


def test_a_bad_form_is_shown_again_with_the_fields_marked(app, desk):
    client, token = desk
    form = {**NEW_CASE, "n_party": "1", "n_ill": "3", "onset_at": "", "csrf_token": token}
    resp = client.post("/complaints/new", data=form)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'data-error="n_ill"' in page and 'data-error="onset_at"' in page
    assert "Diarrhoea after the beef noodles" in page  # what was typed is kept


def test_forms_without_the_csrf_token_are_refused(app, desk):
    client, _ = desk
    assert client.post("/complaints/new", data=NEW_CASE).status_code == 400


def test_working_a_case_from_its_page(app, desk, people):
    client, token = desk
    location = open_from_form(app, desk)
    case_id = int(location.rsplit("/", 1)[1])
    base = f"/complaints/cases/{case_id}"
    assert (
        client.post(
            f"{base}/transition", data={"to": "acknowledged", "csrf_token": token}
        ).status_code
        == 303
    )
    refused = client.post(
        f"{base}/transition", data={"to": "closed", "csrf_token": token}, follow_redirects=True
    )
    assert "cannot move to" in refused.get_data(
        as_text=True
    ) and "&#39;acknowledged&#39;" in refused.get_data(as_text=True)
    client.post(f"{base}/assign", data={"user_id": str(people.id("desk2")), "csrf_token": token})
    client.post(f"{base}/notes", data={"body": "Called the stall manager", "csrf_token": token})
    client.post(f"{base}/replies", data={"body": "We are testing the beef", "csrf_token": token})
    client.post(
        f"{base}/attachments",
        data={"file": (io.BytesIO(PNG), "bowl.png"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    client.post(
        f"{base}/compensation",
        data={
            "remedy": "refund",
            "order_id": "2048",
            "price": "18.50",
            "amount": "18.50",
            "csrf_token": token,
        },
    )
    page = client.get(f"{base}?price=50&loss=0").get_data(as_text=True)
    assert "Called the stall manager" in page and "We are testing the beef" in page
    assert "Desk2" in page  # the assignee by name
    assert "<img" in page and f"/api/v1/cases/{case_id}/attachments/1" in page
    assert "¥18.50" in page
    assert re.search(r'data-testid="calc-result">[^<]*1,000\.00', page)  # 10 × ¥50 < ¥1,000


def test_sla_overview_lists_open_cases_and_admins_see_compliance(app, desk, people):
    from tests.complaints.conftest import signed_in

    open_from_form(app, desk)
    client, _ = desk
    board = client.get("/complaints/sla").get_data(as_text=True)
    assert 'data-testid="sla-board"' in board and "FT-" in board and 'data-state="running"' in board
    admin, _ = signed_in(app, people.users["admin"])
    assert 'data-testid="compliance-overall"' in admin.get("/complaints/compliance").get_data(
        as_text=True
    )
    assert client.get("/complaints/compliance").status_code == 403


def test_the_case_list_filters(app, desk):
    open_from_form(app, desk)
    client, _ = desk
    assert "FT-" in client.get("/complaints/?status=new&category=illness").get_data(as_text=True)
    assert "FT-" not in client.get("/complaints/?category=hygiene").get_data(as_text=True)


def test_a_survey_uploaded_from_the_page_shows_its_ranked_table(app, desk):
    client, token = desk
    form = {
        "file": (io.BytesIO(to_csv(planted())), "lunch.csv"),
        "id_column": MAPPING["id_column"],
        "ill_column": MAPPING["ill_column"],
        "item_columns": ", ".join(MAPPING["item_columns"]),
        "onset_columns": "onset",
        "portion_columns": f"{VEHICLE} = salad portions",
        "missing_values": ", ?, 不知道",
        "csrf_token": token,
    }
    resp = client.post("/complaints/surveys", data=form, content_type="multipart/form-data")
    assert resp.status_code == 303
    page = client.get(
        resp.headers["Location"] + f"?item=bread roll&by={VEHICLE}&dose_item={VEHICLE}"
    )
    text = page.get_data(as_text=True)
    first_row = re.search(r'<tr data-item="([^"]+)"', text)
    assert first_row and first_row.group(1) == VEHICLE
    assert 'data-testid="mh-result"' in text and "<svg" in text and "<rect" in text


def test_a_bad_survey_upload_lists_the_problems(app, desk):
    client, token = desk
    rows = planted(10)
    rows[2]["fried rice"] = "perhaps"
    form = {
        "file": (io.BytesIO(to_csv(rows)), "lunch.csv"),
        "id_column": "id",
        "ill_column": "ill",
        "item_columns": "fried rice",
        "csrf_token": token,
    }
    resp = client.post("/complaints/surveys", data=form, content_type="multipart/form-data")
    assert resp.status_code == 422
    assert "perhaps" in resp.get_data(as_text=True) and "Row 4" in resp.get_data(as_text=True)


def test_a_student_reports_sees_the_acknowledgement_and_rates_after_closure(
    app, client, student, people
):
    browser, token = student
    form = {
        "category": "temperature",
        "description": "The soup was cold",
        "order_refs": "3001",
        "remedy_sought": ["voucher"],
        "csrf_token": token,
    }
    resp = browser.post("/complaints/report", data=form)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/complaints/mine")
    mine = browser.get("/complaints/mine").get_data(as_text=True)
    number = re.search(r"FT-\d{4}-\d{6}", mine).group(0)
    assert f"We have received your report {number}" in mine
    case_id = client.get("/api/v1/cases", headers=people.auth("desk")).get_json()["cases"][0]["id"]
    for to in ("acknowledged", "investigating", "action_taken"):
        client.post(
            f"/api/v1/cases/{case_id}/transitions", json={"to": to}, headers=people.auth("desk")
        )
    client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json={
            "to": "resolved",
            "resolution": "Voucher",
            "root_cause": "Lid",
            "corrective_action": "Lids",
        },
        headers=people.auth("desk"),
    )
    client.post(
        f"/api/v1/cases/{case_id}/transitions", json={"to": "closed"}, headers=people.auth("desk")
    )
    mine = browser.get("/complaints/mine").get_data(as_text=True)
    assert 'data-testid="feedback-form"' in mine and f"Your case {number} is closed" in mine
    sent = browser.post(
        f"/complaints/mine/{case_id}/feedback", data={"rating": "4", "csrf_token": token}
    )
    assert sent.status_code == 303
    assert 'data-testid="feedback-form"' not in browser.get("/complaints/mine").get_data(
        as_text=True
    )


def test_a_bad_student_report_is_shown_again(app, student):
    browser, token = student
    resp = browser.post(
        "/complaints/report", data={"category": "illness", "order_refs": "abc", "csrf_token": token}
    )
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'data-error="description"' in page and 'data-error="order_ids"' in page


def test_pages_render_in_chinese_too(app, desk):
    client, _ = desk
    resp = client.get("/complaints/new", headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 200 and 'lang="zh-CN"' in resp.get_data(as_text=True)


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.rglob("*.html")))
def test_templates_have_no_inline_script_or_style(template):
    text = next(TEMPLATES.rglob(template)).read_text()
    assert "<style" not in text and " style=" not in text
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)
    assert not re.search(r"\son[a-z]+=", text)  # no inline event handlers either


def test_the_case_page_generates_a_report_listed_under_the_case(app, desk):
    client, token = desk
    location = open_from_form(app, desk)
    case_id = int(location.rsplit("/", 1)[1])
    page = client.get(f"/complaints/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="generate-report"' in page
    assert f'action="/reports/cases/{case_id}"' in page
    made = client.post(
        f"/reports/cases/{case_id}",
        data={"language": "en", "audience": "staff", "csrf_token": token},
    )
    assert made.status_code in (302, 303)
    assert "/reports/" in made.headers["Location"]
    listed = client.get(f"/reports/?case_id={case_id}").get_data(as_text=True)
    assert made.headers["Location"].rsplit("/", 1)[1] in listed
