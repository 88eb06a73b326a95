"""Password hashing with argon2id (argon2-cffi's recommended parameters)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# A fixed hash to check against when the account does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("foodtrace-no-such-account")

MIN_PASSWORD_LENGTH = 10


def use_cheap_parameters_for_tests() -> None:
    """Tests create many users; argon2's real cost would dominate their run time."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    _DUMMY_HASH = _hasher.hash("foodtrace-no-such-account")


def hash_password(password: str) -> str:
    """The argon2id hash of a password."""
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; always spends the same work, even with no hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
