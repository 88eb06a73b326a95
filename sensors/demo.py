"""Demo data: three sensors in delivery boxes with a day of per-minute readings (idempotent).

BOX-001 carries hot food and cools below 60 °C for a while in the afternoon; BOX-002 carries
chilled food, warms above 8 °C once and misses 12 minutes of readings; BOX-003 is ambient.
Readings go in through the ingest service like any device's, so they are anchored in the
ledger. A device that already has readings is left alone, so seeding twice adds nothing.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlmodel import Session, select

from columns import utcnow
from sensors import ingest, service
from sensors.models import Device, Reading
from sensors.readings import parse_json_readings

DAY_MINUTES = 24 * 60


def _hot(minute: int, rng: random.Random) -> float | None:
    if 600 <= minute < 628:  # the lid left open ten hours in: down to about 52 °C
        return 52.0 + 8 * abs(minute - 614) / 14 + rng.uniform(-0.3, 0.3)
    if 1300 <= minute < 1312:  # a second, shorter dip
        return 57.5 + rng.uniform(-0.5, 0.5)
    return 66.0 + 2.5 * math.sin(minute / 45) + rng.uniform(-0.4, 0.4)


def _cold(minute: int, rng: random.Random) -> float | None:
    if 900 <= minute < 912:  # the probe's radio dropped out: a data gap
        return None
    if 1100 <= minute < 1118:  # left in the sun at a drop-off point
        return 8.5 + 3 * math.sin(math.pi * (minute - 1100) / 18) + rng.uniform(-0.2, 0.2)
    return 4.0 + 1.2 * math.sin(minute / 60) + rng.uniform(-0.3, 0.3)


def _ambient(minute: int, rng: random.Random) -> float | None:
    return 22.0 + 3 * math.sin(minute / 240) + rng.uniform(-0.5, 0.5)


DEMO_DEVICES: tuple[tuple[str, str, str, Callable[[int, random.Random], float | None]], ...] = (
    ("demo-probe-1", "BOX-001", "probe", _hot),
    ("demo-probe-2", "BOX-002", "probe", _cold),
    ("demo-logger-3", "BOX-003", "logger", _ambient),
)


def seed(*, session: Session, now: datetime | None = None) -> None:
    """Register the demo devices and their last day of readings, unless already there."""
    now = (now or utcnow()).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=DAY_MINUTES)
    for device_id, box_id, kind, curve in DEMO_DEVICES:
        device = session.exec(select(Device).where(Device.device_id == device_id)).first()
        if device is None:
            device = service.register_device(
                session=session,
                device_id=device_id,
                kind=kind,
                box_id=box_id,
                calibrated_on=date(now.year, 1, 15),
                actor="demo",
                now=start - timedelta(hours=1),
            ).device
        if session.exec(select(Reading.id).where(Reading.device == device.id)).first():
            continue
        rng = random.Random(device_id)  # noqa: S311 (demo noise: the same curve every time)
        items = []
        for minute in range(DAY_MINUTES):
            value = curve(minute, rng)
            if value is not None:
                moment = start + timedelta(minutes=minute)
                items.append({"time": moment.isoformat(), "value": round(value, 2), "unit": "CEL"})
        parsed = parse_json_readings(items, now=now)
        ingest.ingest(session=session, device=device, parsed=parsed, channel="demo")
