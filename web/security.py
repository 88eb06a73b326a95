"""Security headers on every response and cookie settings."""

from __future__ import annotations

from flask import Flask, Response, request

# The API docs (Swagger UI) need inline scripts; every other page runs none.
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:"
)
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def init_app(app: Flask, *, secure_cookies: bool) -> None:
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies,
        SESSION_COOKIE_NAME="foodtrace_session",
        PERMANENT_SESSION_LIFETIME=12 * 3600,
    )

    @app.after_request
    def _headers(response: Response) -> Response:
        docs = (
            request.path.startswith("/api/v1/")
            and not request.path.startswith("/api/v1/openapi.json")
            and response.mimetype == "text/html"
        )
        response.headers.setdefault("Content-Security-Policy", _DOCS_CSP if docs else _CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if secure_cookies:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
