"""Every endpoint declares who may use it, and every role outside that gets 403 (401/302 when
anonymous). Generated from the app's URL map, so new endpoints are covered automatically."""

from __future__ import annotations

import re

import pytest

from accounts import service as accounts
from web.auth import access_rule

ROLES = ("admin", "desk", "merchant", "courier", "student", "device")
# Framework endpoints (static files, API docs) that are public by nature.
FRAMEWORK = re.compile(r"^(static|swagger\.|openapi\.|.*\.static$)")


def rules_of(app):
    for rule in app.url_map.iter_rules():
        if FRAMEWORK.match(rule.endpoint):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, access_rule(app.view_functions[rule.endpoint])


def concrete(rule) -> str:
    """A URL for the rule with every variable filled with 1 (the role check runs first)."""
    return re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule.rule)


def test_every_endpoint_declares_its_access_rule(app):
    undeclared = [f"{m} {r.rule}" for r, m, rule in rules_of(app) if rule is None]
    assert undeclared == [], "decorate these with roles_required(...) or public"


@pytest.fixture
def tokens(app):
    from web.db import get_session

    with app.app_context():
        s = get_session()
        return {
            role: accounts.create_user(
                session=s,
                email=f"{role}@uni.edu",
                role=role,
                merchant_id=1 if role == "merchant" else None,
            )
            for role in ROLES
        }


def call(client, method, url, headers):
    return client.open(url, method=method, headers=headers, json={} if method != "GET" else None)


def test_roles_outside_an_endpoints_rule_are_refused(app, client, tokens):
    failures = []
    for rule, method, allowed in rules_of(app):
        if not isinstance(allowed, frozenset):
            continue
        url = concrete(rule)
        api = url.startswith("/api/")
        anonymous = call(client, method, url, {"Accept": "application/json"} if api else {})
        if anonymous.status_code not in ((401,) if api else (302, 401)):
            failures.append(f"anonymous {method} {url}: {anonymous.status_code}")
        for role in ROLES:
            if allowed and role not in allowed:
                headers = {"Authorization": f"Bearer {tokens[role].api_token}"}
                resp = call(client, method, url, headers)
                if resp.status_code != 403:
                    failures.append(f"{role} {method} {url}: {resp.status_code}")
    assert failures == []


def test_allowed_roles_get_past_the_role_check(app, client, tokens):
    failures = []
    for rule, method, allowed in rules_of(app):
        if not isinstance(allowed, frozenset) or method != "GET":
            continue
        url = concrete(rule)
        for role in allowed or ROLES:
            headers = {"Authorization": f"Bearer {tokens[role].api_token}"}
            resp = call(client, method, url, headers)
            if resp.status_code in (401, 403):
                failures.append(f"{role} GET {url}: {resp.status_code}")
    assert failures == []
