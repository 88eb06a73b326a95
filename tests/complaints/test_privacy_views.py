"""Privacy per endpoint and page per role: the complainant's name, phone, email and medical
details never appear in what a merchant (without consent), another student, a courier or a
device receives; the desk sees them."""

from __future__ import annotations

import pytest

from tests.complaints.conftest import desk_case, recent, signed_in

NAME, PHONE, EMAIL = "Ouyang Xiu", "+86 139 1234 5678", "ouyang@mail.cn"
DESCRIPTION = "Ouyang and his sister vomited blood"
SECRETS = (NAME, PHONE, EMAIL, DESCRIPTION, "hospitalised", "bloody_stool", "Shanghai dumplings")


def sensitive(**consent):
    return desk_case(
        description=DESCRIPTION,
        complainant={"name": NAME, "phone": PHONE, "email": EMAIL},
        symptoms=["vomiting", "bloody_stool"],
        medical_care="hospitalised",
        food_history="Shanghai dumplings on Friday",
        ill_persons=[{"age_band": "45-64", "sex": "male"}],
        merchant_id=1,
        consent=consent,
    )


@pytest.fixture
def case(client, people):
    resp = client.post("/api/v1/cases", json=sensitive(), headers=people.auth("desk"))
    assert resp.status_code == 201
    return resp.get_json()


def api_bodies(client, people, who, case_id):
    """Every complaint API answer this role can get about the case."""
    headers = people.auth(who)
    return {
        "detail": client.get(f"/api/v1/cases/{case_id}", headers=headers),
        "list": client.get("/api/v1/cases", headers=headers),
        "filtered": client.get("/api/v1/cases?merchant_id=1&status=open", headers=headers),
    }


def assert_no_secrets(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked in {where}"


def test_the_merchant_api_view_is_pseudonymous(client, people, case):
    answers = api_bodies(client, people, "merchant", case["id"])
    for where, resp in answers.items():
        assert resp.status_code == 200, where
        assert_no_secrets(resp.get_data(as_text=True), f"merchant {where}")
    detail = answers["detail"].get_json()
    assert detail["number"] == case["number"] and detail["order_ids"] == [101, 102]
    assert detail["symptom_categories"] == ["gastrointestinal"] and detail["pseudonymous"]
    assert answers["list"].get_json()["total"] == 1


def test_another_merchant_does_not_even_learn_the_case_exists(client, people, case):
    answers = api_bodies(client, people, "merchant2", case["id"])
    assert answers["detail"].status_code == 404
    assert answers["list"].get_json()["total"] == 0
    for resp in answers.values():
        assert_no_secrets(resp.get_data(as_text=True), "merchant2")


def test_another_student_sees_nothing_of_it(client, people, case):
    answers = api_bodies(client, people, "student2", case["id"])
    assert answers["detail"].status_code == 404
    assert answers["list"].get_json()["total"] == 0
    for resp in answers.values():
        assert_no_secrets(resp.get_data(as_text=True), "student2")


def test_couriers_and_devices_are_refused(client, people, case):
    for who in ("courier", "device"):
        for where, resp in api_bodies(client, people, who, case["id"]).items():
            assert resp.status_code == 403, (who, where)
            assert_no_secrets(resp.get_data(as_text=True), who)


def test_the_desk_and_admin_see_everything(client, people, case):
    for who in ("desk", "admin"):
        text = client.get(f"/api/v1/cases/{case['id']}", headers=people.auth(who)).get_data(
            as_text=True
        )
        for secret in (NAME, PHONE, EMAIL, "hospitalised"):
            assert secret in text


def test_consent_to_share_shows_the_merchant_the_contact_but_not_the_medical_details(
    client, people
):
    body = sensitive(share_with_merchant=True)
    created = client.post("/api/v1/cases", json=body, headers=people.auth("desk")).get_json()
    text = client.get(f"/api/v1/cases/{created['id']}", headers=people.auth("merchant")).get_data(
        as_text=True
    )
    assert NAME in text and PHONE in text
    assert "hospitalised" not in text and "bloody_stool" not in text


def test_the_complainant_sees_their_case_but_not_internal_notes(client, people):
    body = {"category": "illness", "description": "Fever", "onset_at": recent(), "merchant_id": 1}
    created = client.post("/api/v1/cases", json=body, headers=people.auth("student")).get_json()
    cid = created["id"]
    client.post(
        f"/api/v1/cases/{cid}/notes", json={"body": "Stall 4 again"}, headers=people.auth("desk")
    )
    client.post(
        f"/api/v1/cases/{cid}/replies",
        json={"body": "We called the stall"},
        headers=people.auth("desk"),
    )
    text = client.get(f"/api/v1/cases/{cid}", headers=people.auth("student")).get_data(as_text=True)
    assert "We called the stall" in text and "Stall 4 again" not in text
    merchant = client.get(f"/api/v1/cases/{cid}", headers=people.auth("merchant")).get_data(
        as_text=True
    )
    assert "student@uni.edu" not in merchant and "We called the stall" not in merchant


PAGES = [
    "/complaints/",
    "/complaints/sla",
    "/complaints/surveys",
    "/complaints/merchant",
    "/complaints/mine",
]


def test_pages_show_personal_data_only_to_the_desk(app, people, case):
    case_page = f"/complaints/cases/{case['id']}"
    for who in ("merchant", "merchant2", "student2", "courier"):
        client, _ = signed_in(app, people.users[who])
        for url in [*PAGES, case_page]:
            resp = client.get(url)
            assert resp.status_code in (200, 403, 404), (who, url, resp.status_code)
            assert_no_secrets(resp.get_data(as_text=True), f"{who} {url}")
    merchant, _ = signed_in(app, people.users["merchant"])
    listed = merchant.get("/complaints/merchant").get_data(as_text=True)
    assert case["number"] in listed
    desk, _ = signed_in(app, people.users["desk"])
    page = desk.get(case_page).get_data(as_text=True)
    assert NAME in page and PHONE in page


def test_a_merchant_page_shows_the_contact_once_consent_is_given(app, client, people):
    created = client.post(
        "/api/v1/cases", json=sensitive(share_with_merchant=True), headers=people.auth("desk")
    ).get_json()
    merchant, _ = signed_in(app, people.users["merchant"])
    page = merchant.get("/complaints/merchant").get_data(as_text=True)
    assert created["number"] in page and NAME in page and "hospitalised" not in page
