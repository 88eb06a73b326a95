"""Clusters: complaints linked automatically because their orders share a merchant, menu item,
batch, ingredient lot, supplier or courier within their exposure windows (DOMAIN.md §4).

A case's exposures are those of its orders placed inside its widest exposure window
(``[onset − longest incubation, onset]`` over complaints/pathogens.json; the opening time when
there is no onset). A new or corrected case is compared with the other cases whose reference
time lies within that longest incubation of its own, through `complaint_case_exposures` (each
case's "kind:id" keys, rewritten when it is linked, so a new case costs one indexed lookup
however many cases are open); it joins the cluster of the cases it shares something with
(clusters it bridges are merged into the oldest). A cluster holding at
least two *unrelated* cases (no common complainant account, phone or email, and no common
order) raises one alert: a ledger entry and the banner the desk sees on its case list.

Runs inside the caller's transaction (no commit); every cluster row change is a ledger entry
(the exposure index is bookkeeping derived from the orders and trace records).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

import ledger
from complaints import exposures, incubation, records
from complaints.models import Case, CaseExposure, Cluster, ClusterMember
from orders.models import Order

__all__ = [
    "ClusterView",
    "alerts",
    "cluster_of",
    "get_cluster",
    "link_case",
    "list_clusters",
    "lookback",
    "related",
]


def lookback() -> timedelta:
    """The longest incubation in the pathogen table: how far apart linked cases may be."""
    return timedelta(hours=max(p.max_hours for p in incubation.default_pathogens()))


def _reference(case: Case) -> datetime:
    return case.onset_at or case.opened_at


def _in_window(
    session: Session, cases: Sequence[Case], orders_of: dict[int, list[int]]
) -> dict[int, list[int]]:
    """Per case, its orders placed inside [reference − lookback, reference]."""
    ids = sorted({o for orders in orders_of.values() for o in orders})
    placed: dict[int, datetime] = {}
    for start in range(0, len(ids), exposures.CHUNK):
        rows = session.exec(
            select(Order.id, Order.created_at).where(
                col(Order.id).in_(ids[start : start + exposures.CHUNK])
            )
        ).all()
        placed.update({i: at for i, at in rows if i is not None})
    back = lookback()
    out = {}
    for case in cases:
        assert case.id is not None
        ref = _reference(case)
        out[case.id] = [
            o for o in orders_of[case.id] if o in placed and ref - back <= placed[o] <= ref
        ]
    return out


def _keys(session: Session, orders_of: dict[int, list[int]]) -> dict[int, set[str]]:
    """ "kind:id" exposure keys per case."""
    every = sorted({o for orders in orders_of.values() for o in orders})
    per_order = exposures.order_keys(session.connection(), every) if every else {}
    return {
        case_id: set().union(*(per_order.get(o, set()) for o in orders))
        for case_id, orders in orders_of.items()
    }


def related(a: Case, b: Case, orders_a: Sequence[int], orders_b: Sequence[int]) -> bool:
    """Same complainant (account, phone or email) or a common order: one party, not two."""
    if set(orders_a) & set(orders_b):
        return True
    for attr in ("complainant_user_id", "complainant_phone", "complainant_email"):
        va, vb = getattr(a, attr), getattr(b, attr)
        if va is not None and va == vb:
            return True
    return False


def _entry(
    type_: str, actor: str, at: datetime, subject: dict[str, Any], payload: dict[str, Any]
) -> ledger.Event:
    return ledger.Event(type=type_, actor=actor, ts=at, subject=subject, payload=payload)


def link_case(session: Session, case: Case, *, actor: str, now: datetime) -> Cluster | None:
    """Link the case to the cases it shares an exposure with; returns its cluster (or None)."""
    assert case.id is not None
    own_orders = records.order_ids_of(session, [case.id])
    own_window = _in_window(session, [case], own_orders)
    mine = sorted(_keys(session, own_window)[case.id]) if own_window[case.id] else []
    ref, back = _reference(case), lookback()
    session.exec(delete(CaseExposure).where(col(CaseExposure.case_id) == case.id))  # type: ignore[call-overload]
    session.add_all(CaseExposure(case_id=case.id, key=k, at=ref) for k in mine)
    if not mine:  # no known order in its window: nothing to share
        return None
    shared: dict[int, list[str]] = {}
    for start in range(0, len(mine), 500):
        rows = session.exec(
            select(CaseExposure.case_id, CaseExposure.key).where(
                col(CaseExposure.key).in_(mine[start : start + 500]),
                CaseExposure.case_id != case.id,
                col(CaseExposure.at) >= ref - back,
                col(CaseExposure.at) <= ref + back,
            )
        ).all()
        for other, key in rows:
            shared.setdefault(other, []).append(key)
    shared = {other: sorted(keys) for other, keys in sorted(shared.items())}
    if not shared:
        return None
    members = {
        m.case_id: m
        for m in session.exec(
            select(ClusterMember).where(col(ClusterMember.case_id).in_([case.id, *shared]))
        ).all()
    }
    cluster_ids = sorted({m.cluster_id for m in members.values()})
    entries: list[tuple[ledger.Event, Any]] = []
    if cluster_ids:
        target = session.get(Cluster, cluster_ids[0])
        assert target is not None
    else:
        target = Cluster(opened_at=now, status="open")
        session.add(target)
        session.flush()
        opened = {"opened_at": now, "status": "open", "merged_into": None, "alerted_at": None}
        entries.append(
            (_entry("complaint.cluster_opened", actor, now, {"cluster": target.id}, opened), target)
        )
    assert target.id is not None
    for other_id in cluster_ids[1:]:  # bridged clusters merge into the oldest
        other = session.get(Cluster, other_id)
        assert other is not None
        other.status, other.merged_into = "merged", target.id
        entries.append(
            (
                _entry("complaint.cluster_merged", actor, now, {"cluster": other_id},
                       {"status": "merged", "merged_into": target.id}),
                other,
            )
        )  # fmt: skip
        moved = session.exec(
            select(ClusterMember).where(ClusterMember.cluster_id == other_id)
        ).all()
        for m in moved:
            members[m.case_id] = m
    joining = {case.id: sorted({k for ks in shared.values() for k in ks}), **shared}
    for case_id in sorted(set(joining) | set(members)):
        member = members.get(case_id)
        if member is None:
            member = ClusterMember(
                case_id=case_id, cluster_id=target.id, shared=joining[case_id], linked_at=now
            )
            session.add(member)
        elif member.cluster_id != target.id:  # from a merged cluster
            member.cluster_id = target.id
            member.shared = sorted(set(member.shared) | set(joining.get(case_id, [])))
            member.linked_at = now
        elif case_id == case.id and set(joining[case_id]) - set(member.shared):
            member.shared = sorted(set(member.shared) | set(joining[case_id]))
            member.linked_at = now
        else:  # already in this cluster: its own links stand
            continue
        subject = {"member": case_id, "cluster": target.id}
        linked = {"cluster_id": target.id, "shared": list(member.shared), "linked_at": now}
        entries.append((_entry("complaint.cluster_linked", actor, now, subject, linked), member))
    session.flush()
    if target.alerted_at is None and _unrelated_pair(session, target.id):
        target.alerted_at = now
        entries.append(
            (
                _entry("complaint.cluster_alert", actor, now, {"cluster": target.id},
                       {"alerted_at": now}),
                target,
            )
        )  # fmt: skip
    if not entries:
        return target
    written = ledger.append_many(session, [e for e, _ in entries])
    for (_e, row), w in zip(entries, written, strict=True):
        row.ledger_index = w.index
    session.flush()
    return target


def _unrelated_pair(session: Session, cluster_id: int) -> bool:
    ids = [
        m.case_id
        for m in session.exec(
            select(ClusterMember).where(ClusterMember.cluster_id == cluster_id)
        ).all()
    ]
    cases = session.exec(select(Case).where(col(Case.id).in_(ids))).all()
    orders_of = records.order_ids_of(session, ids)
    return any(
        not related(a, b, orders_of[a.id], orders_of[b.id])  # type: ignore[index]
        for a, b in combinations(cases, 2)
    )


@dataclass(frozen=True)
class ClusterView:
    """A cluster with its member cases (newest first) and what each shares."""

    cluster: Cluster
    members: list[tuple[Case, ClusterMember]]

    def as_dict(self) -> dict[str, Any]:
        c = self.cluster
        return {
            "id": c.id,
            "opened_at": c.opened_at.isoformat(),
            "status": c.status,
            "merged_into": c.merged_into,
            "alerted_at": c.alerted_at.isoformat() if c.alerted_at else None,
            "cases": [
                {
                    "id": case.id,
                    "number": case.number,
                    "status": case.status,
                    "severity": case.severity,
                    "category": case.category,
                    "onset_at": case.onset_at.isoformat() if case.onset_at else None,
                    "opened_at": case.opened_at.isoformat(),
                    "shared": list(m.shared),
                }
                for case, m in self.members
            ],
        }


class ClusterNotFound(LookupError):
    """No such cluster."""


def get_cluster(*, session: Session, cluster_id: int) -> ClusterView:
    """A cluster and its cases."""
    cluster = session.get(Cluster, cluster_id)
    if cluster is None:
        raise ClusterNotFound(f"no cluster {cluster_id}")
    rows = session.exec(
        select(Case, ClusterMember)
        .join(ClusterMember, col(ClusterMember.case_id) == col(Case.id))
        .where(ClusterMember.cluster_id == cluster_id)
        .order_by(col(Case.opened_at).desc())
    ).all()
    return ClusterView(cluster, [(c, m) for c, m in rows])


def list_clusters(*, session: Session, limit: int = 100) -> list[tuple[Cluster, int]]:
    """Open clusters, newest first, with their number of cases."""
    clusters = session.exec(
        select(Cluster)
        .where(Cluster.status == "open")
        .order_by(col(Cluster.id).desc())
        .limit(limit)
    ).all()
    ids = [c.id for c in clusters]
    counts: dict[int, int] = {}
    for m in session.exec(
        select(ClusterMember).where(col(ClusterMember.cluster_id).in_(ids))
    ).all():
        counts[m.cluster_id] = counts.get(m.cluster_id, 0) + 1
    return [(c, counts.get(c.id or 0, 0)) for c in clusters]


def alerts(*, session: Session, limit: int = 20) -> list[tuple[Cluster, int]]:
    """Open clusters that raised an alert, newest alert first (the desk's banner)."""
    return [
        (c, n)
        for c, n in sorted(
            list_clusters(session=session, limit=500),
            key=lambda cn: cn[0].alerted_at or cn[0].opened_at,
            reverse=True,
        )
        if c.alerted_at is not None
    ][:limit]


def cluster_of(session: Session, case_id: int) -> ClusterMember | None:
    """The case's cluster membership, if any."""
    return session.get(ClusterMember, case_id)
