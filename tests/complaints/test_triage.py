"""Severity rules: DOMAIN.md §3's top-priority signs make a case critical; the rest by category."""

import json

import pytest

from complaints.triage import SeverityRulesError, default_rules, load_rules, triage


def severity(category="illness", symptoms=(), medical_care="none", n_ill=1):
    return triage(category=category, symptoms=symptoms, medical_care=medical_care, n_ill=n_ill)


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        ({"medical_care": "hospitalised"}, "hospitalised"),
        ({"symptoms": ["diarrhoea", "bloody_stool"]}, "bloody_diarrhoea"),
        ({"symptoms": ["neurological"]}, "neurological_signs"),
        ({"n_ill": 2}, "several_ill"),
        ({"category": "temperature", "n_ill": 3}, "several_ill"),
    ],
)
def test_each_top_priority_sign_makes_a_case_critical(facts, reason):
    result = severity(**facts)
    assert result.severity == "critical"
    assert reason in result.reasons


def test_several_critical_signs_are_all_given_as_reasons():
    result = severity(symptoms=["bloody_stool", "neurological"], medical_care="hospitalised")
    assert set(result.reasons) == {"hospitalised", "bloody_diarrhoea", "neurological_signs"}


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("illness", "high"),
        ("foreign_object", "high"),
        ("allergen", "high"),
        ("spoiled", "normal"),
        ("temperature", "normal"),
        ("hygiene", "normal"),
        ("other", "low"),
    ],
)
def test_without_top_priority_signs_the_category_decides(category, expected):
    n_ill = 1 if category == "illness" else 0
    assert severity(category=category, symptoms=["nausea"], n_ill=n_ill).severity == expected


def test_one_person_at_the_doctor_or_er_is_not_critical_by_itself():
    assert severity(medical_care="er").severity == "high"
    assert severity(medical_care="doctor", symptoms=["fever", "diarrhoea"]).severity == "high"


def test_the_bundled_rules_cite_their_source_and_list_severities_most_urgent_first():
    book = default_rules()
    assert "DOMAIN.md" in book.source
    assert book.severities[0] == "critical"
    assert all(rule.source for rule in book.rules)


def test_a_case_no_rule_matches_gets_the_default(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(
        json.dumps(
            {
                "source": "test",
                "severities": ["urgent", "calm"],
                "default": "calm",
                "rules": [{"id": "x", "severity": "urgent", "when": {"n_ill_at_least": 5}}],
            }
        )
    )
    book = load_rules(path)
    assert triage(category="illness", symptoms=(), medical_care="none", n_ill=1, rules=book) == (
        triage(category="other", symptoms=(), medical_care="none", n_ill=0, rules=book)
    )
    result = triage(category="illness", symptoms=(), medical_care="none", n_ill=1, rules=book)
    assert (result.severity, result.reasons) == ("calm", ())


@pytest.mark.parametrize(
    "broken",
    [
        {"severities": ["a"], "default": "a", "rules": []},  # no source
        {"source": "s", "severities": [], "default": "a", "rules": []},
        {"source": "s", "severities": ["a"], "default": "b", "rules": []},
        {"source": "s", "severities": ["a"], "default": "a",
         "rules": [{"id": "r", "severity": "z", "when": {"category": ["x"]}}]},
        {"source": "s", "severities": ["a"], "default": "a",
         "rules": [{"id": "r", "severity": "a", "when": {"moon_phase": ["full"]}}]},
        {"source": "s", "severities": ["a"], "default": "a",
         "rules": [{"id": "r", "severity": "a", "when": {"n_ill_at_least": "2"}}]},
    ],
)  # fmt: skip
def test_malformed_rule_files_are_refused(tmp_path, broken):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(SeverityRulesError):
        load_rules(path)
