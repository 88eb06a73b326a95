"""Users, their API tokens and login attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

import ledger
from columns import utc_column, utcnow

__all__ = ["ROLE_LABELS", "ApiToken", "LoginAttempt", "Role", "User", "utc_column", "utcnow"]


class Role(StrEnum):
    """What a user may do; see the README's role table."""

    ADMIN = "admin"
    DESK = "desk"
    MERCHANT = "merchant"
    COURIER = "courier"
    STUDENT = "student"
    DEVICE = "device"


def N_(message: str) -> str:
    """Marks a string for translation extraction."""
    return message


ROLE_LABELS = {
    "admin": N_("Administrator"),
    "desk": N_("Complaint desk"),
    "merchant": N_("Merchant"),
    "courier": N_("Courier"),
    "student": N_("Student"),
    "device": N_("Device"),
}


class User(SQLModel, table=True):
    """A person (or a sensor device) who signs in or calls the API."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    display_name: str = Field(default="", max_length=120)
    role: str = Field(max_length=16, index=True)
    merchant_id: int | None = Field(default=None, index=True)
    password_hash: str | None = Field(default=None, max_length=200)
    locale: str | None = Field(default=None, max_length=10)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    ledger_index: int | None = Field(default=None)


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    name: str = Field(default="", max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class LoginAttempt(SQLModel, table=True):
    """One password check, kept to throttle guessing by account and by address."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True)
    remote_addr: str = Field(default="", max_length=64, index=True)
    success: bool = Field(default=False)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


# How `ledger verify` re-derives the users table: the email is recorded as a salted digest.
USERS_PROJECTION = ledger.TableProjection(
    table="users",
    writes={"account.created", "account.changed"},
    key="subject.user",
    columns=["email", "role", "merchant_id", "is_active"],
)
PROJECTIONS = (USERS_PROJECTION,)
