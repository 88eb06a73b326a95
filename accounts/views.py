"""Sign-in, sign-out and the role-aware home page; `GET /api/v1/me`."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import BaseModel, Field

from accounts import service
from accounts.models import Role
from web.api import ApiModel, api_blueprint
from web.auth import current_user, login_user, logout_user, public, roles_required, safe_next
from web.db import get_session
from web.errors import register_error
from web.i18n import N_

bp = Blueprint("accounts", __name__)
api = api_blueprint("accounts_api", __name__, tag="accounts", description="Who am I")

# What each role finds on its home page: (label, endpoint) pairs filled in as modules land.
HOME_LINKS: dict[str, list[tuple[str, str]]] = {
    "admin": [(N_("Users"), "/admin/users"), (N_("Evidence ledger"), "/admin/ledger")],
}


class UserCreate(ApiModel):
    """An account an administrator creates through the API."""

    email: str = Field(max_length=254)
    role: Role
    merchant_id: int | None = Field(default=None, ge=1)
    display_name: str = Field(default="", max_length=120)
    password: str | None = Field(default=None, min_length=10, max_length=200)


class UserCreated(BaseModel):
    id: int
    email: str
    role: str
    merchant_id: int | None
    api_token: str


class MePublic(BaseModel):
    id: int
    email: str
    display_name: str
    role: str
    merchant_id: int | None


@bp.get("/")
@roles_required()
def home():  # type: ignore[no-untyped-def]
    user = current_user()
    assert user is not None
    home_links = current_app.extensions["foodtrace"].extras["home_links"]
    links = list(home_links.get(user.role, []))
    return render_template("home.html", user=user, links=links)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return render_template("login.html", email="", next=request.args.get("next", ""))
    settings = current_app.extensions["foodtrace"].settings
    email = request.form.get("email", "")
    try:
        user = service.authenticate(
            session=get_session(),
            email=email,
            password=request.form.get("password", ""),
            remote_addr=request.remote_addr or "",
            max_attempts=settings.login_max_attempts,
            window=timedelta(seconds=settings.login_window_seconds),
        )
    except service.LoginThrottled as exc:
        message = _(
            "Too many failed sign-ins. Try again in %(seconds)s seconds.", seconds=exc.retry_after
        )
        html = render_template("login.html", email=email, error=message, next="")
        return html, 429, {"Retry-After": str(exc.retry_after)}
    if user is None:
        html = render_template(
            "login.html",
            email=email,
            error=_("Wrong email or password."),
            next=request.form.get("next", ""),
        )
        return html, 401
    login_user(user)
    return redirect(safe_next(request.form.get("next")) or url_for("accounts.home"))


@bp.post("/logout")
@public
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    flash(_("You have signed out."))
    return redirect(url_for("accounts.login"))


@api.get("/me", responses={200: MePublic}, summary="The signed-in user")
@roles_required()
def me():  # type: ignore[no-untyped-def]
    user = current_user()
    assert user is not None and user.id is not None
    return MePublic(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        merchant_id=user.merchant_id,
    ).model_dump()


@bp.get("/admin/users")
@roles_required(Role.ADMIN)
def admin_users():  # type: ignore[no-untyped-def]
    users = service.list_users(session=get_session())
    return render_template("admin_users.html", users=users)


@api.post("/users", responses={201: UserCreated}, summary="Create a user (administrators)")
@roles_required(Role.ADMIN)
def create_user(body: UserCreate):  # type: ignore[no-untyped-def]
    created = service.create_user(
        session=get_session(),
        email=body.email,
        role=body.role.value,
        password=body.password,
        merchant_id=body.merchant_id,
        display_name=body.display_name,
    )
    user = created.user
    assert user.id is not None
    out = UserCreated(
        id=user.id,
        email=user.email,
        role=user.role,
        merchant_id=user.merchant_id,
        api_token=created.api_token,
    )
    return out.model_dump(), 201


def init_app(app: Flask) -> None:
    register_error(service.AccountError, 422, "invalid_account")
    register_error(service.UserNotFound, 404, "not_found")
    app.register_blueprint(bp)
    app.register_api(api)  # type: ignore[attr-defined]
