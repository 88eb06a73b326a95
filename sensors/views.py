"""Sensors on the web: readings API for devices, live alerts, box timelines, device admin."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import BaseModel, Field

from accounts.models import Role
from app import enqueue
from columns import utcnow
from evidence import service as evidence
from sensors import coldchain, ingest, proofs, service, tasks
from sensors.chart import ChartLabels, timeline_svg
from sensors.models import DEVICE_KINDS, Alert
from sensors.profiles import FOOD_CLASSES, get_profile
from sensors.public import device_json, verdict_summary
from sensors.readings import (
    BatchError,
    ParsedBatch,
    TooManyReadings,
    parse_csv_readings,
    parse_json_readings,
)
from sensors.rules import InvalidDeliveryWindow, UnknownFoodClass
from web.api import ApiModel, api_blueprint
from web.auth import current_user, roles_required
from web.db import get_session
from web.errors import ApiError, register_error
from web.i18n import N_

# Links this domain adds to each role's home page (collected by web.factory).
HOME_LINKS = {
    "admin": [
        (N_("Sensor devices"), "/sensors/devices"),
        (N_("Cold-chain alerts"), "/sensors/alerts"),
    ],
    "desk": [(N_("Cold-chain alerts"), "/sensors/alerts")],
    "merchant": [(N_("Cold-chain alerts"), "/sensors/alerts")],
}

bp = Blueprint(
    "sensors",
    __name__,
    url_prefix="/sensors",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
api = api_blueprint(
    "sensors_api", __name__, tag="sensors", description="Temperature readings, alerts, devices"
)
STAFF = (Role.ADMIN, Role.DESK)


def N_(message: str) -> str:
    """Marks a string for extraction; translated where it is shown."""
    return message


CLASS_LABELS = {
    "hot": N_("Hot food"),
    "cold": N_("Chilled food"),
    "frozen": N_("Frozen food"),
    "ambient": N_("Ambient food"),
}
VERDICT_LABELS = {
    "pass": N_("Pass"),
    "fail": N_("Fail"),
    "insufficient_data": N_("Insufficient data"),
}


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"class_labels": CLASS_LABELS, "verdict_labels": VERDICT_LABELS}


def _settings() -> Any:
    return current_app.extensions["foodtrace"].settings


def _tz() -> ZoneInfo:
    return ZoneInfo(_settings().timezone)


# --------------------------------------------------------------------------- readings API


class BatchOut(BaseModel):
    ledger_index: int
    root: str
    size: int


class IngestOut(BaseModel):
    device_id: str
    accepted: int
    duplicates: int
    rejected: list[dict[str, Any]]
    flagged: list[dict[str, Any]]
    batch: BatchOut | None


def _parse_body(now: datetime) -> ParsedBatch:
    """The request body as a batch: a JSON array or CSV (time,value,unit)."""
    mimetype = request.mimetype
    if mimetype == "application/json":
        return parse_json_readings(request.get_json(silent=True), now=now)
    if mimetype == "text/csv":
        try:
            text = request.get_data().decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "malformed_csv", "the CSV body is not UTF-8") from None
        return parse_csv_readings(text, now=now)
    raise ApiError(415, "unsupported_media_type", "send application/json or text/csv")


@api.post(
    "/sensors/readings",
    responses={200: IngestOut, 201: IngestOut, 413: None, 415: None},
    summary="Post a batch of temperature readings (device tokens)",
    description=(
        "Body: a JSON array of `{time, value, unit}` (RFC 3339 time with offset, unit `CEL` or "
        "`FAH`) or `text/csv` with the header `time,value,unit`; at most 10,000 readings. Good "
        "readings are stored and anchored in one ledger batch entry; bad ones are listed in "
        "`rejected` by index (array position, or CSV line number). Readings already stored "
        "(same device and time) count as `duplicates`. 201 when something new was stored."
    ),
)
@roles_required(Role.DEVICE)
def post_readings():  # type: ignore[no-untyped-def]
    user = current_user()
    assert user is not None and user.id is not None
    session = get_session()
    device = service.device_for_user(session=session, user_id=user.id)
    parsed = _parse_body(utcnow())
    if not parsed.accepted and not parsed.duplicates:
        if not parsed.rejected:
            raise ApiError(400, "empty_batch", "the batch holds no readings")
        raise ApiError(400, "invalid_readings", _describe(parsed), _rejections(parsed))
    result = ingest.ingest(session=session, device=device, parsed=parsed, channel="http")
    if result.watched:
        enqueue(tasks.evaluate_alerts, result.device)
    batch = result.batches[0] if result.batches else None
    out = {
        "device_id": device.device_id,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": _rejections(parsed),
        "flagged": [
            {"index": n.index, "code": n.code, "message": n.message} for n in parsed.flagged
        ],
        "batch": None
        if batch is None
        else {"ledger_index": batch.ledger_index, "root": batch.root, "size": batch.size},
    }
    return out, 201 if result.accepted else 200


def _rejections(parsed: ParsedBatch) -> list[dict[str, Any]]:
    return [
        {"index": r.index, "field": r.field, "reason": r.reason, "message": r.message}
        for r in parsed.rejected
    ]


def _describe(parsed: ParsedBatch) -> str:
    first = parsed.rejected[0]
    more = f" (and {len(parsed.rejected) - 1} more)" if len(parsed.rejected) > 1 else ""
    return f"no valid reading: reading {first.index}: {first.message}{more}"


class ReadingPath(BaseModel):
    reading_id: int = Field(ge=1)


@api.get(
    "/sensors/readings/<int:reading_id>/proof",
    summary="Proof bundle of one reading (reading -> batch root -> signed log)",
)
@roles_required(*STAFF)
def reading_proof(path: ReadingPath):  # type: ignore[no-untyped-def]
    key = current_app.extensions["foodtrace"].extras["ledger_key"]
    session = get_session()
    return proofs.reading_bundle(
        session=session,
        reading_id=path.reading_id,
        signer=key.signer(),
        sign=lambda: evidence.sign_checkpoint(session=session, key=key),
    )


# --------------------------------------------------------------------------- alerts


def _alert_json(alert: Alert) -> dict[str, Any]:
    tz = _tz()
    return {
        "id": alert.id,
        "delivery_id": alert.delivery_id,
        "merchant_id": alert.merchant_id,
        "box_id": alert.box_id,
        "food_class": alert.food_class,
        "food_class_label": _(CLASS_LABELS.get(alert.food_class, alert.food_class)),
        "profile": alert.profile,
        "excursion_start": alert.excursion_start.isoformat(),
        "excursion_start_local": alert.excursion_start.astimezone(tz).strftime("%m-%d %H:%M"),
        "peak_c": alert.peak_c,
        "raised_at": alert.raised_at.isoformat(),
        "raised_at_local": alert.raised_at.astimezone(tz).strftime("%m-%d %H:%M:%S"),
        "ledger_index": alert.ledger_index,
        "url": url_for("sensors.delivery_page", delivery_id=alert.delivery_id),
    }


def _visible_alerts() -> list[Alert]:
    user = current_user()
    assert user is not None
    mine = user.merchant_id if user.role == Role.MERCHANT else None
    if user.role == Role.MERCHANT and mine is None:
        return []
    return list(coldchain.recent_alerts(session=get_session(), merchant_id=mine))


@api.get("/sensors/alerts", summary="Newest cold-chain alerts (merchants: their own only)")
@roles_required(*STAFF, Role.MERCHANT)
def alerts_json():  # type: ignore[no-untyped-def]
    alerts = [_alert_json(a) for a in _visible_alerts()]
    return {"alerts": alerts, "generated_at": utcnow().isoformat()}


@bp.get("/alerts")
@roles_required(*STAFF, Role.MERCHANT)
def alerts_page():  # type: ignore[no-untyped-def]
    alerts = [_alert_json(a) for a in _visible_alerts()]
    return render_template("sensors/alerts.html", alerts=alerts)


# --------------------------------------------------------------------------- timelines


def _when(name: str, default: datetime) -> datetime:
    """A query time: RFC 3339, or a local `YYYY-MM-DDTHH:MM` (the deployment's time zone)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "bad_time", _("%(name)s is not a date and time", name=name)) from None
    return moment.replace(tzinfo=_tz()) if moment.tzinfo is None else moment


def _timeline(
    box_id: str, start: datetime, end: datetime | None, food_class: str
) -> dict[str, Any]:
    session = get_session()
    profile = get_profile(_settings().cold_chain_profile)
    now = utcnow()
    verdict = coldchain.judge_window(
        session=session,
        box_id=box_id,
        pickup_at=start,
        dropoff_at=end,
        food_class=food_class,
        profile=profile,
        now=now,
    )
    points = coldchain.box_readings(
        session=session, box_id=box_id, start=start, end=verdict.window_end
    )
    labels = ChartLabels(
        title=_("Temperature in box %(box)s", box=box_id),
        excursion=_("excursion"),
        gap=_("no data"),
        no_readings=_("no readings in this window"),
    )
    svg = timeline_svg(
        points,
        start=start,
        end=verdict.window_end,
        safe=profile.rule(food_class).safe,
        excursions=verdict.excursions,
        gaps=verdict.gaps,
        tz=_tz(),
        labels=labels,
    )
    return {"svg": svg, "verdict": verdict, "profile": profile, "tz": _tz()}


@bp.get("/boxes/<box_id>")
@roles_required(*STAFF)
def box_page(box_id: str):  # type: ignore[no-untyped-def]
    service.check_id(box_id, "box_id")
    end = _when("to", utcnow())
    start = _when("from", end - timedelta(hours=2))
    food_class = request.args.get("class", "hot")
    if food_class not in FOOD_CLASSES or end <= start or end - start > timedelta(days=7):
        raise ApiError(400, "bad_window", _("Choose a food class and a window of up to 7 days."))
    view = _timeline(box_id, start, end, food_class)
    tz = view["tz"]
    return render_template(
        "sensors/box.html",
        box_id=box_id,
        food_class=food_class,
        classes=FOOD_CLASSES,
        start_local=start.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        end_local=end.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        watch=None,
        **view,
    )


@bp.get("/deliveries/<int:delivery_id>")
@roles_required(*STAFF, Role.MERCHANT)
def delivery_page(delivery_id: int):  # type: ignore[no-untyped-def]
    watch = coldchain.get_watch(session=get_session(), delivery_id=delivery_id)
    user = current_user()
    assert user is not None
    if user.role == Role.MERCHANT and watch.merchant_id != user.merchant_id:
        raise ApiError(403, "forbidden", _("This delivery belongs to another merchant."))
    view = _timeline(watch.box_id, watch.pickup_at, watch.dropoff_at, watch.food_class)
    return render_template(
        "sensors/box.html",
        box_id=watch.box_id,
        food_class=watch.food_class,
        classes=FOOD_CLASSES,
        watch=watch,
        **view,
    )


class VerdictQuery(BaseModel):
    start: datetime = Field(alias="from", description="RFC 3339 pickup time")
    end: datetime | None = Field(default=None, alias="to", description="drop-off; none: now")
    food_class: str = Field(default="hot", description="hot, cold, frozen or ambient")


class BoxPath(BaseModel):
    box_id: str = Field(pattern=service.ID_PATTERN.pattern, max_length=64)


@api.get("/sensors/boxes/<box_id>/verdict", summary="Cold-chain verdict of a box over a window")
@roles_required(*STAFF)
def box_verdict(path: BoxPath, query: VerdictQuery):  # type: ignore[no-untyped-def]
    if query.start.tzinfo is None or (query.end is not None and query.end.tzinfo is None):
        raise ApiError(422, "naive_time", "from and to need a UTC offset")
    verdict = coldchain.judge_window(
        session=get_session(),
        box_id=path.box_id,
        pickup_at=query.start,
        dropoff_at=query.end,
        food_class=query.food_class,
        profile=_settings().cold_chain_profile,
    )
    return verdict_summary(verdict)


# --------------------------------------------------------------------------- devices


class DeviceCreate(ApiModel):
    device_id: str = Field(max_length=64)
    kind: str = Field(default="probe", max_length=32)
    box_id: str | None = Field(default=None, max_length=64)
    calibrated_on: date | None = None


class BindBody(ApiModel):
    box_id: str = Field(max_length=64)


class DevicePath(BaseModel):
    device_id: str = Field(max_length=64)


def _actor() -> str:
    user = current_user()
    return f"user:{user.id}" if user is not None else "system"


@api.get("/sensors/devices", summary="Registered sensor devices (administrators)")
@roles_required(Role.ADMIN)
def devices_json():  # type: ignore[no-untyped-def]
    return {"devices": [device_json(d) for d in service.list_devices(session=get_session())]}


@api.post("/sensors/devices", summary="Register a sensor device; answers its token once")
@roles_required(Role.ADMIN)
def create_device(body: DeviceCreate):  # type: ignore[no-untyped-def]
    created = service.register_device(
        session=get_session(),
        device_id=body.device_id,
        kind=body.kind,
        box_id=body.box_id,
        calibrated_on=body.calibrated_on,
        actor=_actor(),
    )
    return {**device_json(created.device), "token": created.token}, 201


@api.post("/sensors/devices/<device_id>/revoke", summary="Revoke a device (administrators)")
@roles_required(Role.ADMIN)
def revoke_device(path: DevicePath):  # type: ignore[no-untyped-def]
    device = service.revoke_device(session=get_session(), device_id=path.device_id, actor=_actor())
    return device_json(device)


@api.post("/sensors/devices/<device_id>/bind", summary="Put a device in a delivery box")
@roles_required(Role.ADMIN)
def bind_device(path: DevicePath, body: BindBody):  # type: ignore[no-untyped-def]
    device = service.bind_device(
        session=get_session(), device_id=path.device_id, box_id=body.box_id, actor=_actor()
    )
    return device_json(device)


@bp.get("/devices")
@roles_required(Role.ADMIN)
def devices_page():  # type: ignore[no-untyped-def]
    devices = service.list_devices(session=get_session())
    return render_template(
        "sensors/devices.html", devices=devices, kinds=DEVICE_KINDS, created=None
    )


@bp.post("/devices")
@roles_required(Role.ADMIN)
def register_page():  # type: ignore[no-untyped-def]
    form = request.form
    session = get_session()
    try:
        calibrated = form.get("calibrated_on", "").strip()
        created = service.register_device(
            session=session,
            device_id=form.get("device_id", "").strip(),
            kind=form.get("kind", "probe"),
            box_id=form.get("box_id", "").strip() or None,
            calibrated_on=date.fromisoformat(calibrated) if calibrated else None,
            actor=_actor(),
        )
    except (service.DeviceError, ValueError) as exc:
        session.rollback()
        devices = service.list_devices(session=session)
        html = render_template(
            "sensors/devices.html",
            devices=devices,
            kinds=DEVICE_KINDS,
            created=None,
            error=str(exc),
        )
        return html, 422
    devices = service.list_devices(session=session)
    return render_template(
        "sensors/devices.html", devices=devices, kinds=DEVICE_KINDS, created=created
    )


@bp.post("/devices/<device_id>/revoke")
@roles_required(Role.ADMIN)
def revoke_page(device_id: str):  # type: ignore[no-untyped-def]
    service.revoke_device(session=get_session(), device_id=device_id, actor=_actor())
    flash(_("Device %(id)s revoked.", id=device_id))
    return redirect(url_for("sensors.devices_page"))


@bp.post("/devices/<device_id>/bind")
@roles_required(Role.ADMIN)
def bind_page(device_id: str):  # type: ignore[no-untyped-def]
    box_id = request.form.get("box_id", "").strip()
    service.bind_device(session=get_session(), device_id=device_id, box_id=box_id, actor=_actor())
    flash(_("Device %(id)s is now in box %(box)s.", id=device_id, box=box_id))
    return redirect(url_for("sensors.devices_page"))


def init_app(app: Flask) -> None:
    register_error(TooManyReadings, 413, "too_many_readings")
    register_error(BatchError, 400, "malformed_batch")
    register_error(service.DeviceForbidden, 403, "device_forbidden")
    register_error(service.DeviceConflict, 409, "device_conflict")
    register_error(service.DeviceError, 422, "invalid_device")
    register_error(service.DeviceNotFound, 404, "not_found")
    register_error(coldchain.WatchNotFound, 404, "not_found")
    register_error(coldchain.WatchConflict, 409, "watch_conflict")
    register_error(coldchain.WatchError, 422, "invalid_watch")
    register_error(proofs.ReadingNotFound, 404, "not_found")
    register_error(proofs.BatchMismatch, 409, "batch_mismatch")
    register_error(InvalidDeliveryWindow, 422, "invalid_window")
    register_error(UnknownFoodClass, 422, "unknown_food_class")
    app.register_blueprint(bp)
    app.register_api(api)  # type: ignore[attr-defined]
