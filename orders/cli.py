"""`flask --app app orders ...`: reconcile payments, erase expired personal data, set the
simulated gateway's mode."""

from __future__ import annotations

import json
from dataclasses import asdict

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import engine_of, session_scope
from orders import service
from orders.gateway_sim import GatewayModeError
from orders.payments import GATEWAY_MODES
from orders.rules import OrdersConfig

orders_cli = AppGroup("orders", help="Ordering: payments, retention, the simulated gateway.")


def _config() -> OrdersConfig:
    return OrdersConfig.from_mapping(current_app.config)


@orders_cli.command("reconcile")
def reconcile() -> None:
    """Retry deferred charges and pending refunds that are due now; prints what happened."""
    engine = engine_of(current_app)
    gateway = service.gateway_for(
        engine, current_app.config.get("ORDERS_PAYMENT_GATEWAY", "simulated")
    )
    with session_scope(engine) as session:
        report = service.reconcile_payments(session=session, gateway=gateway, config=_config())
    click.echo(json.dumps(asdict(report)))


@orders_cli.command("erase-expired")
@click.option("--days", type=int, default=None, help="retention in days (default: configured)")
def erase_expired(days: int | None) -> None:
    """Erase address, phone and note of orders older than the retention period (never the
    orders themselves)."""
    retention = days if days is not None else _config().retention_days
    if retention < 1:
        raise click.BadParameter("at least 1 day", param_hint="--days")
    total = 0
    with session_scope(engine_of(current_app)) as session:
        while done := service.erase_expired_personal_data(
            session=session, retention_days=retention
        ):
            total += done
    click.echo(f"erased personal data of {total} orders older than {retention} days")


@orders_cli.command("gateway")
@click.argument("mode", type=click.Choice(GATEWAY_MODES))
@click.option("--latency-ms", type=int, default=0, show_default=True)
@click.option("--failure-rate", type=float, default=1.0, show_default=True)
def gateway(mode: str, latency_ms: int, failure_rate: float) -> None:
    """Set the simulated payment gateway's mode (healthy, slow, failing, down)."""
    with session_scope(engine_of(current_app)) as session:
        try:
            state = service.set_gateway_mode(
                session=session,
                mode=mode,
                latency_ms=latency_ms,
                failure_rate=failure_rate,
                actor="cli",
            )
        except GatewayModeError as exc:
            raise click.BadParameter(str(exc)) from exc
    click.echo(json.dumps(asdict(state)))


def init_app(app: Flask) -> None:
    app.cli.add_command(orders_cli)
