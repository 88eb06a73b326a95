"""Sensor devices: register, bind to a delivery box, revoke; each change is a ledger entry.

Readings come in through sensors.ingest, the cold chain of deliveries is sensors.coldchain;
this module is what the CLI, the admin page and the API call to manage devices.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

import ledger
from accounts import service as accounts
from columns import utcnow
from sensors.models import DEVICE_KINDS, Binding, Device

# Device and box ids go into MQTT topics and e-mail local parts: no '/', '+', '#' or spaces.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
DEVICE_EMAIL_DOMAIN = "devices.foodtrace.invalid"  # RFC 2606: never a real mailbox


class DeviceError(ValueError):
    """A device request that cannot be carried out; the message says why."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DeviceConflict(DeviceError):
    """The device already exists, or is revoked and cannot change any more."""


class DeviceNotFound(LookupError):
    """No device with that id."""


class DeviceForbidden(ValueError):
    """The caller's device is revoked, or its token belongs to no registered device."""

    def __init__(self, message: str, *, device_id: str | None = None) -> None:
        super().__init__(message)
        self.device_id = device_id


@dataclass(frozen=True, slots=True)
class NewDevice:
    """A registered device and its API token (shown once, stored only hashed)."""

    device: Device
    token: str


def check_id(value: str, what: str) -> str:
    """A device or box id as given, or DeviceError naming the field."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise DeviceError(
            f"{what} {value!r} must be 1-64 letters, digits, '.', '_', ':' or '-'", field=what
        )
    return value


def get_device(*, session: Session, device_id: str) -> Device:
    """The device with this public id; raises DeviceNotFound."""
    device = session.exec(select(Device).where(Device.device_id == device_id)).first()
    if device is None:
        raise DeviceNotFound(f"no device {device_id!r}")
    return device


def device_for_user(*, session: Session, user_id: int) -> Device:
    """The unrevoked device a `device`-role user speaks for; raises DeviceForbidden."""
    device = session.exec(select(Device).where(Device.user_id == user_id)).first()
    if device is None:
        raise DeviceForbidden("this token belongs to no registered sensor device")
    if device.revoked_at is not None:
        message = f"device {device.device_id} was revoked"
        raise DeviceForbidden(message, device_id=device.device_id)
    return device


def list_devices(*, session: Session, limit: int = 500) -> list[Device]:
    """Devices by id (the administrators' list)."""
    stmt = select(Device).order_by(col(Device.device_id)).limit(limit)
    return list(session.exec(stmt).all())


def register_device(
    *,
    session: Session,
    device_id: str,
    kind: str = "probe",
    box_id: str | None = None,
    calibrated_on: date | None = None,
    actor: str = "system",
    now: datetime | None = None,
) -> NewDevice:
    """Register a sensor with its own `device`-role account and token, bound to `box_id`.

    The account, the device row, its binding and their ledger entries commit together.
    """
    check_id(device_id, "device_id")
    if kind not in DEVICE_KINDS:
        raise DeviceError(f"kind must be one of {', '.join(DEVICE_KINDS)}", field="kind")
    if box_id is not None:
        check_id(box_id, "box_id")
    if calibrated_on is not None and not isinstance(calibrated_on, date):
        raise DeviceError("calibrated_on must be a date", field="calibrated_on")
    same = func.lower(Device.device_id) == device_id.lower()
    if session.exec(select(Device.id).where(same)).first() is not None:
        raise DeviceConflict(f"device {device_id!r} is already registered", field="device_id")
    created = accounts.create_user(
        session=session,
        email=f"{device_id.lower()}@{DEVICE_EMAIL_DOMAIN}",
        role="device",
        display_name=f"Sensor {device_id}",
        actor=actor,
        commit=False,
    )
    assert created.user.id is not None
    device = Device(
        device_id=device_id, kind=kind, calibrated_on=calibrated_on, user_id=created.user.id
    )
    session.add(device)
    session.flush()
    entry = ledger.append(
        session,
        ledger.Event(
            type="sensor.device_registered",
            actor=actor,
            subject={"device": device.id, "user": created.user.id},
            payload={
                "device_id": device_id,
                "kind": kind,
                "calibrated_on": calibrated_on,
                "user_id": created.user.id,
                "box_id": None,
                "revoked_at": None,
            },
        ),
    )
    device.ledger_index = entry.index
    if box_id is not None:
        _bind(session, device, box_id, now or utcnow(), actor)
    session.commit()
    return NewDevice(device=device, token=created.api_token)


def bind_device(
    *,
    session: Session,
    device_id: str,
    box_id: str,
    actor: str = "system",
    now: datetime | None = None,
) -> Device:
    """Put a device in a box from now on; a device already in that box leaves it."""
    check_id(box_id, "box_id")
    device = get_device(session=session, device_id=device_id)
    if device.revoked_at is not None:
        raise DeviceConflict(
            f"device {device_id} is revoked and cannot be bound", field="device_id"
        )
    if device.box_id == box_id:
        return device
    _bind(session, device, box_id, now or utcnow(), actor)
    session.commit()
    return device


def unbind_device(
    *, session: Session, device_id: str, actor: str = "system", now: datetime | None = None
) -> Device:
    """Take a device out of its box (its readings then belong to no delivery)."""
    device = get_device(session=session, device_id=device_id)
    if device.box_id is None:
        return device
    at = now or utcnow()
    _end_binding(session, device, at, actor)
    _set_box(session, device, None, actor, "sensor.device_unbound", {"box_id": None})
    session.commit()
    return device


def revoke_device(
    *, session: Session, device_id: str, actor: str = "system", now: datetime | None = None
) -> Device:
    """Revoke a device: its token is refused (403) and it leaves its box."""
    device = get_device(session=session, device_id=device_id)
    if device.revoked_at is not None:
        raise DeviceConflict(f"device {device_id} is already revoked", field="device_id")
    at = now or utcnow()
    if device.box_id is not None:
        _end_binding(session, device, at, actor)
    device.revoked_at = at
    payload = {"revoked_at": at, "box_id": None}
    _set_box(session, device, None, actor, "sensor.device_revoked", payload)
    session.commit()
    return device


def current_binding(session: Session, device: Device) -> Binding | None:
    """The device's open binding, if it sits in a box."""
    stmt = select(Binding).where(Binding.device == device.id, col(Binding.ended_at).is_(None))
    return session.exec(stmt).first()


def _bind(session: Session, device: Device, box_id: str, at: datetime, actor: str) -> None:
    """Rows and entries for binding: end the device's binding, evict the box's other device."""
    if device.box_id is not None:
        _end_binding(session, device, at, actor)
    others = select(Device).where(Device.box_id == box_id, Device.id != device.id)
    for other in session.exec(others).all():
        _end_binding(session, other, at, actor)
        _set_box(session, other, None, actor, "sensor.device_unbound", {"box_id": None})
    binding = Binding(device=device.id or 0, box_id=box_id, bound_at=at)
    session.add(binding)
    session.flush()
    payload = {"device": device.id, "box_id": box_id, "bound_at": at, "ended_at": None}
    subject = {"device": device.id, "binding": binding.id}
    entry = ledger.append(
        session, ledger.Event("sensor.device_bound", payload, actor=actor, subject=subject)
    )
    binding.ledger_index = entry.index
    device.box_id = box_id
    device.ledger_index = entry.index
    session.add_all([binding, device])


def _end_binding(session: Session, device: Device, at: datetime, actor: str) -> None:
    binding = current_binding(session, device)
    if binding is None:
        return
    binding.ended_at = at
    entry = ledger.append(
        session,
        ledger.Event(
            "sensor.binding_ended", {"ended_at": at}, actor=actor, subject={"binding": binding.id}
        ),
    )
    binding.ledger_index = entry.index
    session.add(binding)


def _set_box(
    session: Session,
    device: Device,
    box_id: str | None,
    actor: str,
    event_type: str,
    payload: Mapping[str, object],
) -> None:
    entry = ledger.append(
        session, ledger.Event(event_type, payload, actor=actor, subject={"device": device.id})
    )
    device.box_id = box_id
    device.ledger_index = entry.index
    session.add(device)
