"""Chinese (zh-CN) and English: locale choice and the language switch."""

from __future__ import annotations

from flask import Blueprint, Flask, g, redirect, request, session
from flask_babel import Babel

from web.auth import public, safe_next

LOCALES = ("zh_CN", "en")
bp = Blueprint("i18n", __name__)


def N_(message: str) -> str:
    """Marks a string for extraction (`make translations`); it is translated where shown."""
    return message


def select_locale() -> str:
    """Explicit choice, then the user's preference, then the browser's, then the default."""
    chosen = session.get("lang")
    if chosen in LOCALES:
        return chosen
    user = g.get("user")
    if user is not None and user.locale in LOCALES:
        return user.locale
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best in ("zh-CN", "zh"):
        return "zh_CN"
    if best == "en":
        return "en"
    return g.get("default_locale", "zh_CN")


@bp.get("/lang/<code>")
@public
def switch(code: str):  # type: ignore[no-untyped-def]
    """Remember the chosen language and go back where the user was."""
    if code in LOCALES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")) or "/")


def init_app(app: Flask, default_locale: str) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = default_locale
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(app.root_path + "/translations")
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(bp)

    @app.before_request
    def _default_locale() -> None:
        g.default_locale = default_locale
