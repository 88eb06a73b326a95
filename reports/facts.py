"""Gathering a case report's facts from the other domains (read-only, through their services
and queries where they exist): the case and its timeline, SLA clocks, the backward trace of its
orders, the deliveries' temperatures and verdicts, affected orders counted by merchant and day,
actions, and the ledger entries every cited fact rests on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd
from sqlmodel import Session, col, select

from accounts.models import User
from complaints import deadlines, payouts, records
from complaints import service as complaints
from complaints.models import Case, CaseEvent
from orders.models import Delivery, Order, OrderLine
from reports import content
from sensors import coldchain
from sensors.history import judge_stored_deliveries
from sensors.profiles import get_profile
from trace import queries as trace_queries
from trace.access import Viewer
from trace.errors import NotFound, TraceTooLarge
from trace.models import Merchant, StatusEvent

MAX_TRACE_STARTS = 10
MAX_CHARTS = 8
MAX_CITED = 200
Progress = Callable[[int], None]


def _ids(values: list[int]) -> list[list[int]]:
    return [values[i : i + 500] for i in range(0, len(values), 500)]


def _orders(session: Session, order_ids: list[int]) -> list[Order]:
    out: list[Order] = []
    for chunk in _ids(order_ids):
        out += session.exec(select(Order).where(col(Order.id).in_(chunk))).all()
    return sorted(out, key=lambda o: o.id or 0)


def _affected(orders: list[Order], names: dict[int, str], tz: str) -> list[content.AffectedRow]:
    if not orders:
        return []
    frame = pd.DataFrame(
        {
            "merchant": [names.get(o.merchant_id, f"#{o.merchant_id}") for o in orders],
            "at": pd.to_datetime([o.created_at for o in orders], utc=True),
        }
    )
    frame["day"] = frame["at"].dt.tz_convert(tz).dt.date
    counts = frame.groupby(["merchant", "day"]).size().reset_index(name="orders")
    return [
        content.AffectedRow(str(r.merchant), r.day, int(r.orders))
        for r in counts.itertuples(index=False)
    ]


def _trace(session: Session, orders: list[Order]) -> content.TraceFigure | None:
    ids = [o.id for o in orders if o.id is not None][:200]
    lines: list[int] = []
    for chunk in _ids(ids):
        lines += session.exec(select(OrderLine.id).where(col(OrderLine.order_id).in_(chunk))).all()
    viewer = Viewer(actor="system", role="admin")
    nodes: dict[tuple[str, str], content.TraceNode] = {}
    edges: set[tuple[tuple[str, str], tuple[str, str]]] = set()
    for line in sorted(lines)[:MAX_TRACE_STARTS]:
        try:
            result = trace_queries.trace(
                session=session, viewer=viewer, kind="order_line", ident=line, direction="backward"
            )
        except (NotFound, TraceTooLarge):
            continue
        for n in result.nodes:
            key = (n.kind, n.id)
            if key not in nodes or n.depth < nodes[key].depth:
                nodes[key] = content.TraceNode(n.kind, n.id, n.label, n.depth, n.ledger_index)
        edges |= {(e.src, e.dst) for e in result.edges}
    if not nodes:
        return None
    return content.TraceFigure(tuple(nodes.values()), tuple(sorted(edges)))


def _temperatures(
    session: Session, orders: list[Order], profile: str | None
) -> list[content.TemperatureFigure]:
    deliveries: list[Delivery] = []
    for chunk in _ids([o.id for o in orders if o.id is not None]):
        deliveries += session.exec(
            select(Delivery).where(
                col(Delivery.order_id).in_(chunk),
                col(Delivery.box_id).is_not(None),
                col(Delivery.picked_up_at).is_not(None),
            )
        ).all()
    if not deliveries:
        return []
    frame = pd.DataFrame(
        {
            "delivery_id": [d.id for d in deliveries],
            "box_id": [d.box_id for d in deliveries],
            "pickup_at": pd.to_datetime([d.picked_up_at for d in deliveries], utc=True),
            "dropoff_at": pd.to_datetime([d.dropped_off_at for d in deliveries], utc=True),
            "food_class": [d.food_class for d in deliveries],
        }
    )
    verdicts = judge_stored_deliveries(session=session, deliveries=frame, profile=profile)
    by_id = {d.id: d for d in deliveries}
    prof = get_profile(profile)
    out: list[content.TemperatureFigure] = []
    ranked = sorted(
        verdicts.itertuples(index=False), key=lambda r: (r.verdict == "pass", r.delivery_id)
    )
    for rank, row in enumerate(ranked):
        d = by_id[int(row.delivery_id)]
        assert d.picked_up_at is not None and d.box_id is not None
        end = d.dropped_off_at or d.picked_up_at
        safe = prof.rule(d.food_class).safe
        low, high = (safe.low, safe.high) if safe else (None, None)
        points: tuple[tuple[datetime, float], ...] = ()
        excursions: tuple[content.Span, ...] = ()
        gaps: tuple[content.Span, ...] = ()
        if rank < MAX_CHARTS and int(row.n_readings) > 0:
            verdict = coldchain.judge_window(
                session=session,
                box_id=d.box_id,
                pickup_at=d.picked_up_at,
                dropoff_at=d.dropped_off_at,
                food_class=d.food_class,
                profile=profile,
            )
            points = tuple(
                coldchain.box_readings(
                    session=session, box_id=d.box_id, start=d.picked_up_at, end=verdict.window_end
                )
            )
            end = verdict.window_end
            excursions = tuple(content.Span(e.start, e.end, e.peak_c) for e in verdict.excursions)
            gaps = tuple(content.Span(g.start, g.end) for g in verdict.gaps)
        out.append(
            content.TemperatureFigure(
                delivery_id=int(d.id or 0),
                order_id=d.order_id,
                box_id=d.box_id,
                start=d.picked_up_at,
                end=end,
                points=points,
                low_c=low,
                high_c=high,
                verdict=str(row.verdict),
                n_readings=int(row.n_readings),
                min_c=_num(row.min_c),
                max_c=_num(row.max_c),
                mean_c=_num(row.mean_c),
                minutes_outside=float(row.minutes_outside or 0.0),
                excursions=excursions,
                gaps=gaps,
            )
        )
    return out


def _num(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def _cluster(session: Session, case: Case) -> list[Case]:
    """The cases of the case's cluster (just the case when it has none, or when the
    complaints build has no clusters yet)."""
    try:
        from complaints import clusters
    except ImportError:  # clusters arrive with complaints part 2
        return [case]
    member = clusters.cluster_of(session, case.id or 0)
    if member is None:
        return [case]
    view = clusters.get_cluster(session=session, cluster_id=member.cluster_id)
    return sorted((c for c, _m in view.members), key=lambda c: c.opened_at)


def _ranking(session: Session, case_ids: list[int]) -> list[content.RankRow]:
    """The ranked candidate sources (complaints.investigation), best first."""
    try:
        from complaints import investigation
    except ImportError:  # source ranking arrives with complaints part 2
        return []
    try:
        found = investigation.investigate(session=session, case_ids=case_ids, limit=10)
    except investigation.InvestigationError:
        return []
    out = []
    for c in found.candidates:
        low, high = c.rr_ci95
        out.append(
            content.RankRow(
                c.kind,
                c.label,
                c.exposed_cases,
                c.exposed_total,
                c.unexposed_cases,
                c.unexposed_total,
                c.relative_risk,
                low,
                high,
                c.fisher_p,
                c.cases_explained,
            )
        )
    return out


def _complainant(session: Session, case: object) -> dict[str, str]:
    name = getattr(case, "complainant_name", None)
    email = getattr(case, "complainant_email", None)
    uid = getattr(case, "complainant_user_id", None)
    user = session.get(User, uid) if uid else None
    if user is not None:
        name, email = name or user.display_name, email or user.email
    return {
        "name": name or "",
        "phone": getattr(case, "complainant_phone", None) or "",
        "email": email or "",
    }


def gather_case(
    *,
    session: Session,
    case_id: int,
    language: str,
    version: int,
    audience: str,
    author: str,
    tz: str,
    profile: str | None,
    now: datetime,
    progress: Progress = lambda _p: None,
) -> tuple[content.CaseReport, list[tuple[str, int]]]:
    """Every fact of a case report, and the (label, ledger index) of the records it cites."""
    case = complaints.get_case(session=session, case_id=case_id)
    order_ids = records.order_ids_of(session, [case_id]).get(case_id, [])
    events = list(
        session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id)
            .order_by(col(CaseEvent.at), col(CaseEvent.id))
        ).all()
    )
    sla = deadlines.sla_of(session=session, case=case, now=now)
    progress(15)
    orders = _orders(session, list(order_ids))
    names = {m.id: m.name for m in session.exec(select(Merchant)).all() if m.id is not None}
    figure = _trace(session, orders)
    progress(30)
    temperatures = _temperatures(session, orders, profile)
    progress(45)
    members = _cluster(session, case)
    ranking = _ranking(session, [c.id for c in members if c.id is not None])
    progress(50)
    compensations = payouts.list_compensations(session=session, case_id=case_id)
    actions = [
        content.ActionRow(c.decided_at, c.remedy, f"¥{c.amount_fen / 100:.2f} ({c.status})")
        for c in compensations
    ] + [
        content.ActionRow(e.at, e.to_status or e.kind, "")
        for e in events
        if e.to_status in ("action_taken", "resolved")
    ]
    timeline = [
        content.TimelineRow(e.at, e.kind, e.actor, e.from_status, e.to_status) for e in events
    ]
    sla_rows = [
        content.SlaRow(t.target, t.minutes, t.due_at, t.met_at, t.breached, t.paused)
        for t in sla.targets
    ]
    failed = sum(1 for t in temperatures if t.verdict == "fail")
    counts = {
        "n_orders": len(orders),
        "n_merchants": len({o.merchant_id for o in orders}),
        "n_batches": sum(1 for n in (figure.nodes if figure else ()) if n.kind == "batch"),
        "n_lots": sum(1 for n in (figure.nodes if figure else ()) if n.kind == "lot"),
        "n_suppliers": sum(1 for n in (figure.nodes if figure else ()) if n.kind == "supplier"),
        "n_deliveries": len(temperatures),
        "n_failed": failed,
        "sla_total": len(sla_rows),
        "sla_met": sum(1 for s in sla_rows if s.met_at and not s.breached),
        "sla_breached": sum(1 for s in sla_rows if s.breached),
    }
    return content.CaseReport(
        case_id=case_id,
        number=case.number,
        language=language,
        version=version,
        audience=audience,
        generated_at=now,
        author=author,
        status=case.status,
        category=case.category,
        severity=case.severity,
        opened_at=case.opened_at,
        n_party=case.n_party,
        n_ill=case.n_ill,
        tz=tz,
        timeline=tuple(timeline),
        sla=tuple(sla_rows),
        trace=figure,
        temperatures=tuple(temperatures),
        affected=tuple(_affected(orders, names, tz)),
        actions=tuple(sorted(actions, key=lambda a: a.at)),
        resolution=case.resolution,
        root_cause=case.root_cause,
        corrective_action=case.corrective_action,
        complainant=_complainant(session, case) if audience == "staff" else None,
        counts=counts,
        cluster=tuple(c.number for c in members) if len(members) > 1 else (),
        ranking=tuple(ranking),
        onsets=tuple(c.onset_at or c.opened_at for c in members),
    ), _citations(case, events, compensations, orders, figure)


def _citations(
    case: object,
    events: list[CaseEvent],
    compensations: list[object],
    orders: list[Order],
    figure: content.TraceFigure | None,
) -> list[tuple[str, int]]:
    """(label, ledger index) of the records the report cites, most important first."""
    number = getattr(case, "number", "")
    out: list[tuple[str, int]] = []
    for e in events:
        if e.ledger_index is not None:
            out.append((f"{number} {e.kind} {e.to_status or ''}".strip(), e.ledger_index))
    for c in compensations:
        index = getattr(c, "ledger_index", None)
        if index is not None:
            out.append((f"{number} compensation {getattr(c, 'remedy', '')}", index))
    for n in figure.nodes if figure else ():
        if n.ledger_index is not None and n.kind in ("supplier", "lot", "batch"):
            out.append((f"{n.kind} {n.label}", n.ledger_index))
    for o in orders[:50]:
        if o.placed_index is not None:
            out.append((f"order #{o.id} placed", o.placed_index))
    seen: set[int] = set()
    unique = []
    for label, index in out:
        if index not in seen:
            seen.add(index)
            unique.append((label, index))
    return unique[:MAX_CITED]


# ------------------------------------------------------------------------- cluster reports


def _cluster_actions(
    session: Session, cases: list[Case], events: list[CaseEvent], compensations: list[object]
) -> list[content.ActionRow]:
    """Compensation decisions, action-taken/resolved transitions, holds put on lots and
    batches for these cases, and exposure notices sent (counted per source and day)."""
    numbers = {c.id: c.number for c in cases}
    out = [
        content.ActionRow(
            getattr(c, "decided_at"),  # noqa: B009
            getattr(c, "remedy"),  # noqa: B009
            f"{numbers.get(getattr(c, 'case_id'), '')} "  # noqa: B009
            f"¥{getattr(c, 'amount_fen') / 100:.2f} ({getattr(c, 'status')})",  # noqa: B009
        )
        for c in compensations
    ] + [
        content.ActionRow(e.at, e.to_status or e.kind, numbers.get(e.case_id, ""))
        for e in events
        if e.to_status in ("action_taken", "resolved")
    ]
    for case in cases:  # notices.hold_source writes "<case number>: <reason>"
        holds = session.exec(
            select(StatusEvent).where(
                StatusEvent.action == "hold", col(StatusEvent.reason).startswith(f"{case.number}:")
            )
        ).all()
        for h in holds:
            target = f"lot #{h.lot_id}" if h.lot_id is not None else f"batch #{h.batch_id}"
            out.append(content.ActionRow(h.at, "hold", f"{target}: {h.reason[:80]}"))
    try:
        from complaints.models import Notice
    except ImportError:  # exposure notices arrive with complaints part 2
        return out
    ids = [c.id for c in cases if c.id is not None]
    sent = session.exec(
        select(Notice.source_kind, Notice.source_id, Notice.sent_at).where(
            col(Notice.case_id).in_(ids)
        )
    ).all()
    groups: dict[tuple[str, int, str], tuple[datetime, int]] = {}
    for kind, source, at in sent:
        key = (kind, source, at.date().isoformat())
        first, n = groups.get(key, (at, 0))
        groups[key] = (min(first, at), n + 1)
    for (kind, source, _day), (at, n) in groups.items():
        out.append(content.ActionRow(at, "notice", f"{kind} #{source}: {n}"))
    return out


def _forward_affected(
    session: Session, ranking: list[tuple[str, str, str]], names: dict[int, str], tz: str
) -> tuple[list[content.AffectedRow], str]:
    """Orders the top-ranked lot or batch reached (complaints.notices.affected_orders),
    counted by merchant and day; ([], "") when there is no such source or no notices module."""
    try:
        from complaints import notices
    except ImportError:
        return [], ""
    for kind, ident, label in ranking:
        if kind not in ("lot", "batch"):
            continue
        try:
            found = notices.affected_orders(
                session=session,
                viewer=Viewer(actor="system", role="admin"),
                kind=kind,
                ident=int(ident),
            )
        except (NotFound, TraceTooLarge, ValueError, LookupError):
            return [], ""
        if not found:
            return [], ""
        frame = pd.DataFrame(
            {
                "merchant": [names.get(a.merchant_id, f"#{a.merchant_id}") for a in found],
                "at": pd.to_datetime([a.placed_at for a in found], utc=True),
            }
        )
        frame["day"] = frame["at"].dt.tz_convert(tz).dt.date
        counts = frame.groupby(["merchant", "day"]).size().reset_index(name="orders")
        rows = [
            content.AffectedRow(str(r.merchant), r.day, int(r.orders))
            for r in counts.itertuples(index=False)
        ]
        return rows, f"{kind} {label}"
    return [], ""


def _ranked(
    session: Session, case_ids: list[int]
) -> tuple[list[content.RankRow], list[tuple[str, str, str]]]:
    """The ranking rows and the (kind, id, label) of each candidate, best first: one call of
    complaints.investigation (which ends the session's read)."""
    try:
        from complaints import investigation
    except ImportError:
        return [], []
    try:
        found = investigation.investigate(session=session, case_ids=case_ids, limit=10)
    except investigation.InvestigationError:
        return [], []
    rows = [
        content.RankRow(
            c.kind,
            c.label,
            c.exposed_cases,
            c.exposed_total,
            c.unexposed_cases,
            c.unexposed_total,
            c.relative_risk,
            c.rr_ci95[0],
            c.rr_ci95[1],
            c.fisher_p,
            c.cases_explained,
        )
        for c in found.candidates
    ]
    return rows, [(c.kind, str(c.id), c.label) for c in found.candidates]


def gather_cluster(
    *,
    session: Session,
    cluster_id: int,
    language: str,
    version: int,
    audience: str,
    author: str,
    tz: str,
    profile: str | None,
    now: datetime,
    progress: Progress = lambda _p: None,
) -> tuple[content.CaseReport, list[tuple[str, int]]]:
    """Every fact of a complaint cluster's report (its cases together, no complainant
    details in any edition), and the (label, ledger index) of the records it cites."""
    from complaints import clusters

    view = clusters.get_cluster(session=session, cluster_id=cluster_id)
    ids = sorted(c.id for c, _m in view.members if c.id is not None)
    # investigate() ends the session's read (expiring what was loaded): rank first
    ranking, sources = _ranked(session, ids)
    cases = sorted(
        session.exec(select(Case).where(col(Case.id).in_(ids))).all(),
        key=lambda c: (c.opened_at, c.id or 0),
    )
    numbers = {c.id: c.number for c in cases}
    linked = records.order_ids_of(session, ids)
    order_ids = sorted({o for i in ids for o in linked.get(i, [])})
    events = list(
        session.exec(
            select(CaseEvent)
            .where(col(CaseEvent.case_id).in_(ids))
            .order_by(col(CaseEvent.at), col(CaseEvent.id))
        ).all()
    )
    sla_rows = []
    for case in cases:
        sla = deadlines.sla_of(session=session, case=case, now=now)
        sla_rows += [
            content.SlaRow(
                t.target, t.minutes, t.due_at, t.met_at, t.breached, t.paused, case.number
            )
            for t in sla.targets
        ]
    progress(15)
    orders = _orders(session, order_ids)
    names = {m.id: m.name for m in session.exec(select(Merchant)).all() if m.id is not None}
    figure = _trace(session, orders)
    progress(30)
    temperatures = _temperatures(session, orders, profile)
    progress(45)
    onsets = tuple(c.onset_at or c.opened_at for c in cases)
    snapshot = [
        (c.id, c.number, c.status, c.category, c.severity, c.opened_at, c.n_party, c.n_ill)
        for c in cases
    ]
    affected, source = _forward_affected(session, sources, names, tz)
    if not affected:
        affected = _affected(orders, names, tz)
    progress(50)
    compensations: list[object] = []
    for i in ids:
        compensations += payouts.list_compensations(session=session, case_id=i)
    actions = _cluster_actions(session, cases, events, compensations)
    timeline = [
        content.TimelineRow(
            e.at, e.kind, f"{numbers.get(e.case_id, '')} {e.actor}", e.from_status, e.to_status
        )
        for e in events
    ]
    statuses = sorted({s[2] for s in snapshot})
    categories = sorted({s[3] for s in snapshot})
    severities = [s[4] for s in snapshot]
    order = ("critical", "high", "medium", "low")
    worst = min(severities, key=lambda v: order.index(v) if v in order else len(order))
    failed = sum(1 for t in temperatures if t.verdict == "fail")
    counts = {
        "n_cases": len(snapshot),
        "n_orders": len(orders),
        "n_affected": sum(a.orders for a in affected),
        "n_merchants": len({o.merchant_id for o in orders}),
        "n_batches": sum(1 for n in (figure.nodes if figure else ()) if n.kind == "batch"),
        "n_lots": sum(1 for n in (figure.nodes if figure else ()) if n.kind == "lot"),
        "n_suppliers": sum(1 for n in (figure.nodes if figure else ()) if n.kind == "supplier"),
        "n_deliveries": len(temperatures),
        "n_failed": failed,
        "sla_total": len(sla_rows),
        "sla_met": sum(1 for s in sla_rows if s.met_at and not s.breached),
        "sla_breached": sum(1 for s in sla_rows if s.breached),
    }
    citations: list[tuple[str, int]] = []
    for case in cases:
        mine = [e for e in events if e.case_id == case.id]
        theirs = [c for c in compensations if getattr(c, "case_id", None) == case.id]
        citations += _citations(case, mine, theirs, [], None)
    citations += _citations(None, [], [], orders, figure)
    seen: set[int] = set()
    unique = [(lb, i) for lb, i in citations if not (i in seen or seen.add(i))]  # type: ignore[func-returns-value]
    return content.CaseReport(
        case_id=0,
        number=f"CL-{cluster_id}",
        language=language,
        version=version,
        audience=audience,
        generated_at=now,
        author=author,
        status=statuses[0] if len(statuses) == 1 else ", ".join(statuses),
        category=categories[0] if len(categories) == 1 else ", ".join(categories),
        severity=worst,
        opened_at=min(s[5] for s in snapshot),
        n_party=sum(s[6] for s in snapshot),
        n_ill=sum(s[7] for s in snapshot),
        tz=tz,
        timeline=tuple(timeline),
        sla=tuple(sla_rows),
        trace=figure,
        temperatures=tuple(temperatures),
        affected=tuple(affected),
        actions=tuple(sorted(actions, key=lambda a: a.at)),
        complainant=None,
        counts=counts,
        cluster=tuple(s[1] for s in snapshot),
        ranking=tuple(ranking),
        onsets=onsets,
        kind="cluster",
        affected_source=source,
    ), unique[:MAX_CITED]
