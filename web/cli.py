"""`flask --app app db create|upgrade` and `flask --app app demo seed`."""

from __future__ import annotations

import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import create_database, engine_of, session_scope, upgrade_database

db_cli = AppGroup("db", help="Database schema.")
demo_cli = AppGroup("demo", help="Demo data.")


@db_cli.command("create")
def create() -> None:
    """Create the PostgreSQL database DATABASE_URL names, if missing (SQLite: nothing to do)."""
    url = current_app.extensions["foodtrace"].settings.database_url
    click.echo("database created" if create_database(url) else "database exists")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Apply migrations (SQLite or PostgreSQL, from DATABASE_URL)."""
    upgrade_database(engine_of(current_app), revision)
    click.echo(f"database at {revision}")


@demo_cli.command("seed")
def seed() -> None:
    """Seed demo data (idempotent) and print the demo accounts."""
    from demo import seed as demo_seed

    with session_scope(engine_of(current_app)) as session:
        accounts = demo_seed.seed_all(session=session)
    click.echo(f"Demo accounts (password for all: {demo_seed.DEMO_PASSWORD}):")
    for email, role in accounts:
        click.echo(f"  {role:<9} {email}")


@demo_cli.command("generate")
@click.option("--students", default=30_000, show_default=True, type=click.IntRange(min=10))
@click.option("--days", default=100, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=1, show_default=True, type=int)
def generate(students: int, days: int, seed: int) -> None:
    """Write a campus semester through the services and print its planted incidents."""
    from demo import semester

    with (
        session_scope(engine_of(current_app)) as session,
        click.progressbar(length=semester.total_steps(days), label="semester") as bar,
    ):
        made = semester.generate(
            session=session, students=students, days=days, seed=seed, progress=bar.update
        )
    click.echo(", ".join(f"{k} {v}" for k, v in vars(made.counts).items()))
    for line in made.incidents.lines():
        click.echo(line)
    started = time.perf_counter()
    with session_scope(engine_of(current_app)) as session:
        verdicts, days = semester.derive_caches(session)
    click.echo(
        f"derived caches: {verdicts} stored cold-chain verdicts, {days} days of exposure "
        f"roll-ups in {time.perf_counter() - started:.0f} s"
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(demo_cli)
