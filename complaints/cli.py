"""`flask --app app complaints check-slas`: raise due SLA warnings and escalations now."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import engine_of, session_scope
from complaints import deadlines

complaints_cli = AppGroup("complaints", help="The complaint desk.")


@complaints_cli.command("check-slas")
def check_slas() -> None:
    """Raise the SLA warnings and escalations now due (what Celery beat runs every minute)."""
    with session_scope(engine_of(current_app)) as session:
        raised = deadlines.check_slas(session=session)
    for n in raised:
        click.echo(f"{n.kind}: case {n.case_id} {n.target} due {n.due_at.isoformat()}")
    click.echo(f"{len(raised)} raised")


def init_app(app: Flask) -> None:
    app.cli.add_command(complaints_cli)
