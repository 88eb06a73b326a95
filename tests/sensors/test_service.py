"""Devices: registration with a device account, box bindings, revocation; each a ledger entry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

import ledger
from accounts import service as accounts
from accounts.models import User
from sensors import service
from sensors.models import Binding

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def envelope(session, index):
    return ledger.entry_at(session, index).envelope()


def test_registering_creates_a_device_account_whose_token_authenticates(session):
    made = service.register_device(
        session=session, device_id="Probe-1", kind="logger", calibrated_on=date(2025, 1, 15)
    )
    user = accounts.user_for_token(session=session, token=made.token)
    assert user is not None and user.id == made.device.user_id and user.role == "device"
    assert service.device_for_user(session=session, user_id=user.id).device_id == "Probe-1"
    body = envelope(session, made.device.ledger_index)
    assert body["type"] == "sensor.device_registered"
    assert body["payload"] == {
        "device_id": "Probe-1",
        "kind": "logger",
        "calibrated_on": "2025-01-15",
        "user_id": user.id,
        "box_id": None,
        "revoked_at": None,
    }


def test_device_ids_are_unique_ignoring_case(session):
    service.register_device(session=session, device_id="probe-1")
    with pytest.raises(service.DeviceConflict):
        service.register_device(session=session, device_id="PROBE-1")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"device_id": "has space"}, "device_id"),
        ({"device_id": "a/b"}, "device_id"),
        ({"device_id": "x" * 65}, "device_id"),
        ({"device_id": "p", "kind": "toaster"}, "kind"),
        ({"device_id": "p", "box_id": "BOX#1"}, "box_id"),
    ],
)
def test_bad_registrations_name_the_field(session, kwargs, field):
    with pytest.raises(service.DeviceError) as caught:
        service.register_device(session=session, **kwargs)
    assert caught.value.field == field
    assert session.exec(select(User).where(User.role == "device")).all() == []


def test_binding_history_records_every_move(session):
    service.register_device(session=session, device_id="p1", box_id="BOX-1", now=T0)
    service.bind_device(
        session=session, device_id="p1", box_id="BOX-2", now=T0 + timedelta(hours=1)
    )
    service.unbind_device(session=session, device_id="p1", now=T0 + timedelta(hours=2))
    rows = session.exec(select(Binding).order_by(Binding.id)).all()
    assert [(b.box_id, b.bound_at, b.ended_at) for b in rows] == [
        ("BOX-1", T0, T0 + timedelta(hours=1)),
        ("BOX-2", T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
    ]
    assert service.get_device(session=session, device_id="p1").box_id is None
    types = [envelope(session, b.ledger_index)["type"] for b in rows]
    assert types == ["sensor.binding_ended", "sensor.binding_ended"]


def test_binding_the_same_box_again_changes_nothing(session):
    made = service.register_device(session=session, device_id="p1", box_id="BOX-1", now=T0)
    size = ledger.tree_size(session)
    assert service.bind_device(session=session, device_id="p1", box_id="BOX-1").ledger_index == (
        made.device.ledger_index
    )
    assert ledger.tree_size(session) == size


def test_revoking_ends_the_binding_and_refuses_the_device(session):
    made = service.register_device(session=session, device_id="p1", box_id="BOX-1", now=T0)
    device = service.revoke_device(session=session, device_id="p1", now=T0 + timedelta(hours=3))
    assert (device.box_id, device.revoked_at) == (None, T0 + timedelta(hours=3))
    assert envelope(session, device.ledger_index)["payload"] == {
        "revoked_at": "2025-03-01T11:00:00.000000Z",
        "box_id": None,
    }
    with pytest.raises(service.DeviceForbidden):
        service.device_for_user(session=session, user_id=made.device.user_id)
    with pytest.raises(service.DeviceConflict):
        service.revoke_device(session=session, device_id="p1")
    with pytest.raises(service.DeviceConflict):
        service.bind_device(session=session, device_id="p1", box_id="BOX-2")


def test_unknown_devices_are_lookup_errors(session):
    with pytest.raises(service.DeviceNotFound):
        service.revoke_device(session=session, device_id="nope")
    with pytest.raises(service.DeviceForbidden):
        service.device_for_user(session=session, user_id=12345)
