"""`flask --app app sensors ...` through the CLI runner."""

from __future__ import annotations

import json

from accounts import service as accounts
from web.db import get_session


def test_register_prints_the_device_and_a_working_token(runner, app):
    result = runner.invoke(
        args=["sensors", "register", "probe-c", "--box", "BOX-C", "--calibrated", "2025-02-01"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["device_id"], out["box_id"], out["calibrated_on"], out["kind"]) == (
        "probe-c",
        "BOX-C",
        "2025-02-01",
        "probe",
    )
    with app.app_context():
        user = accounts.user_for_token(session=get_session(), token=out["token"])
        assert user is not None and user.id == out["user_id"] and user.role == "device"


def test_bind_revoke_and_list(runner):
    runner.invoke(args=["sensors", "register", "probe-c"])
    bound = runner.invoke(args=["sensors", "bind", "probe-c", "BOX-2"])
    assert json.loads(bound.output)["box_id"] == "BOX-2"
    unbound = runner.invoke(args=["sensors", "unbind", "probe-c"])
    assert json.loads(unbound.output)["box_id"] is None
    revoked = runner.invoke(args=["sensors", "revoke", "probe-c"])
    assert json.loads(revoked.output)["revoked_at"] is not None
    listed = [
        json.loads(line) for line in runner.invoke(args=["sensors", "list"]).output.splitlines()
    ]
    assert [d["device_id"] for d in listed] == ["probe-c"]


def test_errors_are_messages_not_tracebacks(runner):
    assert (
        "already registered"
        in runner.invoke(args=["sensors", "register", "p"]).output
        + runner.invoke(args=["sensors", "register", "p"]).output
    )
    for args in (
        ["sensors", "register", "bad/id"],
        ["sensors", "register", "q", "--calibrated", "soon"],
        ["sensors", "bind", "nobody", "BOX-1"],
        ["sensors", "revoke", "nobody"],
        ["sensors", "mqtt", "--url", "http://nowhere"],
        ["sensors", "mqtt", "--share-group", "a/b"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and "Traceback" not in result.output, args


def test_verify_readings_on_an_empty_database(runner):
    result = runner.invoke(args=["sensors", "verify-readings"])
    assert result.exit_code == 0 and result.output.startswith("OK: 0 readings")


def test_a_bad_share_group_is_refused_naming_the_rule(runner):
    result = runner.invoke(args=["sensors", "mqtt", "--share-group", "a/b"])
    assert result.exit_code != 0 and "share group" in result.output
