"""The administrators' dashboard: figures over the seeded campus, filters, CSV/XLSX export."""

from __future__ import annotations

import io
from datetime import date

import pandas as pd

from reports import dashboard


def test_complaints_per_1000_orders_divides_by_each_merchants_orders():
    cases = pd.DataFrame({"merchant_id": [1, 1, 2, None]})
    orders = pd.DataFrame({"merchant_id": [1] * 400 + [2] * 1000 + [3] * 10})
    merchants = pd.DataFrame({"id": [1, 2, 3], "name": ["北区食堂", "South", "East"]})
    out = dashboard.complaints_per_1000(cases, orders, merchants)
    assert out[["merchant", "complaints", "orders", "per_1000_orders"]].values.tolist() == [
        ["北区食堂", 2, 400, 5.0],
        ["South", 1, 1000, 1.0],
        ["East", 0, 10, 0.0],
    ]


def test_certificate_expiries_keep_only_the_next_60_days_soonest_first():
    certs = pd.DataFrame(
        {
            "supplier": ["A", "B", "C"],
            "kind": ["SC"] * 3,
            "number": ["1", "2", "3"],
            "expires_on": [date(2026, 12, 30), date(2026, 11, 1), date(2027, 6, 1)],
        }
    )
    out = dashboard.certificate_expiries(certs, date(2026, 11, 23))
    assert out[["supplier", "days_left"]].values.tolist() == [["B", -22], ["A", 37]]


def test_the_dashboard_page_shows_every_table_and_exports(client, people, case_id):
    admin = people.auth("admin")
    page = client.get("/reports/dashboard?since=2020-01-01&until=2030-01-01", headers=admin)
    assert page.status_code == 200
    for name in dashboard.TABLES:
        assert f'data-table="{name}"'.encode() in page.data
    assert "北区食堂".encode() in page.data  # per-1,000 and cold-chain rows name merchants
    assert b"<td>nan</td>" not in page.data  # a figure without data shows a dash
    csv = client.get(
        "/reports/dashboard?since=2020-01-01&until=2030-01-01&export=csv"
        "&table=complaints_per_1000_orders",
        headers=admin,
    )
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    table = pd.read_csv(io.BytesIO(csv.data), encoding="utf-8-sig")
    assert table["complaints"].sum() >= 1 and table["orders"].sum() >= 6
    xlsx = client.get("/reports/dashboard?export=xlsx", headers=admin)
    sheets = pd.read_excel(io.BytesIO(xlsx.data), sheet_name=None)
    assert set(sheets) == set(dashboard.TABLES)
    bad = client.get("/reports/dashboard?export=csv&table=nope", headers=admin)
    assert bad.status_code == 422
    assert client.get("/reports/dashboard", headers=people.auth("desk")).status_code == 403
