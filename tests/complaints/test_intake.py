"""Intake validation: a valid report becomes an Intake; every bad input names its field."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from complaints.intake import IntakeError, validate_intake

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def report(**extra):
    body = {
        "channel": "phone",
        "category": "illness",
        "description": "Vomiting after lunch",
        "onset_at": NOW - timedelta(hours=3),
        "symptoms": ["vomiting"],
        "order_ids": [12],
        "complainant": {"name": "Li Si", "phone": "13800138000"},
    }
    body.update(extra)
    return body


def fields_of(exc: IntakeError) -> set[str]:
    return {p["field"] for p in exc.details}


def test_a_minimal_phone_report_is_valid_with_defaults_for_the_rest():
    intake = validate_intake(report(), now=NOW)
    assert intake.category == "illness"
    assert intake.n_party == 1 and intake.n_ill == 1  # an illness has at least its reporter ill
    assert intake.medical_care == "none"
    assert intake.order_ids == (12,)
    assert intake.consent.share_with_merchant is False


def test_symptoms_and_orders_are_deduplicated_in_a_stable_order():
    intake = validate_intake(
        report(symptoms=["fever", "vomiting", "fever"], order_ids=[9, 3, 9]), now=NOW
    )
    assert intake.symptoms == ("vomiting", "fever")
    assert intake.order_ids == (3, 9)


def test_onset_text_with_an_offset_is_read_as_that_instant():
    intake = validate_intake(report(onset_at="2026-03-10T15:00:00+08:00"), now=NOW)
    assert intake.onset_at == datetime(2026, 3, 10, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"onset_at": NOW + timedelta(hours=1)}, "onset_at"),
        ({"onset_at": datetime(2026, 3, 10, 9, 0)}, "onset_at"),  # naive
        ({"onset_at": "yesterday"}, "onset_at"),
        ({"onset_at": NOW - timedelta(days=400)}, "onset_at"),
        ({"onset_at": None}, "onset_at"),  # an illness needs its onset
        ({"symptoms": ["vomiting", "sneezing"]}, "symptoms"),
        ({"n_party": -1}, "n_party"),
        ({"n_ill": -2}, "n_ill"),
        ({"n_exposed": -1}, "n_exposed"),
        ({"n_party": 2, "n_ill": 3}, "n_ill"),
        ({"n_party": 2, "n_exposed": 3}, "n_exposed"),
        ({"n_ill": 0}, "n_ill"),  # an illness with nobody ill
        ({"n_party": 0}, "n_party"),
        ({"n_ill": "two"}, "n_ill"),
        ({"n_ill": True}, "n_ill"),
        ({"category": "noise"}, "category"),
        ({"category": None}, "category"),
        ({"channel": "fax"}, "channel"),
        ({"description": "   "}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"medical_care": "witch doctor"}, "medical_care"),
        ({"order_ids": [0]}, "order_ids.0"),
        ({"order_ids": ["A12"]}, "order_ids.0"),
        ({"order_ids": list(range(1, 30))}, "order_ids"),
        ({"remedy_sought": ["revenge"]}, "remedy_sought"),
        ({"consent": {"share_with_merchant": "yes"}}, "consent.share_with_merchant"),
        ({"consent": {"sell_my_data": True}}, "consent.sell_my_data"),
        ({"complainant": {"phone": "1380013"}}, "complainant.name"),
        ({"complainant": {"name": "Li Si"}}, "complainant.phone"),
        ({"complainant": {"name": "Li", "phone": "call me"}}, "complainant.phone"),
        ({"complainant": {"name": "Li", "email": "not-an-email"}}, "complainant.email"),
        (
            {"channel": "app", "complainant": {"name": "Li", "phone": "13800138000"}},
            "complainant.user_id",
        ),
        ({"ill_persons": [{"age_band": "15-24"}, {"sex": "male"}]}, "ill_persons"),
        ({"ill_persons": [{"age_band": "teen"}]}, "ill_persons.0.age_band"),
        ({"ill_persons": [{"sex": "x"}]}, "ill_persons.0.sex"),
        ({"stool_sample": "yes"}, "stool_sample"),
        ({"merchant_id": 0}, "merchant_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_refused_naming_the_field(changes, field):
    with pytest.raises(IntakeError) as caught:
        validate_intake(report(**changes), now=NOW)
    assert field in fields_of(caught.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(IntakeError) as caught:
        validate_intake(report(n_ill=-1, symptoms=["sneezing"], category="noise"), now=NOW)
    assert {"n_ill", "symptoms", "category"} <= fields_of(caught.value)
    assert caught.value.field == caught.value.details[0]["field"]


def test_a_few_minutes_of_phone_clock_skew_is_not_the_future():
    ahead = NOW + timedelta(minutes=3)
    assert validate_intake(report(onset_at=ahead), now=NOW).onset_at == ahead


def test_onset_in_another_zone_is_compared_as_an_instant():
    # 20:30 in Shanghai is 12:30 UTC: half an hour after "now", beyond the skew allowance.
    shanghai = datetime(2026, 3, 10, 20, 30, tzinfo=timezone(timedelta(hours=8)))
    with pytest.raises(IntakeError):
        validate_intake(report(onset_at=shanghai), now=NOW)


def test_a_foreign_object_needs_no_onset_and_nobody_ill():
    intake = validate_intake(report(category="foreign_object", onset_at=None, symptoms=[]), now=NOW)
    assert intake.n_ill == 0 and intake.onset_at is None


def test_a_student_report_needs_only_the_account():
    intake = validate_intake(report(channel="app", complainant={"user_id": 7}), now=NOW)
    assert intake.complainant.user_id == 7 and intake.complainant.name is None
