"""CSRF protection for every state-changing request authenticated by the session cookie.

Bearer-token API calls carry no ambient credentials and are exempt; forms send `csrf_token`,
scripts send the `X-CSRF-Token` header.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, g, request, session

from web.errors import ApiError

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def csrf_token() -> str:
    """The session's CSRF token (created on first use); templates call this."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _check() -> None:
    if request.method not in UNSAFE_METHODS or g.get("auth_via") == "token":
        return
    if request.path.startswith("/api/") and g.get("user") is None:
        return  # no cookie identity to abuse; the endpoint itself will answer 401
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise ApiError(400, "csrf_failed", "the form has expired or is not from this site; reload")


def init_app(app: Flask) -> None:
    app.before_request(_check)
    app.jinja_env.globals["csrf_token"] = csrf_token
