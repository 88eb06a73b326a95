"""Severity of a case from rules kept as configuration (``severity_rules.json``, source cited).

Pure. A rule matches when every condition of its ``when`` holds; the case takes the highest
severity of any matching rule (``default`` when none matches) and records which rules gave it,
so the case page can say why. Re-run on every update of the facts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "Rule",
    "RuleBook",
    "SeverityRulesError",
    "Triage",
    "TriageFacts",
    "default_rules",
    "load_rules",
    "triage",
]

DEFAULT_RULES = Path(__file__).with_name("severity_rules.json")
CONDITIONS = frozenset({"category", "medical_care", "symptoms_any", "n_ill_at_least"})


class SeverityRulesError(ValueError):
    """A rules file that is malformed or inconsistent."""


@dataclass(frozen=True, slots=True)
class TriageFacts:
    """What severity depends on."""

    category: str
    symptoms: frozenset[str]
    medical_care: str
    n_ill: int


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: its id, the severity it gives, and its conditions (all must hold)."""

    id: str
    severity: str
    when: Mapping[str, Any]
    source: str

    def matches(self, facts: TriageFacts) -> bool:
        """Whether every condition holds for these facts."""
        for name, value in self.when.items():
            if name == "category" and facts.category not in value:
                return False
            if name == "medical_care" and facts.medical_care not in value:
                return False
            if name == "symptoms_any" and not facts.symptoms & set(value):
                return False
            if name == "n_ill_at_least" and facts.n_ill < value:
                return False
        return True


@dataclass(frozen=True, slots=True)
class RuleBook:
    """Severities from most to least urgent, the rules, the fallback and the cited source."""

    severities: tuple[str, ...]
    rules: tuple[Rule, ...]
    default: str
    source: str


@dataclass(frozen=True, slots=True)
class Triage:
    """The severity and the ids of the rules that gave it (empty: the default applied)."""

    severity: str
    reasons: tuple[str, ...]


def _rule(i: int, raw: Any, severities: tuple[str, ...]) -> Rule:
    where = f"rules[{i}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise SeverityRulesError(f"{where}: expected an object with a string 'id'")
    if raw.get("severity") not in severities:
        raise SeverityRulesError(f"{where}: severity must be one of {severities}")
    when = raw.get("when")
    if not isinstance(when, dict) or not when:
        raise SeverityRulesError(f"{where}: 'when' must be a non-empty object")
    for name, value in when.items():
        if name not in CONDITIONS:
            raise SeverityRulesError(f"{where}: unknown condition {name!r}")
        if name == "n_ill_at_least":
            if isinstance(value, bool) or not isinstance(value, int):
                raise SeverityRulesError(f"{where}: n_ill_at_least must be an integer")
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SeverityRulesError(f"{where}: {name} must be a list of strings")
    return Rule(raw["id"], raw["severity"], when, str(raw.get("source", "")))


def load_rules(path: str | Path | None = None) -> RuleBook:
    """Read and validate a rules file (default: ``complaints/severity_rules.json``)."""
    raw = json.loads(Path(path or DEFAULT_RULES).read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not isinstance(raw.get("source"), str):
        raise SeverityRulesError("expected an object citing its 'source'")
    severities = raw.get("severities")
    if (
        not isinstance(severities, list)
        or not severities
        or len(set(severities)) != len(severities)
    ):
        raise SeverityRulesError("'severities' must list distinct levels, most urgent first")
    levels = tuple(str(s) for s in severities)
    if raw.get("default") not in levels:
        raise SeverityRulesError("'default' must be one of the severities")
    rules = tuple(_rule(i, r, levels) for i, r in enumerate(raw.get("rules") or []))
    if len({r.id for r in rules}) != len(rules):
        raise SeverityRulesError("rule ids must be unique")
    return RuleBook(levels, rules, raw["default"], raw["source"])


@cache
def default_rules() -> RuleBook:
    """The bundled rules, loaded once."""
    return load_rules()


def triage(
    *,
    category: str,
    symptoms: Iterable[str],
    medical_care: str,
    n_ill: int,
    rules: RuleBook | None = None,
) -> Triage:
    """The most urgent severity any rule gives these facts, and the rules that gave it."""
    book = rules or default_rules()
    facts = TriageFacts(category, frozenset(symptoms), medical_care, n_ill)
    matched = [r for r in book.rules if r.matches(facts)]
    if not matched:
        return Triage(book.default, ())
    rank = {s: k for k, s in enumerate(book.severities)}
    top = min(matched, key=lambda r: rank[r.severity]).severity
    return Triage(top, tuple(r.id for r in matched if r.severity == top))
