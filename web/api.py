"""Shared pieces of the JSON API: the strict base model, the auth scheme, the error schema."""

from __future__ import annotations

from typing import Any

from flask_openapi3 import APIBlueprint, Info, Tag
from pydantic import BaseModel, ConfigDict

API_PREFIX = "/api/v1"
INFO = Info(
    title="Foodtrace API",
    version="1.0.0",
    description=(
        "Food-safety traceability and complaint handling for campus food delivery. "
        "Authenticate with `Authorization: Bearer <token>`. Errors have the form "
        '`{"error": {"code", "message", "details"}}`.'
    ),
)
SECURITY_SCHEMES = {"bearer": {"type": "http", "scheme": "bearer"}}
BEARER: list[dict[str, list[Any]]] = [{"bearer": []}]


class ApiModel(BaseModel):
    """Request bodies reject unknown fields, so a typo is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer of the API."""

    error: ErrorBody


ERRORS: dict[str | int, Any] = {
    400: ErrorResponse,
    401: ErrorResponse,
    403: ErrorResponse,
    404: ErrorResponse,
    422: ErrorResponse,
    429: ErrorResponse,
}


def api_blueprint(name: str, import_name: str, *, tag: str, description: str = "") -> APIBlueprint:
    """An API blueprint under /api/v1 with one OpenAPI tag."""
    return APIBlueprint(
        name,
        import_name,
        url_prefix=API_PREFIX,
        abp_tags=[Tag(name=tag, description=description)],
        abp_security=BEARER,
        abp_responses=ERRORS,
    )
