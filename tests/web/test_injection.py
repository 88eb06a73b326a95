"""SQL and template injection attempts in text fields are stored verbatim, answered verbatim in
JSON, and escaped (never evaluated) on the pages that show them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from accounts import service as accounts
from app import engine_of

PAYLOADS = (
    "'; DROP TABLE users; --",
    "Robert'); DELETE FROM ledger_entry WHERE ('1'='1",
    "{{ 7*191 }}",
    "{% raw %}{{ config.items() }}{% endraw %}",
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
)


@pytest.fixture
def staff(app):  # type: ignore[no-untyped-def]
    from web.db import get_session

    with app.app_context():
        s = get_session()
        admin = accounts.create_user(session=s, email="admin@uni.edu", role="admin")
        student = accounts.create_user(session=s, email="stu@uni.edu", role="student")
    return admin, student


def signed_in(app, user):  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    with client.session_transaction() as sess:
        sess["uid"] = user.user.id
    return client


def assert_shown_safely(html: str, payload: str) -> None:
    assert payload not in html or "<" not in payload, f"unescaped on the page: {payload!r}"
    assert "1337" not in html, "a template expression was evaluated"
    assert "SECRET_KEY" not in html, "the app's config leaked through a template"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_supplier_name_is_stored_verbatim_and_escaped_on_the_page(app, client, staff, payload):
    admin, _ = staff
    auth = {"Authorization": f"Bearer {admin.api_token}"}
    resp = client.post(
        "/api/v1/trace/suppliers",
        headers=auth,
        json={"name": f"Farm {payload}", "licence_number": f"SC{abs(hash(payload)) % 10**8}"},
    )
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["name"] == f"Farm {payload}"
    listed = client.get("/api/v1/trace/suppliers", headers=auth).get_json()
    names = [s["name"] for s in (listed["suppliers"] if isinstance(listed, dict) else listed)]
    assert f"Farm {payload}" in names
    html = signed_in(app, admin).get("/trace/suppliers").get_data(as_text=True)
    assert "Farm " in html
    assert_shown_safely(html, payload)
    with engine_of(app).connect() as conn:  # nothing was dropped or deleted
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 2
        assert conn.execute(text("SELECT count(*) FROM ledger_entry")).scalar_one() > 0


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_complaint_description_is_stored_verbatim_and_escaped_for_the_desk(
    app, client, staff, payload
):
    admin, student = staff
    onset = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    resp = client.post(
        "/api/v1/cases",
        headers={"Authorization": f"Bearer {student.api_token}", "Idempotency-Key": "inj-1"},
        json={
            "category": "foreign_object",
            "description": f"Found {payload} in the soup",
            "order_ids": [],
            "onset_at": onset,
            "symptoms": [],
        },
    )
    assert resp.status_code == 201, resp.get_json()
    case_id = resp.get_json()["id"]
    seen = client.get(
        f"/api/v1/cases/{case_id}", headers={"Authorization": f"Bearer {admin.api_token}"}
    ).get_json()
    assert seen["description"] == f"Found {payload} in the soup"
    html = signed_in(app, admin).get(f"/complaints/cases/{case_id}").get_data(as_text=True)
    assert "in the soup" in html
    assert_shown_safely(html, payload)
