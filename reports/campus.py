"""Loading the campus data the dashboard summarises (read-only), as pandas frames, and the
tables of reports.dashboard over a period, optionally for one merchant.

Orders and cold-chain verdicts are counted in the database (per merchant, per courier): the
verdicts of finished deliveries are stored by sensors.verdicts, and only the deliveries with
none yet (on the road, settling, a late reading) are judged here, from the raw readings."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, col, select

from columns import utcnow
from complaints.deadlines import compliance_figures
from complaints.models import Case
from orders.models import Order
from reports import dashboard
from sensors import verdicts as stored
from sensors.profiles import get_profile
from trace.models import Merchant, Supplier, SupplierCertificate

MAX_JUDGED = 50_000  # deliveries judged on the fly per dashboard view (recent or stale ones)


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
    now: datetime | None = None,
) -> dict[str, pd.DataFrame]:
    """Every dashboard table for [since, until)."""
    now = now or utcnow()
    case_filter = [col(Case.opened_at) >= since, col(Case.opened_at) < until]
    if merchant_id is not None:
        case_filter.append(Case.merchant_id == merchant_id)
    cases = _frame(
        session,
        select(Case.id, Case.opened_at, Case.category, Case.merchant_id, Case.status).where(
            *case_filter
        ),
        ["id", "opened_at", "category", "merchant_id", "status"],
    )
    merchants = _frame(session, select(Merchant.id, Merchant.name), ["id", "name"])
    names = dict(zip(merchants["id"], merchants["name"], strict=True))
    placed = _orders_per_merchant(session, since, until, merchant_id)
    out = {
        "complaints_over_time": dashboard.complaints_over_time(cases, tz),
        "complaints_per_1000_orders": dashboard.complaints_per_1000_placed(
            cases, placed, merchants
        ),
        "sla_compliance": _sla(session, tz),
    }
    by_merchant, by_courier = _verdict_counts(session, since, until, merchant_id, profile, now)
    out["cold_chain_by_merchant"] = dashboard.cold_chain_counts(by_merchant, "merchant_id", names)
    out["cold_chain_by_courier"] = dashboard.cold_chain_counts(
        by_courier, "courier_id", {int(c): f"courier #{c}" for c in by_courier["courier_id"]}
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


def _orders_per_merchant(
    session: Session, since: datetime, until: datetime, merchant_id: int | None
) -> pd.Series:
    """merchant_id -> orders created in [since, until): one count per merchant through the
    (merchant_id, created_at) index (a GROUP BY over the period sorts every order)."""
    placed = (
        select(func.count())
        .select_from(Order)
        .where(
            col(Order.merchant_id) == col(Merchant.id),
            col(Order.created_at) >= since,
            col(Order.created_at) < until,
        )
        .correlate(Merchant)
        .scalar_subquery()
    )
    stmt = select(Merchant.id, placed)
    if merchant_id is not None:
        stmt = stmt.where(Merchant.id == merchant_id)
    rows = session.exec(stmt).all()  # type: ignore[call-overload]
    return pd.Series(
        [int(n) for _, n in rows], index=pd.Index([int(m) for m, _ in rows], name="merchant_id")
    )


def _verdict_counts(
    session: Session,
    since: datetime,
    until: datetime,
    merchant_id: int | None,
    profile: str | None,
    now: datetime,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(merchant_id, verdict, n) and (courier_id, verdict, n) over the period's deliveries:
    stored verdicts counted in the database plus the others judged now."""
    name = get_profile(profile).name
    out = []
    for by in ("merchant_id", "courier_id"):
        out.append(
            stored.period_counts(
                session=session,
                profile=name,
                since=since,
                until=until,
                by=by,
                merchant_id=merchant_id,
            )
        )
    fresh = stored.unjudged(
        session=session,
        profile=name,
        since=since,
        until=until,
        now=now,
        merchant_id=merchant_id,
        limit=MAX_JUDGED,
    )
    if fresh.empty:
        return out[0], out[1]
    judged = stored.judge_frame(session, fresh, name, now)
    frame = judged[["delivery_id", "verdict"]].merge(
        fresh[["delivery_id", "courier_id", "merchant_id"]], on="delivery_id"
    )
    summed = []
    for by, counts in zip(("merchant_id", "courier_id"), out, strict=True):
        more = frame.groupby([by, "verdict"]).size().reset_index(name="n")
        both = pd.concat([counts, more], ignore_index=True).astype({by: "int64", "n": "int64"})
        summed.append(both.groupby([by, "verdict"], as_index=False)["n"].sum())
    return summed[0], summed[1]


def _sla(session: Session, tz: str) -> pd.DataFrame:
    figures = compliance_figures(session=session, timezone=tz)
    rows = [{"view": view, **row} for view, items in figures.items() for row in items]
    return pd.DataFrame(
        rows, columns=["view", "target", "group", "met", "breached", "pending", "percent_met"]
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
