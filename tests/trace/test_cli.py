"""`flask trace export|import|completeness` on a seeded demo campus."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.trace.epcis_schema import schema_errors
from trace import demo
from web.db import get_session


def seed(app):
    with app.app_context():
        demo.seed(session=get_session())


def test_export_writes_the_sortable_spreadsheet_and_epcis(app, runner, tmp_path):
    seed(app)
    out = tmp_path / "sheet.csv"
    result = runner.invoke(
        args=["trace", "export", "--format", "csv", "--lot", "LET-0301-A", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    codes = {(r["Event type"], r["Traceability lot code"]) for r in rows}
    assert ("Receiving", "LET-0301-A") in codes
    assert {"N-SALAD-0301", "S-LET-0301", "E-SALAD-0301"} <= {c for _, c in codes}
    doc = tmp_path / "events.jsonld"
    result = runner.invoke(args=["trace", "export", "--format", "epcis", "-o", str(doc)])
    assert result.exit_code == 0, result.output
    assert schema_errors(json.loads(doc.read_text())) == []


def test_import_reports_each_problem_and_fails_when_rejected(app, runner, tmp_path):
    seed(app)
    bad = tmp_path / "lots.csv"
    bad.write_text("Traceability lot code,Product\nX,Lettuce\n", encoding="utf-8")
    result = runner.invoke(
        args=["trace", "import", str(bad), "--kind", "receiving", "--merchant", "1"]
    )
    assert result.exit_code == 1
    assert "missing required columns" in result.output


def test_completeness_lists_the_expiring_certificate(app, runner):
    from sqlalchemy import select

    from trace.models import SupplierCertificate

    seed(app)
    with app.app_context():
        soonest = get_session().execute(select(SupplierCertificate.expires_on)).scalars().all()
    today = datetime.now(ZoneInfo(app.extensions["foodtrace"].settings.timezone)).date()
    result = runner.invoke(args=["trace", "completeness"])
    assert result.exit_code == 0, result.output
    assert "北区食堂 North Canteen: 100.0%" in result.output
    assert (
        f"嘉定禽业 Jiading Poultry 食品生产许可证 SC10431010000202-C: {min(soonest)}"
        in result.output
    )
    assert f"in {(min(soonest) - today).days} days" in result.output
