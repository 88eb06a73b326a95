"""The administrators' dashboard figures, computed with pandas from plain frames.

Pure: frames in (loaded by reports.campus), tables out, each a DataFrame with readable column
names so the same table feeds the page, the CSV and the XLSX export.
"""

from __future__ import annotations

import io
from datetime import date

import pandas as pd

TABLES = (
    "complaints_over_time",
    "complaints_per_1000_orders",
    "sla_compliance",
    "cold_chain_by_merchant",
    "cold_chain_by_courier",
    "open_clusters",
    "top_suspect_lots",
    "certificate_expiries",
)


def complaints_over_time(cases: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Complaints opened per local week and type."""
    if cases.empty:
        return pd.DataFrame(columns=["week", "category", "complaints"])
    local = pd.to_datetime(cases["opened_at"], utc=True).dt.tz_convert(tz)
    week = (local.dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time.dt.date).astype(str)
    out = (
        cases.assign(week=week).groupby(["week", "category"]).size().reset_index(name="complaints")
    )
    return out.sort_values(["week", "category"], ignore_index=True)


def complaints_per_1000(
    cases: pd.DataFrame, orders: pd.DataFrame, merchants: pd.DataFrame
) -> pd.DataFrame:
    """Complaints per 1,000 orders by merchant (merchants with orders), highest first."""
    return complaints_per_1000_placed(cases, orders.groupby("merchant_id").size(), merchants)


def complaints_per_1000_placed(
    cases: pd.DataFrame, placed: pd.Series, merchants: pd.DataFrame
) -> pd.DataFrame:
    """The same from orders already counted per merchant (`placed`: merchant_id -> orders)."""
    placed = placed[placed > 0].astype("int64").rename("orders")
    placed.index = placed.index.astype("int64")
    raised = cases.dropna(subset=["merchant_id"]).groupby("merchant_id").size().rename("complaints")
    out = pd.concat([placed, raised], axis=1).fillna(0).astype(int)
    out = out[out["orders"] > 0]
    out["per_1000_orders"] = (1000 * out["complaints"] / out["orders"]).round(2)
    names = merchants.set_index("id")["name"] if not merchants.empty else pd.Series(dtype=str)
    out.insert(0, "merchant", [names.get(i, f"#{i}") for i in out.index])
    out.index.name = "merchant_id"
    return out.reset_index().sort_values(
        ["per_1000_orders", "merchant_id"], ascending=[False, True], ignore_index=True
    )


def cold_chain(verdicts: pd.DataFrame, by: str, names: dict[int, str]) -> pd.DataFrame:
    """Deliveries judged, passed and failed, % pass, by merchant or courier."""
    if verdicts.empty:
        return cold_chain_counts(pd.DataFrame(columns=[by, "verdict", "n"]), by, names)
    counts = verdicts.groupby([by, "verdict"]).size().reset_index(name="n")
    return cold_chain_counts(counts, by, names)


def cold_chain_counts(counts: pd.DataFrame, by: str, names: dict[int, str]) -> pd.DataFrame:
    """The same from verdicts already counted: columns `by`, verdict, n."""
    columns = [by, "name", "judged", "passed", "failed", "percent_pass"]
    counts = counts[(counts["verdict"] != "no_data") & (counts["n"] > 0)]
    if counts.empty:
        return pd.DataFrame(columns=columns)
    wide = counts.pivot_table(index=by, columns="verdict", values="n", aggfunc="sum", fill_value=0)
    zero = pd.Series(0, index=wide.index)
    out = pd.DataFrame(
        {
            "judged": wide.sum(axis=1),
            "passed": wide.get("pass", zero),
            "failed": wide.get("fail", zero),
        }
    ).astype("int64")
    out.index = out.index.astype("int64")
    out.index.name = by
    out["percent_pass"] = (100 * out["passed"] / out["judged"]).round(1)
    out.insert(0, "name", [names.get(int(i), f"#{i}") for i in out.index])
    return out.reset_index().sort_values(["percent_pass", by], ignore_index=True)


def certificate_expiries(certificates: pd.DataFrame, today: date, days: int = 60) -> pd.DataFrame:
    """Supplier certificates expired or expiring within `days`, soonest first."""
    if certificates.empty:
        return pd.DataFrame(columns=["supplier", "kind", "number", "expires_on", "days_left"])
    expires = pd.to_datetime(certificates["expires_on"]).dt.date
    left = [(d - today).days for d in expires]
    out = certificates.assign(expires_on=expires.astype(str), days_left=left)
    out = out[out["days_left"] <= days]
    return out[["supplier", "kind", "number", "expires_on", "days_left"]].sort_values(
        ["days_left", "supplier"], ignore_index=True
    )


def to_csv(table: pd.DataFrame) -> bytes:
    """UTF-8 with BOM so spreadsheet programs open Chinese names correctly."""
    return table.to_csv(index=False).encode("utf-8-sig")


def to_xlsx(tables: dict[str, pd.DataFrame]) -> bytes:
    """Every table as one sheet of a workbook."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        for name, table in tables.items():
            table.to_excel(writer, sheet_name=name[:31], index=False)
    return buf.getvalue()
