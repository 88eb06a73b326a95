import re

import pytest

from accounts import service

PASSWORD = "correct horse battery"


@pytest.fixture
def users(app):
    from datetime import date

    from trace.access import Viewer
    from trace.masterdata import register_merchant
    from web.db import get_session

    made = {}
    with app.app_context():
        s = get_session()
        merchant = register_merchant(
            session=s,
            viewer=Viewer(actor="system", role="admin"),
            name="North Canteen",
            licence_number="JY13301060000001",
            licence_expires_on=date(2030, 1, 1),
        )
        s.commit()
        assert merchant.id == 1
        for role in ("admin", "desk", "merchant", "courier", "student", "device"):
            made[role] = service.create_user(
                session=s,
                email=f"{role}@uni.edu",
                role=role,
                password=PASSWORD,
                merchant_id=1 if role == "merchant" else None,
            )
    return made


def csrf_of(client, path="/login"):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, email, password=PASSWORD):
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(client)}
    )


@pytest.mark.parametrize("role", ["admin", "desk", "merchant", "courier", "student", "device"])
def test_each_role_lands_on_its_own_home_page(client, users, role):
    resp = sign_in(client, f"{role}@uni.edu")
    assert resp.status_code == 302
    home = client.get("/", headers={"Accept-Language": "en"})
    assert f'data-testid="home-{role}"' in home.get_data(as_text=True)


def test_wrong_password_shows_an_error_and_no_session(client, users):
    resp = sign_in(client, "desk@uni.edu", "not the password")
    assert resp.status_code == 401
    assert "login-error" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(client, users):
    resp = client.post("/login", data={"email": "desk@uni.edu", "password": PASSWORD})
    assert resp.status_code == 400
    assert client.get("/").status_code == 302


def test_logout_needs_csrf_and_ends_the_session(client, users):
    sign_in(client, "desk@uni.edu")
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200
    token = csrf_of(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_repeated_bad_logins_are_throttled_with_retry_after(client, users, app):
    limit = app.extensions["foodtrace"].settings.login_max_attempts
    for _ in range(limit):
        assert sign_in(client, "desk@uni.edu", "nope nope nope").status_code == 401
    resp = sign_in(client, "desk@uni.edu")
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0


@pytest.mark.parametrize("role", ["desk", "merchant", "courier", "student", "device"])
def test_only_admins_open_the_users_page(client, users, role):
    sign_in(client, f"{role}@uni.edu")
    resp = client.get("/admin/users", headers={"Accept-Language": "en"})
    assert resp.status_code == 403
    assert 'data-testid="error-403"' in resp.get_data(as_text=True)


def test_admin_sees_the_users_page(client, users):
    sign_in(client, "admin@uni.edu")
    resp = client.get("/admin/users")
    assert resp.status_code == 200 and "student@uni.edu" in resp.get_data(as_text=True)


def test_anonymous_visitor_is_sent_to_login_with_a_safe_next(client):
    resp = client.get("/admin/users")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=/admin/users")


def test_login_ignores_an_offsite_next(client, users):
    token = csrf_of(client)
    resp = client.post(
        "/login",
        data={
            "email": "desk@uni.edu",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "https://evil.example/",
        },
    )
    assert resp.headers["Location"] == "/"


def bearer(users, role):
    return {"Authorization": f"Bearer {users[role].api_token}"}


def test_api_me_answers_for_a_bearer_token(client, users):
    resp = client.get("/api/v1/me", headers=bearer(users, "student"))
    assert resp.status_code == 200 and resp.json["role"] == "student"


def test_api_with_an_unknown_token_is_401(client):
    resp = client.get("/api/v1/me", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401 and resp.json["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("role", ["desk", "merchant", "courier", "student", "device"])
def test_only_admins_create_users_through_the_api(client, users, role):
    resp = client.post(
        "/api/v1/users", headers=bearer(users, role), json={"email": "x@uni.edu", "role": "student"}
    )
    assert resp.status_code == 403


def test_admin_creates_a_user_and_its_token_works(client, users):
    resp = client.post(
        "/api/v1/users",
        headers=bearer(users, "admin"),
        json={"email": "new@uni.edu", "role": "courier"},
    )
    assert resp.status_code == 201
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {resp.json['api_token']}"})
    assert me.json["email"] == "new@uni.edu"


def test_cookie_session_api_writes_need_the_csrf_header(client, users):
    sign_in(client, "admin@uni.edu")
    body = {"email": "n2@uni.edu", "role": "student"}
    assert client.post("/api/v1/users", json=body).status_code == 400
    token = csrf_of(client, "/")
    ok = client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201


@pytest.mark.parametrize("role", ["admin", "desk", "merchant", "courier", "student"])
def test_every_link_on_a_roles_home_page_opens_for_that_role(client, users, role):
    sign_in(client, f"{role}@uni.edu")
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    section = html[html.index('class="links"') :] if 'class="links"' in html else ""
    links = re.findall(r'<li><a href="([^"]+)"', section)
    assert links, f"the {role} home page lists no links"
    for url in links:
        resp = client.get(url, headers={"Accept-Language": "en"})
        assert resp.status_code == 200, f"{role}: {url} answered {resp.status_code}"
