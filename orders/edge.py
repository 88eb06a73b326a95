"""Admission at the edge: a WSGI middleware that refuses the excess of an order storm before
the web framework runs.

Refusing must cost far less than serving, or a storm of refusals starves the orders that are
admitted. Inside Flask a 429 still pays for the request context, routing, every before/after
hook and the session; here it is the few Redis (or memory) operations of the gates and a
constant body. The gates are the process's own `orders.admission.Admission`; requests let
through are marked in the environ so the in-app gate (orders.views.admit) does not count them
twice. Only `POST /api/v1/orders` is gated here (its merchant is in the JSON body); the
checkout page keeps the in-app gate and its friendly page.

    flask_app.wsgi_app = AdmissionGate(flask_app.wsgi_app, lambda: runtime(flask_app).admission)
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from orders.admission import Admission, Overloaded

ADMITTED = "foodtrace.orders.admitted"
GATED_PATHS = frozenset({"/api/v1/orders"})
MAX_BODY = 64 * 1024  # an order is a few hundred bytes; larger bodies go to the app's checks

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class AdmissionGate:
    """WSGI middleware applying the ordering admission gates to order placements."""

    def __init__(self, app: WsgiApp, admission: Callable[[], Admission]) -> None:
        self.app = app
        self.admission = admission

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") not in GATED_PATHS:
            return self.app(environ, start_response)
        gates = self.admission()
        try:
            slot = gates.admit(user=caller_key(environ), merchant_id=merchant_of(environ))
        except Overloaded as exc:
            return refuse(exc, start_response)
        environ[ADMITTED] = True
        try:
            body = self.app(environ, start_response)
        except BaseException:
            gates.leave(slot)
            raise
        return _Released(body, lambda: gates.leave(slot))


def caller_key(environ: dict[str, Any]) -> str:
    """Who is ordering, without the database: a digest of the bearer token."""
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    return "t:" + hashlib.sha256(token.encode()).hexdigest()[:32]


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
            ("X-Content-Type-Options", "nosniff"),
        ],
    )
    return [body]


class _Released:
    """The app's response body; the slot is given back when the server closes it."""

    def __init__(self, body: Iterable[bytes], release: Callable[[], None]) -> None:
        self.body, self.release, self.done = body, release, False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            if not self.done:
                self.done = True
                self.release()
