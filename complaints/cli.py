"""`flask --app app complaints check-slas`: raise due SLA warnings and escalations now.
`flask --app app complaints roll-up-exposures`: roll up every settled day due (after a bulk
load or restoring a backup; the periodic task does a bounded number per run)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import engine_of, session_scope
from complaints import deadlines, exposure_rollups

complaints_cli = AppGroup("complaints", help="The complaint desk.")


@complaints_cli.command("check-slas")
def check_slas() -> None:
    """Raise the SLA warnings and escalations now due (what Celery beat runs every minute)."""
    with session_scope(engine_of(current_app)) as session:
        raised = deadlines.check_slas(session=session)
    for n in raised:
        click.echo(f"{n.kind}: case {n.case_id} {n.target} due {n.due_at.isoformat()}")
    click.echo(f"{len(raised)} raised")


@complaints_cli.command("roll-up-exposures")
@click.option("--now", type=click.DateTime(), default=None, help="UTC; default: now.")
@click.option("--horizon-hours", type=float, default=None, help="Default: the app's setting.")
def roll_up_exposures(now: datetime | None, horizon_hours: float | None) -> None:
    """Roll up every settled day whose exposures are missing or changed (source ranking)."""
    horizon = (
        exposure_rollups.horizon_from(current_app.config)
        if horizon_hours is None
        else timedelta(hours=horizon_hours)
    )
    with session_scope(engine_of(current_app)) as session:
        days = exposure_rollups.roll_up(
            session=session,
            now=now.replace(tzinfo=UTC) if now is not None else None,
            horizon=horizon,
            max_days=None,
        )
    for day in days:
        click.echo(f"rolled up {day.isoformat()}")
    click.echo(f"{len(days)} days rolled up")


def init_app(app: Flask) -> None:
    app.cli.add_command(complaints_cli)
