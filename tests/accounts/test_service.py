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
