"""Account use cases: create users, sign in with throttling, issue and check API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, update
from sqlmodel import Session, col, select

import ledger
from accounts.models import ApiToken, LoginAttempt, Role, User, utcnow
from accounts.passwords import MIN_PASSWORD_LENGTH, check_password, hash_password

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,185}\.[^@\s]{2,}$")


class AccountError(ValueError):
    """A request about accounts that cannot be carried out; the message says why."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UserNotFound(LookupError):
    """No user with that id or email."""


class LoginThrottled(Exception):
    """Too many failed sign-ins; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class NewUser:
    """A created user and its API token (shown once, stored only hashed)."""

    user: User
    api_token: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


def token_digest(token: str) -> str:
    """How a token is stored: SHA-256 hex (tokens are random, so no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CreatedAccount:
    """A user made by `create_users`: its id, normalised email and API token (shown once)."""

    user_id: int
    email: str
    api_token: str


@dataclass(frozen=True, slots=True)
class UserSpec:
    """One account to create (see `create_user` for the rules)."""

    email: str
    role: str
    password: str | None = None
    merchant_id: int | None = None
    display_name: str = ""
    locale: str | None = None


def create_user(
    *,
    session: Session,
    email: str,
    role: str,
    password: str | None = None,
    merchant_id: int | None = None,
    display_name: str = "",
    locale: str | None = None,
    actor: str = "system",
    commit: bool = True,
) -> NewUser:
    """Create a user with an API token; merchants must name their merchant.

    `commit=False` leaves the transaction open so a caller's own rows (a sensor device, say)
    commit together with the account.
    """
    user = User(**_checked_user(UserSpec(email, role, password, merchant_id, display_name, locale)))
    if _existing_emails(session, [user.email]):
        raise AccountError(f"a user with email {user.email} already exists", field="email")
    session.add(user)
    session.flush()
    assert user.id is not None
    entry = ledger.append(session, _created(user.id, user.model_dump(), actor))
    user.ledger_index = entry.index
    token = _new_token(session, user, name="default")
    if commit:
        session.commit()
    return NewUser(user=user, api_token=token)


def create_users(
    *,
    session: Session,
    specs: list[UserSpec],
    actor: str = "system",
    commit: bool = True,
) -> list[CreatedAccount]:
    """Create many users at once, all or none: the same `users` and `api_tokens` rows and
    `account.created` entries as one `create_user` each, written as three bulk statements and
    one ledger write (building ORM objects cost more than the writes: the campus generator
    creates 30,000 students)."""
    rows = [_checked_user(spec) | {"is_active": True} for spec in specs]
    emails = [row["email"] for row in rows]
    if len(set(emails)) != len(emails):
        raise AccountError("the same email twice in one request", field="email")
    taken = _existing_emails(session, emails)
    if taken:
        raise AccountError(f"a user with email {taken[0]} already exists", field="email")
    now = utcnow()
    for row in rows:
        row["created_at"] = now
    table = User.__table__  # type: ignore[attr-defined]
    ids = (
        session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
        .scalars()
        .all()
    )
    entries = ledger.append_many(
        session, [_created(i, row, actor) for i, row in zip(ids, rows, strict=True)]
    )
    session.execute(
        update(table).where(table.c.id == bindparam("uid")).values(ledger_index=bindparam("idx")),
        [{"uid": i, "idx": e.index} for i, e in zip(ids, entries, strict=True)],
    )
    tokens = ["ft_" + secrets.token_urlsafe(32) for _ in ids]
    session.execute(
        insert(ApiToken.__table__),  # type: ignore[attr-defined]
        [
            {"user_id": i, "token_hash": token_digest(t), "name": "default", "created_at": now}
            for i, t in zip(ids, tokens, strict=True)
        ],
    )
    if commit:
        session.commit()
    return [
        CreatedAccount(int(i), r["email"], t) for i, r, t in zip(ids, rows, tokens, strict=True)
    ]


def _created(user_id: int, row: dict[str, Any], actor: str) -> ledger.Event:
    """The `account.created` entry of a new user (`row`: its `users` values)."""
    return ledger.Event(
        type="account.created",
        actor=actor,
        subject={"user": user_id},
        payload={k: row[k] for k in ("email", "role", "merchant_id", "is_active")},
        personal=frozenset({"email"}),
    )


def _checked_user(spec: UserSpec) -> dict[str, Any]:
    """The `users` row values of a valid spec, or AccountError naming the field."""
    email = normalise_email(spec.email)
    if not EMAIL_RE.match(email):
        raise AccountError(f"not a valid email address: {email!r}", field="email")
    try:
        role_value = Role(spec.role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise AccountError(
            f"unknown role {spec.role!r}; use one of {allowed}", field="role"
        ) from None
    if role_value is Role.MERCHANT and spec.merchant_id is None:
        raise AccountError("a merchant user must be bound to a merchant", field="merchant_id")
    if role_value is not Role.MERCHANT and spec.merchant_id is not None:
        raise AccountError("only merchant users are bound to a merchant", field="merchant_id")
    if spec.password is not None and len(spec.password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    return {
        "email": email,
        "role": role_value.value,
        "merchant_id": spec.merchant_id,
        "password_hash": hash_password(spec.password) if spec.password else None,
        "display_name": spec.display_name.strip()[:120],
        "locale": spec.locale,
    }


def _existing_emails(session: Session, emails: list[str]) -> list[str]:
    taken: list[str] = []
    for start in range(0, len(emails), 5_000):
        part = emails[start : start + 5_000]
        taken += session.exec(select(User.email).where(col(User.email).in_(part))).all()
    return sorted(taken)


def _new_token(session: Session, user: User, *, name: str) -> str:
    token = "ft_" + secrets.token_urlsafe(32)
    assert user.id is not None
    session.add(ApiToken(user_id=user.id, token_hash=token_digest(token), name=name))
    return token


def issue_token(*, session: Session, user_id: int, name: str = "api") -> str:
    """A new API token for a user; returned once, stored hashed."""
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFound(f"no user {user_id}")
    token = _new_token(session, user, name=name)
    session.commit()
    return token


def user_for_token(*, session: Session, token: str) -> User | None:
    """The active user owning an unrevoked token, or None."""
    row = session.exec(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)  # type: ignore[arg-type]
        .where(ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    ).first()
    return row if row is not None and row.is_active else None


def revoke_tokens(*, session: Session, user_id: int) -> int:
    """Revoke every token of a user; returns how many were live."""
    tokens = session.exec(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    ).all()
    for t in tokens:
        t.revoked_at = utcnow()
        session.add(t)
    session.commit()
    return len(tokens)


def authenticate(
    *,
    session: Session,
    email: str,
    password: str,
    remote_addr: str,
    max_attempts: int,
    window: timedelta,
    now: datetime | None = None,
) -> User | None:
    """Check a password, throttled per account and per address; records the attempt.

    Raises LoginThrottled once `max_attempts` failures fall inside `window` for the email or
    (at 4x) for the address; returns the user or None.
    """
    now = now or utcnow()
    email = normalise_email(email)[:254]
    since = now - window
    failures_email, oldest_email = _failures(session, LoginAttempt.email == email, since)
    failures_addr, oldest_addr = _failures(session, LoginAttempt.remote_addr == remote_addr, since)
    if failures_email >= max_attempts or failures_addr >= 4 * max_attempts:
        oldest = min(t for t in (oldest_email, oldest_addr) if t is not None)
        raise LoginThrottled(max(1, int((oldest + window - now).total_seconds()) + 1))
    user = session.exec(select(User).where(User.email == email)).first()
    ok = check_password(user.password_hash if user else None, password)
    ok = ok and user is not None and user.is_active
    session.add(LoginAttempt(email=email, remote_addr=remote_addr[:64], success=ok, at=now))
    if ok:
        session.exec(delete(LoginAttempt).where(LoginAttempt.email == email))  # type: ignore[call-overload]
    session.commit()
    return user if ok else None


def _failures(session: Session, where: object, since: datetime) -> tuple[int, datetime | None]:
    row = session.exec(
        select(func.count(), func.min(LoginAttempt.at)).where(
            where,  # type: ignore[arg-type]
            LoginAttempt.success.is_(False),  # type: ignore[attr-defined]
            LoginAttempt.at >= since,  # type: ignore[operator]
        )
    ).one()
    return int(row[0]), row[1]


def get_user(*, session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFound(f"no user {user_id}")
    return user


def list_users(*, session: Session, limit: int = 500) -> list[User]:
    """Users by role then email (administrators' list)."""
    return list(session.exec(select(User).order_by(User.role, User.email).limit(limit)).all())
