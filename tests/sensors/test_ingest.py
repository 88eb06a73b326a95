"""The ingest service on both databases: bulk storage, dedupe, anchoring, proofs, EPCIS reports."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session

import ledger
from sensors import ingest, proofs, service
from sensors.readings import parse_json_readings
from sensors.records import batch_records, to_micros
from tests.sensors.conftest import readings

T0 = datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
SEC = timedelta(seconds=1)


def put(session, device_id, start, values, step=SEC, now=NOW):
    device = service.get_device(session=session, device_id=device_id)
    parsed = parse_json_readings(readings(start, values, step), now=now)
    return ingest.ingest(session=session, device=device, parsed=parsed, channel="http")


def rows(session):
    return (
        session.connection()
        .execute(
            text("SELECT at, celsius, ledger_index, position FROM sensor_readings ORDER BY id")
        )
        .all()
    )


@pytest.fixture
def db(any_engine):
    """A session on SQLite, then PostgreSQL (COPY path), with probe-1 registered."""
    with Session(any_engine, expire_on_commit=False) as s:
        service.register_device(session=s, device_id="probe-1", box_id="BOX-1", now=T0)
        yield s


def test_a_batch_is_stored_in_order_and_anchored_by_its_records_root(db):
    values = [4.0 + i / 10 for i in range(1000)]
    result = put(db, "probe-1", T0, values)
    assert (result.accepted, result.duplicates) == (1000, 0)
    (ref,) = result.batches
    got = rows(db)
    assert [(a, c, p) for a, c, _, p in got] == [
        (to_micros(T0 + i * SEC), v, i) for i, v in enumerate(values)
    ]
    assert {i for _, _, i, _ in got} == {ref.ledger_index}
    records = batch_records("probe-1", [to_micros(T0 + i * SEC) for i in range(1000)], values)
    assert base64.b64encode(ledger.batch_root(records)).decode() == ref.root
    payload = ledger.entry_at(db, ref.ledger_index).envelope()["payload"]
    assert payload["batch"] == {"size": 1000, "root": ref.root}
    assert (payload["first"], payload["last"]) == (
        "2025-03-01T11:00:00.000000Z",
        "2025-03-01T11:16:39.000000Z",
    )


def test_resent_and_overlapping_batches_store_each_reading_once(db):
    put(db, "probe-1", T0, [1.0, 2.0, 3.0])
    again = put(db, "probe-1", T0 + SEC, [2.0, 3.0, 4.0, 5.0])
    assert (again.accepted, again.duplicates, again.batches[0].size) == (2, 2, 2)
    assert [c for _, c, _, _ in rows(db)] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_the_same_time_from_two_devices_is_two_readings(db):
    service.register_device(session=db, device_id="probe-2")
    put(db, "probe-1", T0, [1.0])
    assert put(db, "probe-2", T0, [1.0]).accepted == 1


def test_one_reading_is_proven_to_its_batch_and_the_batch_to_the_log(db, tmp_path):
    put(db, "probe-1", T0, [5.0, 6.0, 7.0])
    reading_id = (
        db.connection()
        .execute(text("SELECT id FROM sensor_readings WHERE celsius = 6.0"))
        .scalar_one()
    )
    proof = proofs.prove_reading(session=db, reading_id=reading_id)
    assert (proof.device_id, proof.time, proof.celsius, proof.record.index) == (
        "probe-1",
        T0 + SEC,
        6.0,
        1,
    )
    signer = ledger.load_or_create_signing_key(tmp_path / "k.pem", name="test-log")
    bundle = proofs.reading_bundle(
        session=db,
        reading_id=reading_id,
        signer=signer,
        sign=lambda: (ledger.checkpoint(db, signer), db.commit()),
    )
    from ledger.verify_proof import verify_bundle

    assert verify_bundle(bundle, signer.public_key).startswith("OK: record 1 of 3 in its batch")


def test_an_edited_reading_no_longer_proves_and_verify_batches_names_it(db):
    ref = put(db, "probe-1", T0, [5.0, 6.0, 7.0]).batches[0]
    assert proofs.verify_batches(session=db).ok
    db.connection().execute(text("UPDATE sensor_readings SET celsius = 5.5 WHERE celsius = 6.0"))
    with pytest.raises(proofs.BatchMismatch):
        proofs.prove_reading(session=db, reading_id=1)
    check = proofs.verify_batches(session=db)
    assert check.problem == f"readings of batch entry {ref.ledger_index} do not hash to its root"


def test_verify_batches_finds_deleted_and_smuggled_readings(db):
    ref = put(db, "probe-1", T0, [5.0, 6.0]).batches[0]
    db.connection().execute(text("DELETE FROM sensor_readings WHERE celsius = 6.0"))
    assert "missing or added" in proofs.verify_batches(session=db).problem
    db.rollback()
    db.connection().execute(
        text(
            "INSERT INTO sensor_readings (at, celsius, ledger_index, device, position, flags) "
            "VALUES (1, 9.0, :i, 1, 0, 0)"
        ),
        {"i": ref.ledger_index},
    )
    assert "belong to no readings batch entry" in proofs.verify_batches(session=db).problem


def test_a_revoked_device_stores_nothing(db):
    device = service.get_device(session=db, device_id="probe-1")
    service.revoke_device(session=db, device_id="probe-1")
    parsed = parse_json_readings(readings(T0, [1.0]), now=NOW)
    with pytest.raises(service.DeviceForbidden):
        ingest.ingest(session=db, device=device, parsed=parsed, channel="http")
    assert rows(db) == []


def test_ingest_many_commits_several_devices_at_once(db):
    service.register_device(session=db, device_id="probe-2")
    one, two = (service.get_device(session=db, device_id=d) for d in ("probe-1", "probe-2"))
    batch = parse_json_readings(readings(T0, [1.0, 2.0]), now=NOW)
    results = ingest.ingest_many(
        session=db, batches=[(one, batch), (two, batch), (one, batch)], channel="mqtt"
    )
    assert [(r.accepted, r.duplicates) for r in results] == [(2, 0), (2, 0), (0, 2)]


@dataclass(frozen=True)
class Report:
    """Shaped like trace.epcis.SensorReport."""

    type: str
    value: float | None
    time: datetime | None
    device_id: str | None = None
    mean_value: float | None = None
    uom: str | None = "CEL"


def test_epcis_reports_are_stored_through_the_same_service(db):
    service.register_device(session=db, device_id="urn:epc:id:giai:4000001.111")
    reports = [
        Report("Temperature", 4.5, T0, "urn:epc:id:giai:4000001.111"),
        Report("Temperature", None, T0 + SEC, "urn:epc:id:giai:4000001.111", mean_value=5.0),
        Report("Humidity", 40.0, T0, "urn:epc:id:giai:4000001.111"),
        Report("Temperature", 4.0, T0, None),  # no device: the box's device at T0 (probe-1)
        Report("Temperature", 4.0, T0, "urn:unknown"),
        Report("Temperature", 999.0, T0 + 2 * SEC, "urn:epc:id:giai:4000001.111"),
        Report("Temperature", None, T0),
    ]
    out = ingest.ingest_epcis_reports(session=db, reports=reports, box_id="BOX-1", now=NOW)
    assert out.skipped == 1
    by_device = {r.device: (r.accepted, r.duplicates) for r in out.results}
    probe = service.get_device(session=db, device_id="probe-1").id
    assert by_device.pop(probe) == (1, 1)  # reports 3 and 4: the box's device, same instant
    assert list(by_device.values()) == [(2, 0)]
    assert sorted((r.index, r.reason) for r in out.rejected) == [
        (5, "physically_impossible"),
        (6, "unusable_report"),
    ]


def test_epcis_reports_without_a_known_device_or_box_are_rejected(db):
    reports = [Report("Temperature", 4.0, T0, "urn:unknown")]
    out = ingest.ingest_epcis_reports(session=db, reports=reports, now=NOW)
    assert out.results == ()
    assert [(r.index, r.field, r.reason) for r in out.rejected] == [
        (0, "deviceID", "unknown_device")
    ]


def test_epcis_reports_from_the_trace_parser_fit(db):
    try:  # the trace module keeps its parsed EPCIS model here
        from trace.epcis_model import SensorReport
    except ImportError:
        from trace.epcis import SensorReport  # type: ignore[attr-defined,no-redef]

    report = SensorReport(type="Temperature", value=3.5, uom="CEL", time=T0, device_id="probe-1")
    out = ingest.ingest_epcis_reports(session=db, reports=[report], now=NOW)
    assert [r.accepted for r in out.results] == [1]


def test_batch_entries_are_the_ones_ledger_append_batch_writes(db):
    """Several device batches are appended in one ledger write; each entry must be the one
    `ledger.append_batch` would have written for the same event and records."""
    ref = put(db, "probe-1", T0, [5.0, 6.0]).batches[0]
    ours = ledger.entry_at(db, ref.ledger_index).envelope()
    records = batch_records("probe-1", [to_micros(T0), to_micros(T0 + SEC)], [5.0, 6.0])
    payload = {k: v for k, v in ours["payload"].items() if k != "batch"}
    event = ledger.Event(ours["type"], payload, actor=ours["actor"], subject=ours["subject"])
    theirs = ledger.append_batch(db, event, records).envelope()
    db.rollback()
    assert {**theirs, "ts": None} == {**ours, "ts": None}
