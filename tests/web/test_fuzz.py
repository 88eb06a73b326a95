"""Schemathesis fuzzes every operation of the served OpenAPI document as an administrator (the
role most endpoints admit) on the demo data: no 5xx, and every answer matches the schema the
document declares for it."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from accounts import service as accounts
from app import engine_of, session_scope

EXAMPLES = 20  # generated requests per operation


@pytest.fixture
def fuzzed(app):  # type: ignore[no-untyped-def]
    """The app with the demo data and an administrator's token."""
    from demo import seed

    with app.app_context(), session_scope(engine_of(app)) as session:
        seed.seed_all(session=session)
        token = accounts.create_user(
            session=session, email="fuzz-admin@uni.edu", role="admin"
        ).api_token
    app.config["FUZZ_TOKEN"] = token
    return app


def test_no_operation_answers_5xx_or_breaks_its_schema(fuzzed):  # type: ignore[no-untyped-def]
    from hypothesis import given

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzzed)
    headers = {"Authorization": f"Bearer {fuzzed.config['FUZZ_TOKEN']}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case):  # type: ignore[no-untyped-def]
            case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            fuzz()
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc).strip()[:600]}")
    assert operations > 50, f"only {operations} operations in the OpenAPI document"
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)
