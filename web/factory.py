"""Builds the Flask (flask-openapi3) application; called by app.create_app()."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from flask import g, request
from flask_openapi3 import OpenAPI
from sqlalchemy.engine import Engine
from werkzeug.routing import IntegerConverter, Map

import app as composition
from accounts.models import ROLE_LABELS
from web import auth, csrf, db, errors, i18n, ops, security
from web.api import API_PREFIX, INFO, SECURITY_SCHEMES


class Int64Converter(IntegerConverter):
    """Flask's int converter bounded to what a BIGINT column holds."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


@dataclass
class Foodtrace:
    """What the app keeps in `app.extensions["foodtrace"]`."""

    settings: composition.Settings
    engine: Engine
    metrics: ops.Metrics
    extras: dict[str, Any]


def build_app(settings: composition.Settings) -> OpenAPI:
    flask_app = OpenAPI(
        "foodtrace",
        root_path=str(composition.ROOT),
        template_folder="web/templates",
        static_folder="web/static",
        info=INFO,
        security_schemes=SECURITY_SCHEMES,
        doc_prefix=API_PREFIX,
        doc_url="/openapi.json",
        validation_error_status=422,
        validation_error_callback=errors.validation_error_response,
    )
    # `<int:...>` in URLs stops at the largest 64-bit id: a longer number is no such resource
    # (404), never a value the database cannot bind
    flask_app.url_map.converters["int"] = Int64Converter
    flask_app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        TESTING=settings.testing,
        JSON_SORT_KEYS=False,
    )
    flask_app.config.update(settings.extra)  # domains' own tunables from the environment
    flask_app.extensions["foodtrace"] = Foodtrace(
        settings=settings,
        engine=composition.make_engine(settings.database_url),
        metrics=ops.Metrics(settings.prometheus_multiproc_dir),
        extras={},
    )
    _bind_ledger(flask_app, settings)
    errors.init_app(flask_app)
    db.init_app(flask_app)
    ops.init_app(flask_app)
    auth.init_app(flask_app)
    csrf.init_app(flask_app)
    i18n.init_app(flask_app, settings.default_locale)
    security.init_app(flask_app, secure_cookies=settings.session_cookie_secure)
    _register_domains(flask_app)

    @flask_app.before_request
    def _reject_malformed_json() -> None:
        body = request.method in ("POST", "PUT", "PATCH") and request.content_length
        if body and request.is_json and request.get_json(silent=True) is None:
            raise errors.ApiError(400, "malformed_json", "the request body is not valid JSON")

    @flask_app.context_processor
    def _template_globals() -> dict[str, Any]:
        from flask_babel import get_locale

        return {
            "current_user": g.get("user"),
            "locale": "zh_CN" if get_locale().language == "zh" else "en",
            "role_labels": ROLE_LABELS,
        }

    return flask_app


def _bind_ledger(flask_app: OpenAPI, settings: composition.Settings) -> None:
    """The deployment's signing key and every domain's projections, for proofs and verify."""
    from evidence.service import LedgerKey

    assert settings.ledger_key_path is not None
    extras = flask_app.extensions["foodtrace"].extras
    extras["ledger_key"] = LedgerKey(settings.ledger_key_path, settings.ledger_origin)
    extras["projections"] = [
        projection
        for name in composition.domain_modules("models")
        for projection in getattr(importlib.import_module(name), "PROJECTIONS", ())
    ]


def _register_domains(flask_app: OpenAPI) -> None:
    """Each domain contributes its blueprints, CLI commands, error mappings and home links.

    A views module may declare `HOME_LINKS = {role: [(label, url), ...]}`; the home page lists
    them per role, in DOMAINS order.
    """
    from web import cli as web_cli

    home_links: dict[str, list[tuple[str, str]]] = {}
    for name in composition.domain_modules("views"):
        module = importlib.import_module(name)
        module.init_app(flask_app)
        for role, links in getattr(module, "HOME_LINKS", {}).items():
            home_links.setdefault(role, []).extend(links)
    for name in composition.domain_modules("cli"):
        importlib.import_module(name).init_app(flask_app)
    web_cli.init_app(flask_app)
    flask_app.extensions["foodtrace"].extras["home_links"] = home_links
