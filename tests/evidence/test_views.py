import base64
import hashlib

import pytest
import sqlalchemy as sa

from accounts import service as accounts
from ledger.verify_proof import (
    load_public_key,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
)


@pytest.fixture
def made(app):
    from web.db import get_session

    with app.app_context():
        s = get_session()
        users = {
            role: accounts.create_user(
                session=s,
                email=f"{role}@uni.edu",
                role=role,
                password="long enough password",
                merchant_id=1 if role == "merchant" else None,
            )
            for role in ("admin", "desk", "merchant", "student")
        }
    return users


def auth(made, role):
    return {"Authorization": f"Bearer {made[role].api_token}"}


def b(text):
    return base64.b64decode(text)


def test_every_created_user_is_a_ledger_entry_without_the_email(client, made):
    for role, created in made.items():
        idx = created.user.ledger_index
        body = client.get(f"/api/v1/ledger/entries/{idx}", headers=auth(made, "admin")).json
        assert body["type"] == "account.created"
        assert body["envelope"]["subject"] == {"user": created.user.id}
        assert f"{role}@uni.edu" not in b(body["entry"]).decode()


def test_entry_proof_verifies_offline_against_the_signed_checkpoint(client, made):
    key = load_public_key(client.get("/api/v1/ledger/public-key").get_data(as_text=True))
    body = client.get("/api/v1/ledger/entries/2", headers=auth(made, "desk")).json
    parsed, _ = verify_checkpoint(body["checkpoint"], key)
    leaf = hashlib.sha256(b"\x00" + b(body["entry"])).digest()
    assert leaf == b(body["leaf_hash"])
    verify_inclusion(
        leaf, 2, body["tree_size"], [b(h) for h in body["inclusion_proof"]], parsed.root
    )


def test_public_checkpoint_and_consistency_need_no_account(client, made):
    first = client.get("/api/v1/ledger/checkpoint").json
    assert first["size"] == 4
    from web.db import get_session  # a new user grows the log

    with client.application.app_context():
        accounts.create_user(session=get_session(), email="x@uni.edu", role="courier")
    body = client.get("/api/v1/ledger/consistency?first=4&second=5").json
    assert body["first_root"] == first["root"]
    verify_consistency(
        4, 5, b(body["first_root"]), b(body["second_root"]), [b(h) for h in body["proof"]]
    )


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("first=0&second=2", 422),
        ("first=3&second=2", 422),
        ("first=1&second=99", 422),
        ("first=a&second=2", 422),
        ("", 422),
    ],
)
def test_bad_consistency_ranges_are_4xx(client, made, query, status):
    resp = client.get(f"/api/v1/ledger/consistency?{query}")
    assert resp.status_code == status and "error" in resp.json


def test_unknown_entry_is_404(client, made):
    resp = client.get("/api/v1/ledger/entries/999", headers=auth(made, "admin"))
    assert resp.status_code == 404 and resp.json["error"]["code"] == "unknown_index"


@pytest.mark.parametrize("role", ["merchant", "student"])
def test_entries_are_for_staff_only(client, made, role):
    assert client.get("/api/v1/ledger/entries/0", headers=auth(made, role)).status_code == 403
    assert client.get("/api/v1/ledger/entries/0").status_code == 401


def sign_in(client, email):
    import re

    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    client.post(
        "/login", data={"email": email, "password": "long enough password", "csrf_token": token}
    )


def test_admin_verifies_the_ledger_from_its_page(client, made):
    sign_in(client, "admin@uni.edu")
    page = client.get("/admin/ledger").get_data(as_text=True)
    assert 'data-testid="ledger-size">4<' in page
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/admin/ledger/verify", data={"csrf_token": token})
    assert resp.status_code == 302
    run = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="run-status">ok<' in run


def test_verify_from_the_page_names_a_row_edited_behind_the_ledgers_back(app, client, made):
    from app import engine_of

    with engine_of(app).begin() as conn:
        conn.execute(sa.text("UPDATE users SET role = 'admin' WHERE email = 'student@uni.edu'"))
    sign_in(client, "admin@uni.edu")
    page = client.get("/admin/ledger").get_data(as_text=True)
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/admin/ledger/verify", data={"csrf_token": token})
    run = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="run-status">tampered<' in run
    assert "users" in run


@pytest.mark.parametrize("role", ["desk", "merchant", "student"])
def test_only_admins_open_the_ledger_page(client, made, role):
    sign_in(client, f"{role}@uni.edu")
    assert client.get("/admin/ledger").status_code == 403
