"""Rule values of the trace domain, read from `trace_rules.json` (each with its source cited)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

RULES_FILE = Path(__file__).with_name("trace_rules.json")


@dataclass(frozen=True, slots=True)
class Kde:
    """A key data element a record must carry: code key, labels, and the CFR paragraph."""

    key: str
    en: str
    zh: str
    cfr: str


@dataclass(frozen=True, slots=True)
class Rules:
    """The values the services apply."""

    receiving_kdes: tuple[Kde, ...]
    transformation_kdes: tuple[Kde, ...]
    licence_warning: timedelta
    future_tolerance: timedelta
    max_trace_nodes: int
    background_import_rows: int


def parse_rules(data: dict[str, Any]) -> Rules:
    """Rules from the JSON document's values."""
    return Rules(
        receiving_kdes=tuple(
            Kde(**{k: d[k] for k in ("key", "en", "zh", "cfr")}) for d in data["receiving_kdes"]
        ),
        transformation_kdes=tuple(
            Kde(**{k: d[k] for k in ("key", "en", "zh", "cfr")})
            for d in data["transformation_kdes"]
        ),
        licence_warning=timedelta(days=int(data["licence_warning_days"])),
        future_tolerance=timedelta(minutes=int(data["future_tolerance_minutes"])),
        max_trace_nodes=int(data["max_trace_nodes"]),
        background_import_rows=int(data["background_import_rows"]),
    )


@cache
def rules() -> Rules:
    """The deployment's rules (read once)."""
    return parse_rules(json.loads(RULES_FILE.read_text(encoding="utf-8")))
