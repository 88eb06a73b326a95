"""Readings in: one service for the HTTP API, the MQTT subscriber and EPCIS imports.

A batch is validated by sensors.readings (a ParsedBatch), then, in one transaction per call:
the device is locked, readings already stored (same device and time) are set aside as
duplicates, the rest are anchored as ONE ledger batch entry (`sensor.readings`, carrying the
RFC 9162 root of their records, see sensors.records) and bulk-inserted with that entry's index
and their position in it. One reading is later proven by two proofs (`prove_reading`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlmodel import Session, select

import ledger
from columns import utcnow
from sensors import store, verdicts
from sensors.models import FLAG_CLOCK_SKEW, Device
from sensors.profiles import policy
from sensors.readings import (
    Notice,
    ParsedBatch,
    Reading,
    Rejection,
    parse_json_readings,
)
from sensors.records import batch_records, rfc3339_micros, to_micros
from sensors.service import DeviceForbidden

READINGS_ENTRY = "sensor.readings"
BATCH_FIELD = "batch"  # the payload field ledger.append_batches fills (ledger/batches.py)
CHANNELS = ("http", "mqtt", "epcis", "demo")


@dataclass(frozen=True, slots=True)
class BatchRef:
    """The ledger entry anchoring one stored batch."""

    ledger_index: int
    root: str  # base64 RFC 9162 root of the batch's records
    size: int


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What became of one device's batch: counts, the bad readings, the anchoring entries."""

    device: int
    accepted: int
    duplicates: int
    rejected: tuple[Rejection, ...]
    flagged: tuple[Notice, ...]
    batches: tuple[BatchRef, ...]
    watched: bool  # the device's box carries a watched delivery: evaluate alerts


def ingest(*, session: Session, device: Device, parsed: ParsedBatch, channel: str) -> IngestResult:
    """Store one device's validated batch (see module docstring) and commit.

    Raises DeviceForbidden when the device was revoked meanwhile.
    """
    return ingest_many(session=session, batches=[(device, parsed)], channel=channel)[0]


def ingest_many(
    *, session: Session, batches: Sequence[tuple[Device, ParsedBatch]], channel: str
) -> list[IngestResult]:
    """Store several devices' batches in one transaction (one commit), e.g. an MQTT flush.

    Set-based, so a flush costs a handful of statements whatever its number of devices: lock
    the devices, read their stored times, one ledger batch entry per device batch, one bulk
    insert, one look for watched boxes. A device may appear more than once; each later batch
    dedupes against the earlier ones. Raises DeviceForbidden (storing nothing) if one of the
    devices was revoked.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    try:
        results = _store(session, batches, channel)
    except Exception:
        session.rollback()
        raise
    session.commit()
    return results


def _store(
    session: Session, batches: Sequence[tuple[Device, ParsedBatch]], channel: str
) -> list[IngestResult]:
    conn = session.connection()
    devices = {d.id: d for d, _ in batches if d.id is not None}
    revoked = store.lock_devices(conn, sorted(devices))
    if revoked:
        gone = devices[revoked[0]].device_id
        raise DeviceForbidden(f"device {gone} was revoked", device_id=gone)
    times = [[to_micros(r.time_utc) for r in parsed.accepted] for _, parsed in batches]
    windows: dict[int, tuple[int, int]] = {}
    for (device, _), at in zip(batches, times, strict=True):
        if at and device.id is not None:
            lo, hi = windows.get(device.id, (min(at), max(at)))
            windows[device.id] = (min(lo, min(at)), max(hi, max(at)))
    seen = store.stored_times(conn, windows)
    most = policy().max_readings_per_batch
    chunks: list[tuple[Device, list[int], list[Reading]]] = []
    counts = []
    for (device, parsed), at in zip(batches, times, strict=True):
        assert device.id is not None
        fresh_times, fresh = _fresh(seen.setdefault(device.id, set()), at, parsed.accepted)
        for start in range(0, len(fresh), most):
            chunk = slice(start, start + most)
            chunks.append((device, fresh_times[chunk], fresh[chunk]))
        counts.append((len(fresh), len(at) - len(fresh), -(-len(fresh) // most)))
    refs, rows = _anchor(session, chunks, channel)
    late: dict[int, tuple[int, int]] = {}  # device -> (first, last) µs of its new readings
    for device, fresh_times, _ in chunks:
        lo, hi = late.get(device.id or 0, (min(fresh_times), max(fresh_times)))
        late[device.id or 0] = (min(lo, min(fresh_times)), max(hi, max(fresh_times)))
    verdicts.mark_late(conn, late)  # a no-op unless the batch reaches SETTLE into the past
    pending = []
    taken = 0
    for (device, parsed), (accepted, duplicates, n_chunks) in zip(batches, counts, strict=True):
        pending.append(
            (device, parsed, accepted, duplicates, tuple(refs[taken : taken + n_chunks]))
        )
        taken += n_chunks
    store.insert_rows(conn, rows)
    stored_boxes = {d.box_id for d, _, n, _, _ in pending if n and d.box_id is not None}
    watched = store.open_watch_boxes(conn, sorted(stored_boxes)) if stored_boxes else set()
    return [
        IngestResult(
            device=device.id or 0,
            accepted=accepted,
            duplicates=duplicates + len(parsed.duplicates),
            rejected=parsed.rejected,
            flagged=parsed.flagged,
            batches=refs,
            watched=bool(accepted) and device.box_id in watched,
        )
        for device, parsed, accepted, duplicates, refs in pending
    ]


def _fresh(
    seen: set[int], times: list[int], readings: Sequence[Reading]
) -> tuple[list[int], list[Reading]]:
    """Times (µs) and readings not stored yet (first of a time wins); `seen` gains them."""
    if not seen and len(set(times)) == len(times):
        seen.update(times)
        return times, list(readings)
    fresh_times, fresh = [], []
    for reading, at in zip(readings, times, strict=True):
        if at not in seen:
            seen.add(at)
            fresh_times.append(at)
            fresh.append(reading)
    return fresh_times, fresh


def _anchor(
    session: Session, chunks: list[tuple[Device, list[int], list[Reading]]], channel: str
) -> tuple[list[BatchRef], list[store.Row]]:
    """One ledger batch entry per chunk (appended together), and the rows citing them."""
    if not chunks:
        return [], []
    batches = []
    for device, times, readings in chunks:
        payload = {
            "device_id": device.device_id,
            "channel": channel,
            "first": rfc3339_micros(min(times)),
            "last": rfc3339_micros(max(times)),
            "clock_skew": sum(1 for r in readings if r.flags),
        }
        event = ledger.Event(
            READINGS_ENTRY, payload, actor=f"device:{device.id}", subject={"device": device.id}
        )
        records = batch_records(device.device_id, times, [r.celsius for r in readings])
        batches.append((event, records))
    entries = ledger.append_batches(session, batches)  # one ledger write for them all
    refs, rows = [], []
    for (device, times, readings), entry in zip(chunks, entries, strict=True):
        index, pk = entry.index, device.id or 0
        rows += [
            (at, r.celsius, index, pk, pos, FLAG_CLOCK_SKEW if r.flags else 0)
            for pos, (at, r) in enumerate(zip(times, readings, strict=True))
        ]
        root = entry.envelope()["payload"][BATCH_FIELD]["root"]
        refs.append(BatchRef(ledger_index=index, root=root, size=len(times)))
    return refs, rows


# --------------------------------------------------------------------------- EPCIS


class SensorReportLike(Protocol):
    """What an EPCIS sensorReport looks like once parsed (trace.epcis.SensorReport fits)."""

    type: str
    value: float | None
    mean_value: float | None
    uom: str | None
    time: datetime | None
    device_id: str | None


@dataclass(frozen=True, slots=True)
class EpcisIngest:
    """Per-device results of an EPCIS import, and the reports that could not be used."""

    results: tuple[IngestResult, ...]
    rejected: tuple[Rejection, ...] = field(default=())
    skipped: int = 0  # reports that are not temperatures


def ingest_epcis_reports(
    *,
    session: Session,
    reports: Iterable[SensorReportLike],
    device_id: str | None = None,
    box_id: str | None = None,
    now: datetime | None = None,
) -> EpcisIngest:
    """Store the Temperature reports of EPCIS ``sensorElementList``s that came with a merchant
    upload (trace module); commits, so call it after the import's own commit.

    Each report's device is ``device_id`` if given, else the report's ``deviceID`` when it is
    a registered device, else the device bound to ``box_id`` at the report's time. A report's
    ``value`` (else its ``meanValue``) in °C (``uom`` CEL: trace converts) at its ``time`` is
    validated like any reading (physical limits, clock skew); a report with no usable value,
    time or device is rejected with its index in ``reports``. Non-temperature reports are
    skipped. Duplicates of stored readings (same device and time) are idempotent.
    """
    now = now or utcnow()
    rejected: list[Rejection] = []
    items: dict[int, tuple[Device, list[tuple[int, dict[str, object]]]]] = {}
    skipped = 0
    devices = _DeviceCache(session)
    for index, report in enumerate(reports):
        if report.type != "Temperature":
            skipped += 1
            continue
        value = report.value if report.value is not None else report.mean_value
        if value is None or report.time is None or (report.uom or "CEL") != "CEL":
            reason = "no value, time or °C unit in the report"
            rejected.append(Rejection(index, None, "unusable_report", reason))
            continue
        device = devices.resolve(device_id or report.device_id, box_id, report.time)
        if device is None:
            reason = "no registered, unrevoked device for this report (device id or box)"
            rejected.append(Rejection(index, "deviceID", "unknown_device", reason))
            continue
        item: dict[str, object] = {"time": report.time.isoformat(), "value": value, "unit": "CEL"}
        items.setdefault(device.id or 0, (device, []))[1].append((index, item))
    batches = []
    for device, pairs in items.values():
        parsed = parse_json_readings([item for _, item in pairs], now=now, max_readings=len(pairs))
        original = [index for index, _ in pairs]  # report back indexes into `reports`
        rejected += [
            Rejection(original[r.index], r.field, r.reason, r.message) for r in parsed.rejected
        ]
        batches.append((device, parsed))
    results = ingest_many(session=session, batches=batches, channel="epcis") if batches else []
    return EpcisIngest(results=tuple(results), rejected=tuple(rejected), skipped=skipped)


class _DeviceCache:
    """Device lookups of one import: by public id, or by the box binding at a time."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.by_id: dict[str, Device | None] = {}

    def resolve(self, device_id: str | None, box_id: str | None, at: datetime) -> Device | None:
        if device_id is not None:
            if device_id not in self.by_id:
                stmt = select(Device).where(Device.device_id == device_id)
                self.by_id[device_id] = self.session.exec(stmt).first()
            device = self.by_id[device_id]
            if device is not None and device.revoked_at is None:
                return device
        if box_id is None:
            return None
        from sensors.coldchain import device_in_box  # late: coldchain imports this module

        device = device_in_box(session=self.session, box_id=box_id, at=at)
        return device if device is not None and device.revoked_at is None else None
