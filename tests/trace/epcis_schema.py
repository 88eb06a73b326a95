"""Validating documents against the GS1 EPCIS 2.0 JSON Schema (draft-07) of ../shared/epcis."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "epcis"
SCHEMA_PATH = SHARED / "EPCIS-JSON-Schema.json"


def schema_validator() -> Draft7Validator:
    """Draft-07 validator that also checks the date-time and uri formats the schema names."""
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def is_date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        datetime.fromisoformat(value)
        pattern = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"
        return re.fullmatch(pattern, value) is not None

    @checker.checks("uri")
    def is_uri(value: object) -> bool:  # RFC 3986: a scheme, a colon, no spaces
        return not isinstance(value, str) or bool(re.fullmatch(r"[A-Za-z][\w+.-]*:\S*", value))

    schema = json.loads(SCHEMA_PATH.read_text())
    return Draft7Validator(schema, format_checker=checker)


def schema_errors(document: dict[str, Any]) -> list[str]:
    """Every schema violation, with its path."""
    return [
        f"{list(e.absolute_path)}: {e.message}" for e in schema_validator().iter_errors(document)
    ]
