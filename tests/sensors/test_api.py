"""POST /api/v1/sensors/readings: every bad input of issue 6, CSV, duplicates, partial batches."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from columns import utcnow
from tests.sensors.conftest import iso, readings

URL = "/api/v1/sensors/readings"


@pytest.fixture
def probe(world):
    return world.device("probe-1", "BOX-1", bound_at=utcnow() - timedelta(days=1))


@pytest.fixture(scope="module")
def shared_token(shared_world):
    """The token of a device registered in the module's shared app."""
    return shared_world.device("probe-s", "BOX-S", bound_at=utcnow() - timedelta(days=1)).token


@pytest.fixture(scope="module")
def shared_probe(shared_world, shared_token):
    """One stored reading of that device; returns its id."""
    client = shared_world.app.test_client()
    body = readings(utcnow() - timedelta(minutes=2), [4.0])
    assert post(client, shared_token, body).status_code == 201
    with shared_world.session() as s:
        return s.connection().execute(text("SELECT max(id) FROM sensor_readings")).scalar_one()


def post(client, token, body, content_type="application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(
        URL, data=data, content_type=content_type, headers={"Authorization": f"Bearer {token}"}
    )


def stored(world, device_id="probe-1"):
    with world.session() as s:
        rows = s.connection().execute(
            text(
                "SELECT r.at, r.celsius, r.flags FROM sensor_readings r "
                "JOIN sensor_devices d ON d.id = r.device WHERE d.device_id = :d ORDER BY r.at"
            ),
            {"d": device_id},
        )
        return [tuple(r) for r in rows]


def micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def test_good_batch_is_stored_and_anchored_as_one_ledger_entry(client, world, probe):
    start = utcnow().replace(microsecond=0) - timedelta(minutes=10)
    resp = post(client, probe.token, readings(start, [61.0, 62.5, 63.0]))
    assert resp.status_code == 201
    body = resp.json
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 0, [])
    assert body["batch"]["size"] == 3
    entry = client.get(
        f"/api/v1/ledger/entries/{body['batch']['ledger_index']}", headers=world.auth("admin")
    ).json
    assert entry["type"] == "sensor.readings"
    assert entry["envelope"]["payload"]["batch"]["root"] == body["batch"]["root"]
    assert stored(world) == [
        (micros(start + timedelta(minutes=i)), v, 0) for i, v in enumerate([61.0, 62.5, 63.0])
    ]


def test_fahrenheit_is_stored_in_celsius(client, probe, world):
    start = utcnow() - timedelta(minutes=5)
    body = [{"time": iso(start), "value": 41.0, "unit": "FAH"}]
    assert post(client, probe.token, body).status_code == 201
    assert stored(world)[0][1] == pytest.approx((41.0 - 32) * 5 / 9)


def test_csv_body_is_accepted_with_line_numbers_for_bad_rows(client, probe, world):
    start = utcnow() - timedelta(minutes=5)
    csv = f"time,value,unit\n{iso(start)},4.5,CEL\n{iso(start + timedelta(minutes=1))},hot,CEL\n"
    resp = post(client, probe.token, csv, "text/csv")
    assert resp.status_code == 201
    assert resp.json["accepted"] == 1
    assert resp.json["rejected"] == [
        {
            "index": 3,
            "field": "value",
            "reason": "not_a_number",
            "message": "value 'hot' is not a number",
        }
    ]


def test_duplicates_across_two_requests_are_idempotent(client, probe, world):
    start = utcnow() - timedelta(minutes=30)
    first = post(client, probe.token, readings(start, [5.0, 5.1, 5.2]))
    again = post(client, probe.token, readings(start, [5.0, 5.1, 5.2, 5.3]))
    assert first.status_code == 201 and again.status_code == 201
    assert (again.json["accepted"], again.json["duplicates"]) == (1, 3)
    assert again.json["batch"]["size"] == 1
    same = post(client, probe.token, readings(start, [5.0]))
    assert same.status_code == 200
    assert (same.json["accepted"], same.json["duplicates"], same.json["batch"]) == (0, 1, None)
    assert len(stored(world)) == 4


def test_out_of_order_readings_are_accepted(client, probe, world):
    start = utcnow() - timedelta(minutes=30)
    later = readings(start + timedelta(minutes=10), [6.0])
    earlier = readings(start, [4.0, 4.5])
    assert post(client, probe.token, later).status_code == 201
    assert post(client, probe.token, list(reversed(earlier))).status_code == 201
    assert [c for _, c, _ in stored(world)] == [4.0, 4.5, 6.0]


def test_clock_skew_is_flagged_and_stored_with_its_flag(client, probe, world):
    future = utcnow() + timedelta(hours=3)
    resp = post(client, probe.token, readings(future, [5.0]))
    assert resp.status_code == 201
    assert [f["code"] for f in resp.json["flagged"]] == ["clock_skew"]
    assert stored(world)[0][2] == 1


def test_partial_batch_stores_the_good_and_names_each_bad_reading(client, probe, world):
    start = utcnow() - timedelta(minutes=30)
    body = readings(start, [5.0, 5.5, 6.0, 6.5])
    body[1]["value"] = 200.0  # physically impossible
    body[2]["unit"] = "KEL"  # not CEL or FAH
    body.append({"time": "2025-03-01 11:00", "value": 1, "unit": "CEL"})  # naive, malformed
    resp = post(client, probe.token, body)
    assert resp.status_code == 201
    assert resp.json["accepted"] == 2
    got = [(r["index"], r["field"], r["reason"]) for r in resp.json["rejected"]]
    assert got == [
        (1, "value", "physically_impossible"),
        (2, "unit", "unknown_unit"),
        (4, "time", "bad_time"),
    ]
    assert [c for _, c, _ in stored(world)] == [5.0, 6.5]


@pytest.mark.parametrize(
    ("item", "field", "reason"),
    [
        ({"time": "2025-03-01T11:00:00", "value": 4, "unit": "CEL"}, "time", "naive_time"),
        (
            {"time": "2025-03-01T11:00:00Z", "value": -61, "unit": "CEL"},
            "value",
            "physically_impossible",
        ),
        (
            {"time": "2025-03-01T11:00:00Z", "value": 303, "unit": "FAH"},
            "value",
            "physically_impossible",
        ),
        ({"time": "2025-03-01T11:00:00Z", "value": "4", "unit": "CEL"}, "value", "not_a_number"),
        ({"time": "2025-03-01T11:00:00Z", "value": 4}, "unit", "missing_key"),
        ({"time": "2025-03-01T11:00:00Z", "value": 4, "unit": "CEL", "x": 1}, "x", "unknown_key"),
    ],
)
def test_a_batch_with_only_bad_readings_is_a_400_naming_the_reading(
    shared_world, shared_token, item, field, reason
):
    resp = post(shared_world.app.test_client(), shared_token, [item])
    assert resp.status_code == 400
    error = resp.json["error"]
    assert error["code"] == "invalid_readings"
    assert "reading 0" in error["message"]
    assert (
        error["details"][0]["index"],
        error["details"][0]["field"],
        error["details"][0]["reason"],
    ) == (0, field, reason)


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        ("{not json", "application/json", "malformed_json"),
        ('{"time": "2025-03-01T11:00:00Z"}', "application/json", "malformed_batch"),
        ("[]", "application/json", "empty_batch"),
        ("", "application/json", "malformed_batch"),
        ("temp,when\n1,2\n", "text/csv", "malformed_batch"),
        (b"time,value,unit\n\xff\xfe,1,CEL\n", "text/csv", "malformed_csv"),
    ],
)
def test_malformed_payloads_are_400(shared_world, shared_token, body, content_type, code):
    resp = post(shared_world.app.test_client(), shared_token, body, content_type)
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == code


def test_other_media_types_are_415(shared_world, shared_token):
    client = shared_world.app.test_client()
    resp = post(client, shared_token, "time=1", "application/x-www-form-urlencoded")
    assert resp.status_code == 415


def test_more_than_ten_thousand_readings_is_413_for_json_and_csv(shared_world, shared_token):
    client = shared_world.app.test_client()
    start = datetime(2025, 3, 1, tzinfo=UTC)
    body = readings(start, [4.0] * 10_001, step=timedelta(seconds=1))
    resp = post(client, shared_token, body)
    assert resp.status_code == 413
    assert resp.json["error"]["code"] == "too_many_readings"
    csv = "time,value,unit\n" + "".join(f"{r['time']},4,CEL\n" for r in body)
    assert post(client, shared_token, csv, "text/csv").status_code == 413


def test_exactly_ten_thousand_readings_are_accepted(client, probe, world):
    start = utcnow() - timedelta(hours=4)
    body = readings(start, [4.0] * 10_000, step=timedelta(seconds=1))
    resp = post(client, probe.token, body)
    assert resp.status_code == 201
    assert resp.json["accepted"] == 10_000


def test_unknown_token_is_401(shared_world):
    client = shared_world.app.test_client()
    resp = post(client, "ft_not-a-token", readings(utcnow(), [4.0]))
    assert resp.status_code == 401


def test_revoked_device_is_403_and_nothing_is_stored(client, probe, world):
    from sensors import service

    with world.session() as s:
        service.revoke_device(session=s, device_id="probe-1")
    resp = post(client, probe.token, readings(utcnow() - timedelta(minutes=1), [4.0]))
    assert resp.status_code == 403
    assert resp.json["error"]["code"] == "device_forbidden"
    assert stored(world) == []


def test_a_device_account_without_a_registered_device_is_403(client, world):
    resp = post(client, world.tokens["device"], readings(utcnow() - timedelta(minutes=1), [4.0]))
    assert resp.status_code == 403


@pytest.mark.parametrize("role", ["admin", "desk", "merchant", "courier", "student"])
def test_only_device_tokens_may_post_readings(shared_world, role):
    client = shared_world.app.test_client()
    token = shared_world.tokens[role]
    resp = post(client, token, readings(utcnow() - timedelta(minutes=1), [4.0]))
    assert resp.status_code == 403


def test_reading_proof_bundle_verifies_offline_at_both_levels(client, world, probe, tmp_path):
    from ledger.verify_proof import (
        leaf_hash,
        load_public_key,
        main,
        verify_bundle,
        verify_inclusion,
    )

    start = utcnow() - timedelta(minutes=20)
    post(client, probe.token, readings(start, [61.0, 62.0, 63.0, 64.0, 65.0]))
    with world.session() as s:
        reading_id = (
            s.connection()
            .execute(text("SELECT id FROM sensor_readings WHERE celsius = 63.0"))
            .scalar_one()
        )
    resp = client.get(f"/api/v1/sensors/readings/{reading_id}/proof", headers=world.auth("desk"))
    assert resp.status_code == 200
    bundle = resp.json
    record = json.loads(base64.b64decode(bundle["record"]["data"]))
    when = (start + timedelta(minutes=2)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert record == {"celsius": 63, "device": "probe-1", "time": when}
    # Level 1, by hand: the reading's record is in the batch root the entry carries.
    entry = json.loads(base64.b64decode(bundle["entry"]))
    verify_inclusion(
        leaf_hash(base64.b64decode(bundle["record"]["data"])),
        bundle["record"]["index"],
        entry["payload"]["batch"]["size"],
        [base64.b64decode(h) for h in bundle["record"]["inclusion_proof"]],
        base64.b64decode(entry["payload"]["batch"]["root"]),
    )
    # Both levels with the regulator's script, against the published key.
    key_pem = client.get("/api/v1/ledger/public-key").get_data(as_text=True)
    assert verify_bundle(bundle, load_public_key(key_pem)).startswith("OK: record 2 of 5")
    (tmp_path / "bundle.json").write_text(json.dumps(bundle))
    (tmp_path / "key.pem").write_text(key_pem)
    assert main([str(tmp_path / "bundle.json"), "--public-key", str(tmp_path / "key.pem")]) == 0


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("admin", 200),
        ("desk", 200),
        ("merchant", 403),
        ("courier", 403),
        ("student", 403),
        ("device", 403),
    ],
)
def test_reading_proofs_are_for_staff(client, world, probe, role, status):
    post(client, probe.token, readings(utcnow() - timedelta(minutes=2), [4.0]))
    resp = client.get("/api/v1/sensors/readings/1/proof", headers=world.auth(role))
    assert resp.status_code == status


def test_proof_of_a_missing_reading_is_404(client, world):
    assert (
        client.get("/api/v1/sensors/readings/99/proof", headers=world.auth("admin")).status_code
        == 404
    )
