"""`flask --app app users ...`: create users and tokens from the terminal."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from accounts import service
from app import engine_of, session_scope

users = AppGroup("users", help="Manage user accounts.")


@users.command("create")
@click.argument("email")
@click.option("--role", required=True, help="admin, desk, merchant, courier, student or device")
@click.option("--merchant", "merchant_id", type=int, default=None, help="merchant id (merchants)")
@click.option("--name", "display_name", default="", help="display name")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def create(
    email: str, role: str, merchant_id: int | None, display_name: str, password_stdin: bool
) -> None:
    """Create a user; prints {"id", "email", "role", "api_token"} as JSON."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with session_scope(engine_of(current_app)) as session:
        try:
            created = service.create_user(
                session=session,
                email=email,
                role=role,
                password=password,
                merchant_id=merchant_id,
                display_name=display_name,
            )
        except service.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(
            json.dumps(
                {
                    "id": created.user.id,
                    "email": created.user.email,
                    "role": created.user.role,
                    "merchant_id": created.user.merchant_id,
                    "api_token": created.api_token,
                }
            )
        )


def init_app(app: Flask) -> None:
    app.cli.add_command(users)
