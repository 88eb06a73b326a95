"""Admission at the edge: a WSGI middleware that refuses the excess of an order storm before
the web framework runs.

Refusing must cost far less than serving, or a storm of refusals starves the orders that are
admitted. Inside Flask a 429 still pays for the request context, routing, every before/after
hook and the session; here it is the few Redis (or memory) operations of the gates and a
constant body. The gates are the process's own `orders.admission.Admission`; requests let
through are marked in the environ so the in-app gate (orders.views.admit) does not count them
twice. Only `POST /api/v1/orders` with a bearer token is gated here (the caller is the
token, the merchant is in the JSON body); the checkout page and API calls signed in with the
session cookie keep the in-app gate (which knows the session's user) and its friendly page.

orders.views.init_app installs it:

    app.wsgi_app = AdmissionGate(app.wsgi_app, lambda: edge_admission(app))

where the callable returns the process's gates, or None when ORDERS_EDGE_GATE is off.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from orders.admission import Admission, Overloaded

ADMITTED = "foodtrace.orders.admitted"
GATED_PATHS = frozenset({"/api/v1/orders"})
MAX_BODY = 64 * 1024  # an order is a few hundred bytes; larger or chunked bodies: in-app gate

# what web.security adds to every Flask response (a refusal here never reaches Flask)
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class AdmissionGate:
    """WSGI middleware applying the ordering admission gates to order placements."""

    def __init__(self, app: WsgiApp, admission: Callable[[], Admission | None]) -> None:
        self.app = app
        self.admission = admission  # None: the edge gate is off, the in-app gate counts

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or environ.get("PATH_INFO") not in GATED_PATHS
            or environ.get(ADMITTED)  # an outer gate counted it already
            or not bearer_token(environ)  # a session: the in-app gate knows the user
            or not _sized(environ)  # chunked or huge: the app reads it (and gates it) itself
        ):
            return self.app(environ, start_response)
        gates = self.admission()
        if gates is None:
            return self.app(environ, start_response)
        try:
            # the body is read only when this process has a slot: a saturated process refuses
            # without touching it
            slot = gates.admit(user=caller_key(environ), merchant_id=lambda: merchant_of(environ))
        except Overloaded as exc:
            return refuse(exc, start_response)
        environ[ADMITTED] = True
        try:  # Flask has run the view when it returns (the order API does not stream)
            return self.app(environ, start_response)
        finally:  # given back at once: a server that never closes the body leaks nothing
            gates.leave(slot)


def _sized(environ: dict[str, Any]) -> bool:
    """A body with a Content-Length this gate may read (so it can see the merchant)."""
    try:
        return 0 < int(environ.get("CONTENT_LENGTH") or 0) <= MAX_BODY
    except ValueError:
        return False


def bearer_token(environ: dict[str, Any]) -> str:
    """The request's bearer token, or "" (no Authorization header or another scheme)."""
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    return header[7:].strip() if header[:7].lower() == "bearer " else ""


def caller_key(environ: dict[str, Any]) -> str:
    """Who is ordering, without the database: a digest of the bearer token (as the in-app
    gate names bearer callers, so both gates share the counts)."""
    return "t:" + hashlib.sha256(bearer_token(environ).encode()).hexdigest()[:32]


def merchant_of(environ: dict[str, Any]) -> int | None:
    """The merchant_id of a JSON body (the body is put back for the app), or None."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= MAX_BODY:
        return None
    data = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(data)
    try:
        value = json.loads(data).get("merchant_id")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def refuse(exc: Overloaded, start_response: StartResponse) -> list[bytes]:
    """429 with Retry-After and the API's error body."""
    body = json.dumps(
        {"error": {"code": "too_many_orders", "message": str(exc), "details": {"scope": exc.scope}}}
    ).encode()
    start_response(
        "429 Too Many Requests",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Retry-After", str(exc.retry_after)),
            ("Cache-Control", "no-store"),
            *SECURITY_HEADERS,
        ],
    )
    return [body]
