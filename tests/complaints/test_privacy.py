"""Who sees what of a case, on the pure view builder (the endpoints are in test_privacy_views)."""

import pytest

from complaints.privacy import Viewer, case_view, symptom_categories, visible_events

CASE = {
    "id": 7,
    "number": "FT-2026-000007",
    "status": "investigating",
    "category": "illness",
    "description": "My roommate Wang Wu and I vomited",
    "symptoms": ["vomiting", "bloody_stool"],
    "medical_care": "hospitalised",
    "ill_persons": [{"age_band": "15-24", "sex": "female"}],
    "onset_at": "2026-05-04T09:00:00+00:00",
    "opened_at": "2026-05-04T12:00:00+00:00",
    "order_ids": [31, 32],
    "merchant_id": 3,
    "complainant": {"user_id": 40, "name": "Li Si", "phone": "13800138000", "email": "ls@x.cn"},
    "consent": {"share_with_merchant": False, "health_data_processing": False},
    "severity": "critical",
    "assignee_id": 2,
    "food_history": "hotpot on Sunday",
}
SECRETS = ("Li Si", "13800138000", "ls@x.cn", "Wang Wu", "hospitalised", "bloody_stool", "hotpot")


def flat(view) -> str:
    return repr(view)


def test_staff_see_everything():
    for role in ("desk", "admin"):
        assert case_view(CASE, Viewer(role, 1)) == CASE


def test_the_complainant_sees_their_case_without_desk_internals():
    view = case_view(CASE, Viewer("student", 40))
    assert view["description"] == CASE["description"]
    assert "severity" not in view and "assignee_id" not in view


def test_other_students_couriers_and_devices_see_nothing():
    assert case_view(CASE, Viewer("student", 41)) is None
    assert case_view(CASE, Viewer("courier", 5)) is None
    assert case_view(CASE, Viewer("device", 6)) is None
    assert case_view(CASE, Viewer("student", None)) is None


def test_a_merchant_sees_only_cases_about_its_merchant():
    assert case_view(CASE, Viewer("merchant", 9, merchant_id=4)) is None
    assert case_view(CASE, Viewer("merchant", 9, merchant_id=None)) is None


def test_without_consent_a_merchant_gets_a_pseudonymous_case():
    view = case_view(CASE, Viewer("merchant", 9, merchant_id=3))
    for secret in SECRETS:
        assert secret not in flat(view)
    assert view["order_ids"] == [31, 32] and view["onset_at"] == CASE["onset_at"]
    assert view["symptom_categories"] == ["gastrointestinal"]
    assert view["pseudonymous"] is True


def test_consent_to_share_reveals_the_contact_but_not_health_data():
    case = {**CASE, "consent": {"share_with_merchant": True, "health_data_processing": False}}
    view = case_view(case, Viewer("merchant", 9, merchant_id=3))
    assert view["complainant"] == {"name": "Li Si", "phone": "13800138000", "email": "ls@x.cn"}
    assert "hospitalised" not in flat(view) and "bloody_stool" not in flat(view)


def test_both_consents_reveal_the_medical_details_too():
    case = {**CASE, "consent": {"share_with_merchant": True, "health_data_processing": True}}
    view = case_view(case, Viewer("merchant", 9, merchant_id=3))
    assert view["medical_care"] == "hospitalised" and view["symptoms"] == CASE["symptoms"]
    assert "user_id" not in view["complainant"]


def test_health_consent_alone_shares_nothing_with_the_merchant():
    case = {**CASE, "consent": {"share_with_merchant": False, "health_data_processing": True}}
    view = case_view(case, Viewer("merchant", 9, merchant_id=3))
    for secret in SECRETS:
        assert secret not in flat(view)


@pytest.mark.parametrize(
    ("symptoms", "groups"),
    [
        (["neurological", "nausea"], ["gastrointestinal", "neurological"]),
        (["fever"], ["systemic"]),
        ([], []),
    ],
)
def test_symptoms_collapse_into_coarse_groups(symptoms, groups):
    assert symptom_categories(symptoms) == groups


def test_the_complainant_reads_replies_and_status_changes_but_not_notes_or_reasons():
    def event(kind, body, visible, **extra):
        return {
            "kind": kind,
            "body": body,
            "visible_to_complainant": visible,
            "actor": "user:2",
        } | extra

    events = [
        event("note", "suspect the rice", False),
        event("reply", "We are on it", True),
        event("transitioned", "internal reason", True, to_status="investigating"),
    ]
    seen = visible_events(events, Viewer("student", 40))
    assert [e["kind"] for e in seen] == ["reply", "transitioned"]
    assert "internal reason" not in flat(seen) and "user:2" not in flat(seen)
    assert visible_events(events, Viewer("merchant", 9, 3)) == []
    assert visible_events(events, Viewer("desk", 1)) == events
