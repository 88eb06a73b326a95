"""`flask --app app trace export|import|completeness`: regulator exports and bulk imports."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import engine_of, session_scope
from columns import utcnow
from trace import epcis_documents, exports, imports, oversight
from trace.access import Viewer

trace_cli = AppGroup("trace", help="Traceability: regulator exports, imports, completeness.")
OPERATOR = Viewer(actor="cli", role="admin")


def _tz() -> str:
    return str(current_app.extensions["foodtrace"].settings.timezone)


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


@trace_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "epcis"]), default="csv")
@click.option("--lot", help="traceability lot code")
@click.option("--product", help="product name or code")
@click.option("--from", "since", help="first day, YYYY-MM-DD (local time)")
@click.option("--to", "until", help="last day, YYYY-MM-DD (local time)")
@click.option("--merchant", "merchant_id", type=int, help="one merchant's records")
@click.option("--lang", type=click.Choice(["en", "zh-CN"]), default="en")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export(
    fmt: str,
    lot: str | None,
    product: str | None,
    since: str | None,
    until: str | None,
    merchant_id: int | None,
    lang: str,
    output: Path,
) -> None:
    """Write the FSMA 204 sortable spreadsheet (csv, xlsx) or an EPCIS 2.0 document."""
    try:
        selection = exports.Selection(lot, product, _date(since), _date(until), merchant_id)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    with session_scope(engine_of(current_app)) as session:
        if fmt == "epcis":
            document = epcis_documents.epcis_document(
                session=session, viewer=OPERATOR, selection=selection, now=utcnow(), tz=_tz()
            )
            output.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
            count = len(document["epcisBody"]["eventList"])
        else:
            data = exports.fsma_file(
                session=session,
                viewer=OPERATOR,
                selection=selection,
                fmt=fmt,  # type: ignore[arg-type]
                lang=lang,
                tz=_tz(),  # type: ignore[arg-type]
            )
            output.write_bytes(data)
            count = len(data)
    click.echo(f"wrote {output} ({count} {'events' if fmt == 'epcis' else 'bytes'})")


@trace_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(imports.UPLOAD_KINDS), required=True)
@click.option("--merchant", "merchant_id", type=int, required=True)
@click.option("--partial", is_flag=True, help="store the good rows, report the bad ones")
def import_file(path: Path, kind: str, merchant_id: int, partial: bool) -> None:
    """Import a CSV/XLSX of receiving or production records, or an EPCIS document."""
    with session_scope(engine_of(current_app)) as session:
        submitted = imports.submit_upload(
            session=session,
            viewer=OPERATOR,
            data=path.read_bytes(),
            filename=path.name,
            kind=kind,
            merchant_id=merchant_id,
            partial=partial,
        )
        upload = submitted.upload
        if submitted.pending:
            assert upload.id is not None
            upload = imports.process_upload(session=session, upload_id=upload.id, tz=_tz())
    click.echo(
        f"upload {upload.id}: {upload.outcome}, {upload.created_count} stored, "
        f"{upload.error_count} problem(s)" + ("" if submitted.pending else " (seen before)")
    )
    for error in (upload.errors or [])[:50]:
        where = error.get("row", error.get("position"))
        click.echo(f"  {where} {error.get('column', error.get('field'))}: {error['reason']}")
    if upload.outcome == "rejected":
        sys.exit(1)


@trace_cli.command("completeness")
def completeness() -> None:
    """Print each merchant's completeness score and documents expiring soon."""
    today = datetime.now(ZoneInfo(_tz())).date()
    with session_scope(engine_of(current_app)) as session:
        reports = oversight.oversight(session=session, viewer=OPERATOR, today=today)
        documents = oversight.expiring_documents(session=session, today=today)
    for report in reports:
        c = report.completeness
        missing = ", ".join(f"{k} {v}" for k, v in c.missing_by_kde.items()) or "nothing missing"
        click.echo(f"{report.merchant.id:>4} {report.merchant.name}: {c.score:.1%} ({missing})")
    for e in documents:
        state = "EXPIRED" if e.expired else f"in {e.days_left} days"
        click.echo(f"  {e.holder} {e.document} {e.number}: {e.expires_on} {state}")


def init_app(app: Flask) -> None:
    """Register the `trace` command group."""
    app.cli.add_command(trace_cli)
