"""One error format for the API and localised error pages for people.

API errors are `{"error": {"code", "message", "details"}}`; domain errors raised by services are
mapped to HTTP statuses here, once, so views never catch them.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("foodtrace.web")

# Domain error base classes and their HTTP status; domains register more via register_error().
_STATUS_BY_ERROR: dict[type[BaseException], tuple[int, str]] = {}


class ApiError(Exception):
    """Raised by views to answer with a given status, code and message."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def register_error(error: type[BaseException], status: int, code: str) -> None:
    """Map a domain error class to an HTTP status and error code."""
    _STATUS_BY_ERROR[error] = (status, code)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    """A JSON error or a localised page, depending on who asked."""
    if wants_json():
        resp = jsonify({"error": {"code": code, "message": message, "details": details}})
        resp.status_code = status
        return resp
    html = render_template("error.html", status=status, code=code, message=message)
    return Response(html, status=status, mimetype="text/html")


def validation_error_response(exc: ValidationError) -> Response:
    """flask-openapi3's hook: pydantic errors as 400/422 naming each field."""
    if request.content_length and request.get_json(silent=True) is None and request.is_json:
        return error_response(400, "malformed_json", "the request body is not valid JSON")
    details = [
        {"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    fields = ", ".join(d["field"] or "body" for d in details)
    return error_response(422, "validation_error", f"invalid input: {fields}", details)


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated where it is shown."""
    return message


_PAGE_MESSAGES = {
    400: N_("The request could not be understood."),
    401: N_("Please sign in first."),
    403: N_("You do not have permission to open this page."),
    404: N_("The page you asked for does not exist."),
    405: N_("That method is not allowed here."),
    413: N_("The upload is too large."),
    429: N_("Too many requests. Please wait a moment and try again."),
    500: N_("Something went wrong on our side. The team has been told."),
    503: N_("The service is temporarily unavailable. Please try again shortly."),
}


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if exc.response is not None and exc.response.status_code >= 400:
            return exc.response  # already formatted (validation errors)
        code = (exc.name or "error").lower().replace(" ", "_")
        message = _(_PAGE_MESSAGES.get(status, exc.description or "Error"))
        if wants_json() and exc.description and status not in (404, 405, 500):
            message = exc.description
        resp = error_response(status, code, message)
        if status == 429 and getattr(exc, "retry_after", None):
            resp.headers["Retry-After"] = str(exc.retry_after)  # type: ignore[attr-defined]
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        for cls in type(exc).__mro__:
            if cls in _STATUS_BY_ERROR:
                status, code = _STATUS_BY_ERROR[cls]
                details = getattr(exc, "details", None)
                field = getattr(exc, "field", None)
                if details is None and field:
                    details = [{"field": field, "reason": str(exc)}]
                resp = error_response(status, code, str(exc), details)
                retry_after = getattr(exc, "retry_after", None)
                if retry_after:
                    resp.headers["Retry-After"] = str(retry_after)
                return resp
        if _is_database_down(exc):
            resp = error_response(503, "database_unavailable", _(_PAGE_MESSAGES[503]))
            resp.headers["Retry-After"] = "5"
            return resp
        if _is_value_out_of_range(exc):
            return error_response(
                422, "value_out_of_range", "a number or value in the request is out of range"
            )
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", _(_PAGE_MESSAGES[500]))


def _is_value_out_of_range(exc: Exception) -> bool:
    """A client's value the database cannot hold: an integer beyond 64 bits (SQLite raises
    OverflowError while binding it, PostgreSQL a DataError such as numeric_value_out_of_range)."""
    from sqlalchemy.exc import DataError

    return isinstance(exc, OverflowError | DataError)


def _is_database_down(exc: Exception) -> bool:
    from sqlalchemy.exc import DBAPIError

    return (isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)) or (
        isinstance(exc, DBAPIError) and "connect" in str(exc.orig).lower()
    )
