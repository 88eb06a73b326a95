"""Loading the campus data the dashboard summarises (read-only), as pandas frames, and the
tables of reports.dashboard over a period, optionally for one merchant."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlmodel import Session, col, select

from complaints.deadlines import compliance_figures
from complaints.models import Case
from orders.models import Delivery, Order
from reports import dashboard
from sensors.history import judge_stored_deliveries
from trace.models import Merchant, Supplier, SupplierCertificate

MAX_JUDGED = 200_000  # deliveries judged per dashboard view (a semester is ~100k)


def _frame(session: Session, stmt: object, columns: list[str]) -> pd.DataFrame:
    rows = session.exec(stmt).all()  # type: ignore[call-overload]
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def tables(
    *,
    session: Session,
    since: datetime,
    until: datetime,
    tz: str,
    today: date,
    merchant_id: int | None = None,
    profile: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Every dashboard table for [since, until)."""
    case_filter = [col(Case.opened_at) >= since, col(Case.opened_at) < until]
    order_filter = [col(Order.created_at) >= since, col(Order.created_at) < until]
    if merchant_id is not None:
        case_filter.append(Case.merchant_id == merchant_id)
        order_filter.append(Order.merchant_id == merchant_id)
    cases = _frame(
        session,
        select(Case.id, Case.opened_at, Case.category, Case.merchant_id, Case.status).where(
            *case_filter
        ),
        ["id", "opened_at", "category", "merchant_id", "status"],
    )
    orders = _frame(
        session, select(Order.id, Order.merchant_id).where(*order_filter), ["id", "merchant_id"]
    )
    merchants = _frame(session, select(Merchant.id, Merchant.name), ["id", "name"])
    names = dict(zip(merchants["id"], merchants["name"], strict=True))
    out = {
        "complaints_over_time": dashboard.complaints_over_time(cases, tz),
        "complaints_per_1000_orders": dashboard.complaints_per_1000(cases, orders, merchants),
        "sla_compliance": _sla(session, tz),
    }
    verdicts = _verdicts(session, order_filter, profile)
    out["cold_chain_by_merchant"] = dashboard.cold_chain(verdicts, "merchant_id", names)
    out["cold_chain_by_courier"] = dashboard.cold_chain(
        verdicts, "courier_id", {int(c): f"courier #{c}" for c in verdicts.get("courier_id", [])}
    )
    out["open_clusters"], out["top_suspect_lots"] = _clusters(session)
    certificates = _frame(
        session,
        select(
            Supplier.name,
            SupplierCertificate.kind,
            SupplierCertificate.number,
            SupplierCertificate.expires_on,
        ).join(Supplier, col(Supplier.id) == col(SupplierCertificate.supplier_id)),
        ["supplier", "kind", "number", "expires_on"],
    )
    out["certificate_expiries"] = dashboard.certificate_expiries(certificates, today)
    return out


def _sla(session: Session, tz: str) -> pd.DataFrame:
    figures = compliance_figures(session=session, timezone=tz)
    rows = [{"view": view, **row} for view, items in figures.items() for row in items]
    return pd.DataFrame(
        rows, columns=["view", "target", "group", "met", "breached", "pending", "percent_met"]
    )


def _verdicts(session: Session, order_filter: list[object], profile: str | None) -> pd.DataFrame:
    rows = session.exec(
        select(
            Delivery.id,
            Delivery.box_id,
            Delivery.picked_up_at,
            Delivery.dropped_off_at,
            Delivery.food_class,
            Delivery.courier_id,
            Order.merchant_id,
        )
        .join(Order, col(Order.id) == col(Delivery.order_id))
        .where(
            *order_filter,
            col(Delivery.box_id).is_not(None),
            col(Delivery.picked_up_at).is_not(None),
        )
        .limit(MAX_JUDGED)
    ).all()
    if not rows:
        return pd.DataFrame(columns=["delivery_id", "verdict", "courier_id", "merchant_id"])
    frame = pd.DataFrame(
        [tuple(r) for r in rows],
        columns=[
            "delivery_id",
            "box_id",
            "pickup_at",
            "dropoff_at",
            "food_class",
            "courier_id",
            "merchant_id",
        ],
    )
    frame["pickup_at"] = pd.to_datetime(frame["pickup_at"], utc=True)
    frame["dropoff_at"] = pd.to_datetime(frame["dropoff_at"], utc=True)
    judged = judge_stored_deliveries(
        session=session,
        deliveries=frame[["delivery_id", "box_id", "pickup_at", "dropoff_at", "food_class"]],
        profile=profile,
    )
    return judged[["delivery_id", "verdict"]].merge(
        frame[["delivery_id", "courier_id", "merchant_id"]], on="delivery_id"
    )


def _clusters(session: Session) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open clusters and the lots ranked highest by complaints.investigation for them."""
    empty = (
        pd.DataFrame(columns=["cluster", "opened_at", "cases", "alerted_at"]),
        pd.DataFrame(columns=["lot", "clusters", "best_relative_risk", "cases_explained"]),
    )
    try:
        from complaints import clusters, investigation
    except ImportError:  # clusters and ranking arrive with complaints part 2
        return empty
    listed = clusters.list_clusters(session=session, limit=50)
    open_rows = [
        {
            "cluster": c.id,
            "opened_at": c.opened_at.isoformat(),
            "cases": n,
            "alerted_at": c.alerted_at.isoformat() if c.alerted_at else "",
        }
        for c, n in listed
    ]
    lots: dict[str, dict[str, object]] = {}
    for c, _n in listed[:5]:
        view = clusters.get_cluster(session=session, cluster_id=c.id or 0)
        ids = [case.id for case, _m in view.members if case.id is not None]
        try:
            found = investigation.investigate(session=session, case_ids=ids, limit=20)
        except investigation.InvestigationError:
            continue
        for cand in found.candidates:
            if cand.kind != "lot":
                continue
            row = lots.setdefault(
                cand.label,
                {
                    "lot": cand.label,
                    "clusters": 0,
                    "best_relative_risk": 0.0,
                    "cases_explained": 0.0,
                },
            )
            row["clusters"] = int(row["clusters"]) + 1  # type: ignore[call-overload]
            rr = cand.relative_risk or 0.0
            row["best_relative_risk"] = max(float(row["best_relative_risk"]), rr)  # type: ignore[arg-type]
            row["cases_explained"] = max(
                float(row["cases_explained"]),  # type: ignore[arg-type]
                cand.cases_explained or 0.0,
            )
    top = pd.DataFrame(list(lots.values()), columns=empty[1].columns)
    top = top.sort_values(
        ["best_relative_risk", "cases_explained"], ascending=False, ignore_index=True
    ).head(10)
    return pd.DataFrame(open_rows, columns=empty[0].columns), top
