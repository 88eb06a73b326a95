"""`flask --app app ledger verify|checkpoint`."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import engine_of, make_engine, session_scope
from evidence import service

ledger_cli = AppGroup("ledger", help="The tamper-evident ledger.")


def _extras() -> dict:  # type: ignore[type-arg]
    return current_app.extensions["foodtrace"].extras


@ledger_cli.command("verify")
@click.option("--quiet", is_flag=True, help="no progress bar")
def verify(quiet: bool) -> None:
    """Recompute every hash, check every checkpoint and re-derive domain rows; exit 1 on tamper."""
    settings = current_app.extensions["foodtrace"].settings
    reader = make_engine(settings.database_url, read_only=True)
    with session_scope(reader) as session:
        bar = None if quiet else click.progressbar(length=1, label="verifying", file=sys.stderr)
        state = {"done": 0}

        def progress(done: int, total: int) -> None:
            if bar is not None:
                bar.length = max(total, 1)
                bar.update(done - state["done"])
                state["done"] = done

        report = service.verify(
            session=session,
            key=_extras()["ledger_key"],
            projections=_extras()["projections"],
            progress=progress,
        )
        if bar is not None:
            bar.render_finish()
    reader.dispose()
    if report.problem is not None:
        click.echo(f"TAMPERED: {report.problem}", err=True)
        sys.exit(1)
    click.echo(
        f"OK: {report.entries_checked} entries, {report.checkpoints_checked} checkpoints, "
        f"{report.rows_checked} domain rows; root {service.b64(report.root)}"
    )


@ledger_cli.command("checkpoint")
def checkpoint() -> None:
    """Sign a checkpoint of the current tree now and print the note."""
    with session_scope(engine_of(current_app)) as session:
        cp = service.sign_checkpoint(session=session, key=_extras()["ledger_key"])
    click.echo(cp.note, nl=False)


def init_app(app: Flask) -> None:
    app.cli.add_command(ledger_cli)
