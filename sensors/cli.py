"""`flask --app app sensors ...`: register, bind and revoke devices; run the MQTT subscriber."""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from datetime import date, timedelta
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import engine_of, enqueue, session_scope
from sensors import proofs, service, tasks, verdicts
from sensors.ingest import IngestResult
from sensors.models import DEVICE_KINDS
from sensors.public import device_json

sensors_cli = AppGroup("sensors", help="Sensor devices, readings and the MQTT subscriber.")


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@sensors_cli.command("register")
@click.argument("device_id")
@click.option("--box", "box_id", default=None, help="the delivery box it sits in")
@click.option("--kind", default="probe", type=click.Choice(DEVICE_KINDS), show_default=True)
@click.option("--calibrated", default=None, help="calibration date, YYYY-MM-DD")
def register(device_id: str, box_id: str | None, kind: str, calibrated: str | None) -> None:
    """Register a device; prints JSON with its API token (shown only this once)."""
    try:
        calibrated_on = date.fromisoformat(calibrated) if calibrated else None
    except ValueError as exc:
        raise click.BadParameter(
            f"{calibrated!r} is not YYYY-MM-DD", param_hint="--calibrated"
        ) from exc
    with session_scope(engine_of(current_app)) as session:
        try:
            created = service.register_device(
                session=session,
                device_id=device_id,
                kind=kind,
                box_id=box_id,
                calibrated_on=calibrated_on,
                actor="cli",
            )
        except (service.DeviceError, ValueError) as exc:
            raise _fail(exc) from exc
        click.echo(json.dumps({**device_json(created.device), "token": created.token}))


@sensors_cli.command("bind")
@click.argument("device_id")
@click.argument("box_id")
def bind(device_id: str, box_id: str) -> None:
    """Put a device in a delivery box (from now on)."""
    with session_scope(engine_of(current_app)) as session:
        try:
            device = service.bind_device(
                session=session, device_id=device_id, box_id=box_id, actor="cli"
            )
        except (service.DeviceError, service.DeviceNotFound) as exc:
            raise _fail(exc) from exc
        click.echo(json.dumps(device_json(device)))


@sensors_cli.command("unbind")
@click.argument("device_id")
def unbind(device_id: str) -> None:
    """Take a device out of its box."""
    with session_scope(engine_of(current_app)) as session:
        try:
            device = service.unbind_device(session=session, device_id=device_id, actor="cli")
        except service.DeviceNotFound as exc:
            raise _fail(exc) from exc
        click.echo(json.dumps(device_json(device)))


@sensors_cli.command("revoke")
@click.argument("device_id")
def revoke(device_id: str) -> None:
    """Revoke a device: its readings are refused from now on."""
    with session_scope(engine_of(current_app)) as session:
        try:
            device = service.revoke_device(session=session, device_id=device_id, actor="cli")
        except (service.DeviceError, service.DeviceNotFound) as exc:
            raise _fail(exc) from exc
        click.echo(json.dumps(device_json(device)))


@sensors_cli.command("list")
def list_devices() -> None:
    """Print every device as one JSON object a line."""
    with session_scope(engine_of(current_app)) as session:
        for device in service.list_devices(session=session, limit=100_000):
            click.echo(json.dumps(device_json(device)))


@sensors_cli.command("verify-readings")
def verify_readings() -> None:
    """Rebuild every readings batch from the stored rows and check it against its ledger
    entry's root; exit 1 naming the first difference."""
    with session_scope(engine_of(current_app)) as session:
        check = proofs.verify_batches(session=session)
    if not check.ok:
        click.echo(f"TAMPERED: {check.problem}", err=True)
        sys.exit(1)
    click.echo(f"OK: {check.readings} readings in {check.batches} batches match their roots")


@sensors_cli.command("mqtt")
@click.option("--url", default=None, help="broker URL (default: MQTT_URL setting)")
@click.option("--client-id", default="foodtrace-ingest", show_default=True)
@click.option("--flush-ms", default=50, show_default=True, help="longest wait to fill a flush")
@click.option(
    "--share-group",
    default=None,
    help="subscribe through $share/GROUP/... so several subscribers split the stream",
)
def mqtt(url: str | None, client_id: str, flush_ms: int, share_group: str | None) -> None:
    """Subscribe to foodtrace/sensors/+/readings and store readings until stopped."""
    from sensors.mqtt import BrokerAddress, MqttRunner, ReadingSubscriber

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = current_app.extensions["foodtrace"].settings

    def alert(result: IngestResult) -> None:
        if result.watched:
            enqueue(tasks.evaluate_alerts, result.device)

    subscriber = ReadingSubscriber(engine=engine_of(current_app), on_stored=alert)
    try:
        address = BrokerAddress.parse(url or settings.mqtt_url)
    except ValueError as exc:
        raise _fail(exc) from exc
    try:
        runner = MqttRunner(
            subscriber,
            address,
            client_id=client_id,
            flush_wait=flush_ms / 1000,
            share_group=share_group,
        )
    except ValueError as exc:
        raise _fail(exc) from exc

    def stop(_signum: int, _frame: Any) -> None:
        runner.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        runner.start()
    except OSError as exc:
        raise click.ClickException(
            f"cannot reach the MQTT broker at {address.host}:{address.port}: {exc}"
        ) from exc
    click.echo(f"listening on {address.host}:{address.port} (Ctrl-C stops)", err=True)
    runner.run()
    click.echo(f"stopped after {runner.stored} message(s)", err=True)


@sensors_cli.command("judge-finished")
@click.option(
    "--settle-minutes",
    default=verdicts.SETTLE.total_seconds() / 60,
    show_default=True,
    help="judge deliveries dropped off at least this long ago (not less than the default)",
)
def judge_finished(settle_minutes: float) -> None:
    """Store the verdict of every finished delivery that has none (or a stale one), for every
    profile: after a restore, a generated semester, or a long outage of the task."""
    started = time.perf_counter()
    with session_scope(engine_of(current_app)) as session:
        try:
            written = verdicts.judge_finished(
                session=session,
                settle=timedelta(minutes=settle_minutes),
                lookback=None,
                limit=None,
            )
        except ValueError as exc:
            raise _fail(exc) from exc
    seconds = time.perf_counter() - started
    click.echo(f"stored {written} verdicts in {seconds:.1f} s")


def init_app(app: Flask) -> None:
    app.cli.add_command(sensors_cli)
