"""Who is calling: session cookie for pages, bearer token for the API; role checks as decorators."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, request, session, url_for

from accounts import service as accounts
from accounts.models import Role, User
from web.db import get_session
from web.errors import ApiError, wants_json

F = TypeVar("F", bound=Callable[..., Any])


def current_user() -> User | None:
    return g.get("user")


def login_user(user: User) -> None:
    """Start a fresh session (no fixation) for a signed-in user."""
    lang = session.get("lang")
    session.clear()
    session["uid"] = user.id
    if lang:
        session["lang"] = lang
    session.permanent = True


def logout_user() -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _load_user() -> None:
    g.user = None
    g.auth_via = None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        user = accounts.user_for_token(session=get_session(), token=header[7:].strip())
        if user is None:
            raise ApiError(401, "invalid_token", "the bearer token is unknown or revoked")
        g.user, g.auth_via = user, "token"
        return
    uid = session.get("uid")
    if isinstance(uid, int):
        user = get_session().get(User, uid)
        if user is not None and user.is_active:
            g.user, g.auth_via = user, "session"
        else:
            session.pop("uid", None)


def roles_required(*roles: Role | str) -> Callable[[F], F]:
    """Allow only signed-in users with one of `roles` (no roles given: any signed-in user).

    The check runs before the view's input validation (see `_enforce_roles`), so a caller
    without the role learns nothing from validation errors.
    """
    allowed = frozenset(Role(r).value for r in roles)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            denied = _denial(allowed)
            return denied if denied is not None else view(*args, **kwargs)

        wrapped.__dict__["allowed_roles"] = allowed
        return wrapped  # type: ignore[return-value]

    return decorator


def public(view: F) -> F:
    """Mark a view as open to anyone (the access-matrix test requires every view to say)."""
    view.__dict__["public"] = True
    return view


def access_rule(view: Callable[..., Any] | None) -> frozenset[str] | str | None:
    """A view's rule: its allowed roles, "public", or None when it declares nothing."""
    while view is not None:
        attrs = getattr(view, "__dict__", {})
        if "allowed_roles" in attrs:
            return attrs["allowed_roles"]
        if attrs.get("public"):
            return "public"
        view = getattr(view, "__wrapped__", None)
    return None


def _denial(allowed: frozenset[str]) -> Any:
    user = current_user()
    if user is None:
        if wants_json():
            raise ApiError(401, "unauthenticated", "sign in or send a bearer token")
        return redirect(url_for("accounts.login", next=safe_next(request.full_path)))
    if allowed and user.role not in allowed:
        if wants_json():
            raise ApiError(403, "forbidden", f"the {user.role} role may not do this")
        abort(403)
    return None


def _enforce_roles() -> Any:
    from flask import current_app

    if request.endpoint is None:
        return None
    rule = access_rule(current_app.view_functions.get(request.endpoint))
    if isinstance(rule, frozenset):
        return _denial(rule)
    return None


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths may be redirect targets (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target.rstrip("?") or "/"


def init_app(app: Flask) -> None:
    app.before_request(_load_user)
    app.before_request(_enforce_roles)
