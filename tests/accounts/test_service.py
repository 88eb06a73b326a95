from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from accounts import service
from accounts.models import ApiToken, User


def make(session, email="a@uni.edu", role="desk", **kw):
    return service.create_user(
        session=session,
        email=email,
        role=role,
        password=kw.pop("password", "correct horse battery"),
        **kw,
    )


def test_created_user_gets_argon2_hash_and_a_token_stored_only_hashed(session):
    created = make(session)
    user = session.get(User, created.user.id)
    assert user.password_hash.startswith("$argon2id$")
    stored = session.exec(select(ApiToken.token_hash)).all()
    assert created.api_token not in stored
    assert service.token_digest(created.api_token) in stored
    assert service.user_for_token(session=session, token=created.api_token).id == user.id


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"role": "chef"}, "role"),
        ({"role": "merchant"}, "merchant_id"),
        ({"role": "student", "merchant_id": 3}, "merchant_id"),
        ({"password": "short"}, "password"),
    ],
)
def test_bad_accounts_are_refused_naming_the_field(session, kwargs, field):
    with pytest.raises(service.AccountError) as err:
        make(session, **kwargs)
    assert err.value.field == field
    assert session.exec(select(User)).all() == []


def test_duplicate_email_is_refused_case_insensitively(session):
    make(session, email="Desk@Uni.edu")
    with pytest.raises(service.AccountError, match="already exists"):
        make(session, email="desk@uni.EDU ")


def test_revoked_token_no_longer_authenticates(session):
    created = make(session)
    assert service.revoke_tokens(session=session, user_id=created.user.id) == 1
    assert service.user_for_token(session=session, token=created.api_token) is None


def login(session, password, now, addr="10.0.0.1"):
    return service.authenticate(
        session=session,
        email="a@uni.edu",
        password=password,
        remote_addr=addr,
        max_attempts=3,
        window=timedelta(minutes=15),
        now=now,
    )


def test_sign_in_is_throttled_after_repeated_failures_then_released(session):
    make(session)
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    for i in range(3):
        assert login(session, "wrong password!", t0 + timedelta(seconds=i)) is None
    with pytest.raises(service.LoginThrottled) as err:
        login(session, "correct horse battery", t0 + timedelta(seconds=10))
    assert 0 < err.value.retry_after <= 15 * 60
    later = t0 + timedelta(minutes=16)
    assert login(session, "correct horse battery", later).email == "a@uni.edu"


def test_unknown_account_and_wrong_password_look_the_same(session):
    make(session)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    assert login(session, "whatever-password", now) is None
    assert (
        service.authenticate(
            session=session,
            email="nobody@uni.edu",
            password="x" * 12,
            remote_addr="10.0.0.2",
            max_attempts=3,
            window=timedelta(minutes=15),
            now=now,
        )
        is None
    )


def test_bulk_creation_writes_the_same_rows_and_entries_as_one_at_a_time(session):
    import ledger
    from accounts.models import USERS_PROJECTION

    one = service.create_user(session=session, email="One@uni.edu", role="student")
    many = service.create_users(
        session=session,
        specs=[
            service.UserSpec(email=" Two@uni.edu ", role="student", display_name=" Two "),
            service.UserSpec(email="m@uni.edu", role="merchant", merchant_id=7, locale="en"),
        ],
    )
    assert [m.email for m in many] == ["two@uni.edu", "m@uni.edu"]
    rows = {u.id: u for u in session.exec(select(User)).all()}
    two, merchant = rows[many[0].user_id], rows[many[1].user_id]
    assert (two.display_name, two.role, two.is_active) == ("Two", "student", True)
    assert (merchant.merchant_id, merchant.locale) == (7, "en")
    first = ledger.entry_at(session, rows[one.user.id].ledger_index).envelope()
    bulk = ledger.entry_at(session, two.ledger_index).envelope()
    assert bulk["type"] == first["type"] == "account.created"
    assert set(bulk["payload"]) == set(first["payload"])
    assert bulk["subject"] == {"user": two.id}
    for made in many:
        assert service.user_for_token(session=session, token=made.api_token).id == made.user_id
    report = ledger.verify(session, projections=[USERS_PROJECTION])
    assert report.ok, report.problem


def test_bulk_creation_is_all_or_none_and_names_the_bad_field(session):
    service.create_user(session=session, email="taken@uni.edu", role="desk")
    before = ledger_size(session)
    for specs, field in (
        ([service.UserSpec("new@uni.edu", "student"), service.UserSpec("bad", "student")], "email"),
        (
            [service.UserSpec("new@uni.edu", "student"), service.UserSpec("taken@uni.edu", "desk")],
            "email",
        ),
        (
            [service.UserSpec("x@uni.edu", "student"), service.UserSpec("X@uni.edu", "student")],
            "email",
        ),
        ([service.UserSpec("y@uni.edu", "chef")], "role"),
    ):
        with pytest.raises(service.AccountError) as caught:
            service.create_users(session=session, specs=specs)
        assert caught.value.field == field
        session.rollback()
    assert len(session.exec(select(User)).all()) == 1
    assert ledger_size(session) == before


def ledger_size(session):
    import ledger

    return ledger.tree_size(session)
