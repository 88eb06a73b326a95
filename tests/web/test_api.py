import pytest

from accounts import service


@pytest.fixture
def admin_token(app):
    from web.db import get_session

    with app.app_context():
        return service.create_user(
            session=get_session(),
            email="admin@uni.edu",
            role="admin",
            password="long enough password",
        ).api_token


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_openapi_document_is_served_and_describes_bearer_auth(client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/users" in doc["paths"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_interactive_docs_are_served(client):
    resp = client.get("/api/v1/swagger")
    assert resp.status_code == 200 and "swagger" in resp.get_data(as_text=True).lower()


def test_malformed_json_is_a_400_in_the_error_format(client, admin_token):
    resp = client.post(
        "/api/v1/users",
        data="{not json",
        headers=auth(admin_token),
        content_type="application/json",
    )
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "malformed_json"


def test_wrong_types_are_422_naming_the_field(client, admin_token):
    resp = client.post(
        "/api/v1/users",
        headers=auth(admin_token),
        json={"email": "x@uni.edu", "role": "student", "merchant_id": "seven"},
    )
    assert resp.status_code == 422
    assert "merchant_id" in resp.json["error"]["message"]
    assert resp.json["error"]["details"][0]["field"] == "merchant_id"


def test_unknown_fields_are_rejected_by_name(client, admin_token):
    resp = client.post(
        "/api/v1/users",
        headers=auth(admin_token),
        json={"email": "x@uni.edu", "role": "student", "is_admin": True},
    )
    assert resp.status_code == 422
    assert "is_admin" in resp.json["error"]["message"]


def test_unknown_role_is_rejected(client, admin_token):
    resp = client.post(
        "/api/v1/users", headers=auth(admin_token), json={"email": "x@uni.edu", "role": "superuser"}
    )
    assert resp.status_code == 422 and "role" in resp.json["error"]["message"]


def test_domain_errors_map_to_4xx_with_the_field(client, admin_token):
    body = {"email": "dup@uni.edu", "role": "student"}
    assert client.post("/api/v1/users", headers=auth(admin_token), json=body).status_code == 201
    resp = client.post("/api/v1/users", headers=auth(admin_token), json=body)
    assert resp.status_code == 422
    assert resp.json["error"]["details"] == [
        {"field": "email", "reason": resp.json["error"]["message"]}
    ]


def test_oversize_body_is_413_json(app, client, admin_token):
    limit = app.config["MAX_CONTENT_LENGTH"]
    resp = client.post(
        "/api/v1/users",
        headers=auth(admin_token),
        data=b"x" * (limit + 1),
        content_type="application/json",
    )
    assert resp.status_code == 413
    assert resp.json["error"]["code"] == "request_entity_too_large"


def test_unknown_api_path_is_a_json_404(client):
    resp = client.get("/api/v1/nothing-here")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


def test_unexpected_errors_are_500_without_internals(app, client):
    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals")

    resp = client.get("/api/v1/boom")
    assert resp.status_code == 500
    assert "secret" not in resp.get_data(as_text=True)


def test_an_id_beyond_64_bits_in_a_path_is_no_such_resource_not_a_server_error(client, admin_token):
    huge = "9" * 30
    resp = client.get(f"/api/v1/ledger/entries/{huge}", headers=auth(admin_token))
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"
    assert client.get(
        f"/api/v1/ledger/entries/{2**63 - 1}", headers=auth(admin_token)
    ).status_code in (404, 422)


def test_a_number_the_database_cannot_hold_is_a_422_naming_the_problem(app):
    from flask import Flask

    from web import errors

    probe = Flask("probe")
    errors.init_app(probe)

    @probe.get("/api/v1/probe")
    def overflow():  # type: ignore[no-untyped-def]
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    resp = probe.test_client().get("/api/v1/probe")
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "value_out_of_range"
