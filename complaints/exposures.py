"""What each order exposed its customer to: merchant, menu item, batch, lot, supplier, courier.

Read-only SQL over the orders module's tables (orders, order_lines, order_deliveries) and the
trace module's links (batch_allocations: order line → batch; transformation_inputs: batch →
lots and sub-batches, followed upstream to the end; ingredient_lots.supplier_id). Upstream
candidates therefore work across merchants: the batches of three merchants made from one
lettuce lot all point at that lot (and at its supplier).

`load_cohort` gives a cohort of orders with one (order, candidate) pair per exposure, ready for
:func:`complaints.epidemiology.cohort_counts`: the window's orders, lines, allocations and
deliveries are read in one indexed pass as plain tuples, upstream links are joined with
pandas (a week of 100,000 orders is a few hundred thousand pairs). `order_keys` gives the
same exposures as "kind:id" keys for a handful of orders (the cluster check on opening a
case) in plain Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection, bindparam, text

from columns import UTCDateTime

__all__ = [
    "KINDS",
    "NOT_EATEN",
    "Cohort",
    "Span",
    "candidate_labels",
    "load_cohort",
    "order_keys",
    "raw_rows",
]

KINDS = ("batch", "lot", "supplier", "merchant", "menu_item", "courier")
NOT_EATEN = ("rejected", "cancelled")  # orders that never reached anybody
CHUNK = 5_000
_GONE = "(" + ", ".join(f"'{s}'" for s in NOT_EATEN) + ")"  # constants of this module

# One row per order line and its batch (an order's every exposure but upstream ones), read in
# one pass over the window: the orders, lines, allocations and deliveries indexes are walked
# once (four separate reads cost twice as much on a semester-sized SQLite file).
_COHORT = (
    "SELECT o.id, o.user_id, o.merchant_id, l.menu_item_id, a.batch_id, d.courier_id "
    "FROM orders o "
    "LEFT JOIN order_lines l ON l.order_id = o.id "
    "LEFT JOIN batch_allocations a ON a.order_line_id = l.id "
    "LEFT JOIN order_deliveries d ON d.order_id = o.id "
    "WHERE {scope}"
)
_COLUMNS = ("id", "user_id", "merchant_id", "menu_item_id", "batch_id", "courier_id")


@dataclass(frozen=True)
class Span:
    """Orders placed from ``since`` to ``until``; ``until`` itself belongs to the span only when
    ``closed`` (a day is the half-open [midnight, next midnight), so an order placed exactly at
    midnight belongs to one day only)."""

    since: datetime
    until: datetime
    closed: bool = True


@dataclass(frozen=True)
class Cohort:
    """Orders (sorted ids) and, per candidate kind, the (order position, candidate id) pairs."""

    order_ids: npt.NDArray[np.int64]
    user_ids: npt.NDArray[np.int64]
    pairs: dict[str, pd.DataFrame]  # kind -> columns "pos", "ref" (may repeat)

    def positions(self, order_ids: Iterable[int]) -> npt.NDArray[np.int64]:
        """Positions of the given orders in the cohort (those not in it are left out)."""
        wanted = np.asarray(sorted(set(order_ids)), dtype=np.int64)
        pos = np.searchsorted(self.order_ids, wanted)
        ok = pos < self.order_ids.size
        ok[ok] = self.order_ids[pos[ok]] == wanted[ok]
        return pos[ok]


def raw_rows(result: Any) -> list[tuple[Any, ...]]:
    """All rows as plain tuples from the DBAPI cursor (no Row objects: a hundred thousand of
    them cost more than the query). Only for columns that need no result processing."""
    cursor = result.cursor
    try:
        return cursor.fetchall()  # type: ignore[no-any-return]
    finally:
        result.close()


def _matrix(result: Any) -> npt.NDArray[np.float64]:
    """The rows as a float matrix (NULL → NaN; ids stay exact below 2**53)."""
    rows = raw_rows(result)
    if not rows:
        return np.zeros((0, len(_COLUMNS)))
    return np.array(rows, dtype=np.float64)


def _scoped(conn: Connection, spans: Sequence[Span], extra_ids: Sequence[int]) -> pd.DataFrame:
    """Cohort rows for orders placed in the spans (not rejected or cancelled) plus the extras."""
    parts = []
    if spans and conn.dialect.name == "postgresql":
        # The window is a few percent of the orders: index probes, not hash joins over whole
        # order_lines/order_deliveries, which the default cost of 4 (disks) picks; this
        # transaction only (docs/decisions/0008).
        conn.exec_driver_sql("SET LOCAL random_page_cost = 1.1")
    for span in spans:
        upper = "<=" if span.closed else "<"
        scope = (
            f"o.created_at >= :since AND o.created_at {upper} :until AND o.status NOT IN {_GONE}"
        )
        stmt = text(_COHORT.format(scope=scope)).bindparams(
            bindparam("since", span.since, type_=UTCDateTime()),
            bindparam("until", span.until, type_=UTCDateTime()),
        )
        parts.append(_matrix(conn.execute(stmt)))
    ids = sorted(set(extra_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ",".join(str(int(i)) for i in ids[start : start + CHUNK])
        parts.append(_matrix(conn.execute(text(_COHORT.format(scope=f"o.id IN ({chunk})")))))
    data = np.concatenate(parts) if parts else np.zeros((0, len(_COLUMNS)))
    return pd.DataFrame(data, columns=list(_COLUMNS))


def _upstream(conn: Connection, batch_ids: Iterable[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(batch, ancestor batch) and (batch, lot) pairs: every sub-batch and lot upstream of each
    batch, the batch itself included among its "ancestors"."""
    edges: list[tuple[int, int | None, int | None]] = []
    frontier = sorted({int(b) for b in batch_ids})
    seen = set(frontier)
    while frontier:
        found: set[int] = set()
        for start in range(0, len(frontier), CHUNK):
            chunk = ",".join(map(str, frontier[start : start + CHUNK]))
            rows = raw_rows(
                conn.exec_driver_sql(
                    "SELECT batch_id, lot_id, input_batch_id FROM transformation_inputs "  # noqa: S608  (ids are ints we produced)
                    f"WHERE batch_id IN ({chunk})"
                )
            )
            edges += rows  # type: ignore[arg-type]
            found |= {sub for _b, _l, sub in rows if sub is not None and sub not in seen}
        seen |= found
        frontier = sorted(found)
    inputs = pd.DataFrame(edges, columns=["anc", "lot", "sub"])
    subs = inputs.dropna(subset=["sub"])[["anc", "sub"]].astype("int64").drop_duplicates()
    lots = inputs.dropna(subset=["lot"])[["anc", "lot"]].astype("int64").drop_duplicates()
    every = np.asarray(sorted(seen), dtype=np.int64)
    closure = pd.DataFrame({"batch_id": every, "anc": every})
    step = closure
    for _depth in range(64):  # sub-batch chains are short; trace refuses cycles
        step = step.merge(subs, on="anc")[["batch_id", "sub"]].rename(columns={"sub": "anc"})
        if step.empty:
            break
        grown = pd.concat([closure, step], ignore_index=True).drop_duplicates(ignore_index=True)
        if len(grown) == len(closure):
            break
        closure = grown
    up_lots = closure.merge(lots, on="anc")[["batch_id", "lot"]].drop_duplicates()
    return (
        closure.rename(columns={"anc": "ref"}),
        up_lots.rename(columns={"lot": "ref"}).reset_index(drop=True),
    )


def _pairs(frame: pd.DataFrame, pos: str, ref: str) -> pd.DataFrame:
    """(order position, candidate id) pairs; repeats are left in (cohort_counts counts each
    pair once, and de-duplicating millions of pairs here cost seconds on a semester)."""
    out = frame[[pos, ref]].dropna()
    return pd.DataFrame({"pos": out[pos].to_numpy(np.int64), "ref": out[ref].to_numpy(np.int64)})


def load_cohort(
    conn: Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    extra_order_ids: Sequence[int] = (),
    spans: Sequence[Span] | None = None,
) -> Cohort:
    """Every order placed in [since, until] (or, when ``spans`` are given instead, in those
    spans) and the extra ones (e.g. the cases' own orders), with its exposures."""
    if spans is None:
        spans = [Span(since, until)] if since is not None and until is not None else []
    rows = _scoped(conn, spans, extra_order_ids)
    orders = rows[["id", "user_id", "merchant_id"]].drop_duplicates("id")
    orders = orders.sort_values("id", ignore_index=True)
    order_ids = orders["id"].to_numpy(np.int64)
    rows["pos"] = np.searchsorted(order_ids, rows["id"].to_numpy(np.int64))
    allocations = rows[["pos", "batch_id"]].dropna().astype(np.int64)
    served = allocations[["pos", "batch_id"]].drop_duplicates()
    up_batches, up_lots = _upstream(conn, served["batch_id"].tolist())
    batches = served.merge(up_batches, on="batch_id")
    lots = served.merge(up_lots, on="batch_id")
    lot_ids = sorted(set(lots["ref"].tolist()))
    suppliers_of = _lot_suppliers(conn, lot_ids)
    supplied = lots.merge(suppliers_of, left_on="ref", right_on="lot_id")
    merchants = pd.DataFrame({"pos": np.arange(order_ids.size), "ref": orders["merchant_id"]})
    pairs = {
        "batch": _pairs(batches, "pos", "ref"),
        "lot": _pairs(lots, "pos", "ref"),
        "supplier": _pairs(supplied, "pos", "supplier_id"),
        "merchant": _pairs(merchants, "pos", "ref"),
        "menu_item": _pairs(rows, "pos", "menu_item_id"),
        "courier": _pairs(rows, "pos", "courier_id"),
    }
    return Cohort(order_ids, orders["user_id"].to_numpy(np.int64), pairs)


def _lot_suppliers(conn: Connection, lot_ids: Sequence[int]) -> pd.DataFrame:
    rows: list[tuple[int, int]] = []
    for start in range(0, len(lot_ids), CHUNK):
        chunk = ",".join(map(str, lot_ids[start : start + CHUNK]))
        rows += raw_rows(
            conn.exec_driver_sql(
                "SELECT id, supplier_id FROM ingredient_lots "  # noqa: S608  (ids are ints we produced)
                f"WHERE id IN ({chunk}) AND supplier_id IS NOT NULL"
            )
        )
    return pd.DataFrame(rows, columns=["lot_id", "supplier_id"], dtype="int64")


_LABELS = {
    "batch": (
        "SELECT b.id, b.batch_code, m.name, p.name FROM dish_batches b "
        "JOIN merchants m ON m.id = b.merchant_id JOIN products p ON p.id = b.product_id "
        "WHERE b.id IN ({ids})",
        "{1} · {3} · {2}",
    ),
    "lot": (
        "SELECT l.id, l.tlc, m.name, p.name FROM ingredient_lots l "
        "JOIN merchants m ON m.id = l.merchant_id JOIN products p ON p.id = l.product_id "
        "WHERE l.id IN ({ids})",
        "{3} lot {1} · {2}",
    ),
    "supplier": ("SELECT id, name FROM suppliers WHERE id IN ({ids})", "{1}"),
    "merchant": ("SELECT id, name FROM merchants WHERE id IN ({ids})", "{1}"),
    "menu_item": (
        "SELECT i.id, i.name, m.name FROM menu_items i JOIN merchants m ON m.id = i.merchant_id "
        "WHERE i.id IN ({ids})",
        "{1} · {2}",
    ),
    # Couriers are people: shown by account id only (the desk looks the name up if needed).
    "courier": ("SELECT id FROM users WHERE id IN ({ids})", "courier #{0}"),
}


def candidate_labels(
    conn: Connection, wanted: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """Display labels of candidates (kind, id); unknown ones are labelled "<kind> #<id>"."""
    by_kind: dict[str, list[int]] = {}
    for kind, ident in wanted:
        by_kind.setdefault(kind, []).append(int(ident))
    out: dict[tuple[str, int], str] = {}
    for kind, ids in by_kind.items():
        sql, fmt = _LABELS[kind]
        unique = sorted(set(ids))
        for start in range(0, len(unique), CHUNK):
            chunk = ",".join(map(str, unique[start : start + CHUNK]))
            for row in conn.exec_driver_sql(sql.format(ids=chunk)).fetchall():
                out[(kind, int(row[0]))] = fmt.format(*row)
        for ident in unique:
            out.setdefault((kind, ident), f"{kind.replace('_', ' ')} #{ident}")
    return out


def _upstream_small(
    conn: Connection, batch_ids: Sequence[int]
) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """Per batch, its ancestor batches (itself included) and the lots upstream of it."""
    direct_lots: dict[int, set[int]] = {}
    direct_subs: dict[int, set[int]] = {}
    frontier, seen = sorted(set(batch_ids)), set(batch_ids)
    while frontier:
        found: set[int] = set()
        for start in range(0, len(frontier), CHUNK):
            chunk = ",".join(map(str, frontier[start : start + CHUNK]))
            for batch, lot, sub in raw_rows(
                conn.exec_driver_sql(
                    "SELECT batch_id, lot_id, input_batch_id FROM transformation_inputs "  # noqa: S608  (ids are ints we produced)
                    f"WHERE batch_id IN ({chunk})"
                )
            ):
                if lot is not None:
                    direct_lots.setdefault(batch, set()).add(lot)
                if sub is not None:
                    direct_subs.setdefault(batch, set()).add(sub)
                    if sub not in seen:
                        seen.add(sub)
                        found.add(sub)
        frontier = sorted(found)
    anc: dict[int, set[int]] = {}
    lots: dict[int, set[int]] = {}
    for batch in batch_ids:
        todo, reached = [batch], {batch}
        while todo:  # trace refuses cycles; `reached` guards against bad data anyway
            for sub in direct_subs.get(todo.pop(), ()):
                if sub not in reached:
                    reached.add(sub)
                    todo.append(sub)
        anc[batch] = reached
        lots[batch] = set().union(*(direct_lots.get(b, set()) for b in reached))
    return anc, lots


def order_keys(conn: Connection, order_ids: Sequence[int]) -> dict[int, set[str]]:
    """ "kind:id" exposure keys per order, for a few orders (the cluster check on opening a
    case): the same links as :func:`load_cohort`, in plain Python (pandas' per-call overhead
    dominates at this size)."""
    ids = sorted({int(o) for o in order_ids})
    out: dict[int, set[str]] = {o: set() for o in ids}
    batches_of: dict[int, set[int]] = {}

    def rows(sql: str, part: list[int]) -> list[tuple[Any, ...]]:
        return raw_rows(conn.exec_driver_sql(sql.format(ids=",".join(map(str, part)))))

    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        for o, m in rows("SELECT id, merchant_id FROM orders WHERE id IN ({ids})", part):
            out[o].add(f"merchant:{m}")
        for o, item, batch in rows(
            "SELECT l.order_id, l.menu_item_id, a.batch_id FROM order_lines l "
            "LEFT JOIN batch_allocations a ON a.order_line_id = l.id WHERE l.order_id IN ({ids})",
            part,
        ):
            out[o].add(f"menu_item:{item}")
            if batch is not None:
                batches_of.setdefault(o, set()).add(batch)
        for o, courier in rows(
            "SELECT order_id, courier_id FROM order_deliveries WHERE order_id IN ({ids})", part
        ):
            out[o].add(f"courier:{courier}")
    served = sorted({b for bs in batches_of.values() for b in bs})
    if not served:
        return out
    anc, lots = _upstream_small(conn, served)
    all_lots = sorted({lot for ls in lots.values() for lot in ls})
    suppliers = _lot_suppliers(conn, all_lots)
    supplier_of = dict(
        zip(suppliers["lot_id"].tolist(), suppliers["supplier_id"].tolist(), strict=True)
    )
    for o, bs in batches_of.items():
        for b in bs:
            out[o] |= {f"batch:{a}" for a in anc.get(b, {b})}
            for lot in lots.get(b, ()):
                out[o].add(f"lot:{lot}")
                if lot in supplier_of:
                    out[o].add(f"supplier:{supplier_of[lot]}")
    return out
