"""Opening, updating and listing cases: numbering, idempotency, ledger entries, triage."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

import ledger
from accounts import service as accounts
from complaints import service
from complaints.intake import IntakeError
from complaints.models import Case, CaseEvent, CaseOrder, IdempotencyKey, Message

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def users(session):
    desk = accounts.create_user(session=session, email="desk@uni.edu", role="desk").user
    student = accounts.create_user(session=session, email="s@uni.edu", role="student").user
    return {"desk": desk, "student": student}


def phone_case(**extra):
    body = {
        "channel": "phone",
        "category": "illness",
        "description": "Cramps after the noodles",
        "onset_at": NOW - timedelta(hours=4),
        "symptoms": ["cramps", "diarrhoea"],
        "order_ids": [52, 51],
        "complainant": {"name": "Zhao Liu", "phone": "13900139000", "email": "zl@mail.cn"},
    }
    body.update(extra)
    return body


def open_(session, now=NOW, actor="user:1", **extra):
    return service.open_case(session=session, data=phone_case(**extra), actor=actor, now=now)


def test_case_numbers_run_gap_free_per_local_year(session, users):
    numbers = [open_(session).case.number for _ in range(3)]
    assert numbers == ["FT-2026-000001", "FT-2026-000002", "FT-2026-000003"]
    # 16:30 UTC on 31 December is already 1 January in Shanghai: a new year, a new series.
    new_year = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)
    assert open_(session, now=new_year).case.number == "FT-2027-000001"
    assert open_(session).case.number == "FT-2026-000004"


def test_a_rolled_back_opening_gives_its_number_back(session, users):
    assert service.next_case_number(session, 2026) == "FT-2026-000001"
    session.rollback()
    with pytest.raises(IntakeError):
        open_(session, n_ill=-1)
    assert open_(session).case.number == "FT-2026-000001"


def test_opening_writes_the_case_its_orders_timeline_and_acknowledgement(session, users):
    case = open_(session).case
    assert case.status == "new" and case.severity == "high" and case.opened_at == NOW
    orders = session.exec(select(CaseOrder.order_id).where(CaseOrder.case_id == case.id)).all()
    assert sorted(orders) == [51, 52]
    event = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)).one()
    assert (event.kind, event.to_status, event.ledger_index) == ("opened", "new", case.ledger_index)
    messages = session.exec(select(Message).where(Message.case_id == case.id)).all()
    # No phone-contact consent: the acknowledgement goes by email only.
    assert [(m.channel, m.kind, m.recipient_email) for m in messages] == [
        ("email", "acknowledgement", "zl@mail.cn")
    ]


def test_a_phone_only_complainant_who_consented_is_acknowledged_by_sms(session, users):
    case = open_(
        session,
        complainant={"name": "Qian Qi", "phone": "13700137000"},
        consent={"contact_by_phone": True},
    ).case
    messages = session.exec(select(Message).where(Message.case_id == case.id)).all()
    assert [(m.channel, m.recipient_phone) for m in messages] == [("sms", "13700137000")]


def test_a_student_is_acknowledged_in_the_app_and_by_email(session, users):
    student = users["student"]
    case = open_(session, channel="app", complainant={"user_id": student.id}).case
    messages = session.exec(select(Message).where(Message.case_id == case.id)).all()
    assert {(m.channel, m.recipient_user_id, m.recipient_email) for m in messages} == {
        ("in_app", student.id, None),
        ("email", student.id, "s@uni.edu"),
    }


def test_a_complainant_account_must_be_an_active_student(session, users):
    with pytest.raises(IntakeError) as caught:
        open_(session, complainant={"user_id": users["desk"].id})
    assert caught.value.field == "complainant.user_id"


def test_personal_and_health_data_enter_the_ledger_only_as_digests(session, users):
    case = open_(session).case
    entry = ledger.entry_at(session, case.ledger_index)
    text = entry.data.decode()
    for secret in ("Zhao Liu", "13900139000", "zl@mail.cn", "Cramps after", "diarrhoea"):
        assert secret not in text
    envelope = entry.envelope()
    assert {"complainant_name", "complainant_phone", "description", "symptoms"} <= set(
        envelope["payload_digest"]
    )
    assert envelope["payload"]["category"] == "illness"
    assert envelope["payload"]["order_ids"] == [51, 52]
    assert envelope["actor"] == "user:1"


def test_the_same_idempotency_key_twice_opens_one_case(session, users):
    data = phone_case()
    first = service.open_case(
        session=session, data=data, actor="user:1", idempotency_key="k1", now=NOW
    )
    again = service.open_case(
        session=session, data=data, actor="user:1", idempotency_key="k1", now=NOW
    )
    assert first.created and not again.created
    assert again.case.id == first.case.id
    assert len(session.exec(select(Case)).all()) == 1


def test_reusing_a_key_for_another_request_is_refused(session, users):
    service.open_case(
        session=session, data=phone_case(), actor="user:1", idempotency_key="k1", now=NOW
    )
    with pytest.raises(service.IdempotencyConflict):
        service.open_case(
            session=session, data=phone_case(description="other"), actor="user:1",
            idempotency_key="k1", now=NOW,
        )  # fmt: skip


def test_keys_are_scoped_to_the_caller(session, users):
    a = service.open_case(
        session=session, data=phone_case(), actor="user:1", idempotency_key="k", now=NOW
    )
    b = service.open_case(
        session=session, data=phone_case(), actor="user:2", idempotency_key="k", now=NOW
    )
    assert a.case.id != b.case.id and b.created


@pytest.mark.postgres
def test_concurrent_retries_with_one_key_open_one_case_on_postgresql(pg_engine):
    with Session(pg_engine, expire_on_commit=False) as s:
        accounts.create_user(session=s, email="desk@uni.edu", role="desk")
    threads, results, errors = 6, [], []
    barrier = threading.Barrier(threads)
    data = phone_case()

    def retry() -> None:
        with Session(pg_engine, expire_on_commit=False) as s:
            barrier.wait()
            try:
                opened = service.open_case(
                    session=s, data=data, actor="user:1", idempotency_key="retry-1", now=NOW
                )
                results.append((opened.case.id, opened.created))
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

    workers = [threading.Thread(target=retry) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert errors == []
    assert len({case_id for case_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with Session(pg_engine) as s:
        assert len(s.exec(select(Case)).all()) == 1
        assert len(s.exec(select(IdempotencyKey)).all()) == 1
        assert s.exec(select(Case.number)).one() == "FT-2026-000001"


@pytest.mark.postgres
def test_concurrent_openings_get_distinct_gap_free_numbers_on_postgresql(pg_engine):
    threads, numbers = 5, []
    barrier = threading.Barrier(threads)

    def opener() -> None:
        with Session(pg_engine, expire_on_commit=False) as s:
            barrier.wait()
            numbers.append(open_(s).case.number)

    workers = [threading.Thread(target=opener) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert sorted(numbers) == [f"FT-2026-{n:06d}" for n in range(1, threads + 1)]


def test_an_update_re_evaluates_severity_and_is_recorded(session, users):
    case = open_(session).case
    updated = service.update_case(
        session=session, case_id=case.id, changes={"n_party": 3, "n_ill": 2}, actor="user:1",
        now=NOW + timedelta(hours=1),
    )  # fmt: skip
    assert updated.severity == "critical" and updated.severity_reasons == ["several_ill"]
    entry = ledger.entry_at(session, updated.ledger_index).envelope()
    assert entry["type"] == "complaint.updated"
    assert entry["payload"]["severity"] == "critical"
    assert entry["payload"]["n_ill"] == 2
    kinds = session.exec(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).all()
    assert list(kinds) == ["opened", "updated"]


def test_an_update_that_changes_nothing_writes_nothing(session, users):
    case = open_(session).case
    size = ledger.tree_size(session)
    service.update_case(
        session=session, case_id=case.id, changes={"n_ill": case.n_ill}, actor="user:1", now=NOW
    )
    assert ledger.tree_size(session) == size


def test_an_update_can_change_the_orders(session, users):
    case = open_(session).case
    service.update_case(
        session=session, case_id=case.id, changes={"order_ids": [7]}, actor="u", now=NOW
    )
    assert session.exec(select(CaseOrder.order_id).where(CaseOrder.case_id == case.id)).all() == [7]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"channel": "app"}, "channel"),
        ({"n_ill": 9}, "n_ill"),
        ({"complainant": {"user_id": 5}}, "complainant.user_id"),
    ],
)
def test_bad_updates_name_their_field(session, users, changes, field):
    case = open_(session).case
    with pytest.raises(IntakeError) as caught:
        service.update_case(session=session, case_id=case.id, changes=changes, actor="u", now=NOW)
    assert field in {p["field"] for p in caught.value.details}


def test_listing_filters_pages_and_counts(session, users):
    for i in range(5):
        open_(session, now=NOW + timedelta(minutes=i), category="illness" if i % 2 else "spoiled",
              merchant_id=1 if i < 3 else 2, n_ill=1 if i % 2 else 0)  # fmt: skip
    page = service.list_cases(
        session=session, filters=service.CaseFilters(merchant_id=1), page=1, per_page=2
    )
    assert page.total == 3 and len(page.cases) == 2
    assert page.cases[0].opened_at > page.cases[1].opened_at  # newest first
    spoiled = service.list_cases(session=session, filters=service.CaseFilters(category="spoiled"))
    assert spoiled.total == 3
    window = service.CaseFilters(
        opened_from=NOW + timedelta(minutes=1), opened_to=NOW + timedelta(minutes=3)
    )
    assert service.list_cases(session=session, filters=window).total == 2
    assert (
        service.list_cases(session=session, filters=service.CaseFilters(status="open")).total == 5
    )
    assert (
        service.list_cases(session=session, filters=service.CaseFilters(assignee_id=0)).total == 5
    )
