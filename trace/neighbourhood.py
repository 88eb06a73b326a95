"""Loading the part of the trace graph one query needs, level by level, from SQL.

A trace never reads the whole database: starting from one node it asks, per level, for the
edges touching the frontier (one batched `IN (...)` query per edge source), until nothing new
is reached. The loaded edges then go through the pure `trace.graph` functions.

Edge sources are a registry keyed by node kind and direction, so the orders module can add
order line → order → customer edges without this module knowing its tables:

    from trace.neighbourhood import register_edges, register_node_info
    register_edges("order_line", downstream=order_of_lines, upstream=None)
    register_node_info("order", order_labels)  # asked before any earlier order loader

An edge loader takes (connection, ids as str, Window) and returns `trace.graph.Edge`s; a node
info loader takes (connection, ids as str) and returns {id: NodeInfo}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection

from trace.graph import Direction, Edge, NodeId, TraceGraph

CHUNK = 5_000  # ids per IN (...) list: below SQLite's 32,766 and PostgreSQL's 65,535 parameters


@dataclass(frozen=True, slots=True)
class Window:
    """Forward traces follow only links made within [since, until] (None: unbounded)."""

    since: datetime | None = None
    until: datetime | None = None


class NodeInfo(NamedTuple):
    """What a trace answer says about a node besides its kind and id (a NamedTuple: traces
    make tens of thousands, and tuples are built several times faster than frozen dataclasses)."""

    label: str
    ledger_index: int | None = None
    merchant_id: int | None = None
    at: datetime | None = None
    status: str | None = None
    known: bool = True  # False: no loader knew the node (only its kind and id are shown)


EdgeLoader = Callable[[Connection, Sequence[str], Window], Iterable[Edge]]
InfoLoader = Callable[[Connection, Sequence[str]], Mapping[str, NodeInfo]]
UPSTREAM: dict[str, list[EdgeLoader]] = {}
DOWNSTREAM: dict[str, list[EdgeLoader]] = {}
NODE_INFO: dict[str, list[InfoLoader]] = {}  # per kind, the latest registered first


class TooManyNodes(Exception):
    """The trace reached more nodes than allowed."""


def register_edges(
    kind: str, *, upstream: EdgeLoader | None = None, downstream: EdgeLoader | None = None
) -> None:
    """Add loaders of the edges entering (upstream) / leaving (downstream) nodes of `kind`."""
    for registry, loader in ((UPSTREAM, upstream), (DOWNSTREAM, downstream)):
        if loader is not None and loader not in registry.setdefault(kind, []):
            registry[kind].append(loader)


def register_node_info(kind: str, loader: InfoLoader) -> None:
    """Add a loader of labels and ledger indexes for nodes of `kind`; it is asked first, and the
    ids it does not know go to the loaders registered before it (idempotent)."""
    loaders = NODE_INFO.setdefault(kind, [])
    if loader not in loaders:
        loaders.insert(0, loader)


def _ints(ids: Sequence[str]) -> list[int]:
    return [int(i) for i in ids]


def _chunked(ids: Sequence[str]) -> Iterable[list[int]]:
    values = _ints(ids)
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def load(
    connection: Connection,
    start: NodeId,
    direction: Direction,
    *,
    window: Window = Window(),
    max_nodes: int = 250_000,
) -> TraceGraph:
    """The subgraph reachable from `start` in `direction`, read level by level."""
    registry = UPSTREAM if direction == "backward" else DOWNSTREAM
    seen: set[NodeId] = {start}
    frontier: dict[str, list[str]] = {start[0]: [start[1]]}
    edges: list[Edge] = []
    while frontier:
        found: dict[str, list[str]] = {}
        for kind, ids in frontier.items():
            for loader in registry.get(kind, ()):
                for edge in loader(connection, ids, window):
                    edges.append(edge)
                    node = edge.src if direction == "backward" else edge.dst
                    if node not in seen:
                        seen.add(node)
                        found.setdefault(node[0], []).append(node[1])
        if len(seen) > max_nodes:
            raise TooManyNodes(f"the trace reaches more than {max_nodes} nodes")
        frontier = found
    return TraceGraph.from_edges(edges, nodes=[start])


def node_info(connection: Connection, nodes: Iterable[NodeId]) -> dict[NodeId, NodeInfo]:
    """Labels, ledger indexes and owners of nodes, one batched query per kind."""
    by_kind: dict[str, list[str]] = {}
    for kind, ident in nodes:
        by_kind.setdefault(kind, []).append(ident)
    out: dict[NodeId, NodeInfo] = {}
    for kind, ids in by_kind.items():
        found: dict[str, NodeInfo] = {}
        for loader in NODE_INFO.get(kind, ()):
            unknown = [ident for ident in ids if ident not in found]
            if not unknown:
                break
            found.update(loader(connection, unknown))
        for ident in ids:
            out[(kind, ident)] = found.get(ident) or NodeInfo(f"{kind} {ident}", known=False)
    return out


def batch_descendants(connection: Connection, batch_id: int) -> list[tuple[int, int]]:
    """(input batch, batch) links downstream of a batch (for cycle checks)."""
    sql = (
        "SELECT input_batch_id, batch_id FROM transformation_inputs WHERE input_batch_id IN ({ids})"
    )
    links: list[tuple[int, int]] = []
    seen = {batch_id}
    frontier = [str(batch_id)]
    while frontier:
        found: list[str] = []
        for src, dst in query_ids(connection, sql, frontier):
            links.append((int(src), int(dst)))
            if dst not in seen:
                seen.add(dst)
                found.append(str(dst))
        frontier = found
    return links


# ------------------------------------------------------------------ built-in edge sources
# Plain SQL with the id list written in: a trace runs a dozen such queries, and building them
# through the SQL expression layer cost more than running them (ids are ints we produced).


def query_ids(conn: Connection, sql: str, ids: Sequence[str]) -> Iterator[Any]:
    """Rows of `sql` ("... IN ({ids})", driver-level SQL) for the integer ids, in chunks (each
    fetched at once). The ids are written into the SQL as integers (`int()` refuses anything
    else), which costs far less than an expanding bind parameter per id; timestamps come back
    as the driver gives them (text on SQLite: see `as_utc`). For the other domains' loaders."""
    for part in _chunked(ids):
        yield from conn.exec_driver_sql(sql.format(ids=",".join(map(str, part)))).fetchall()


@lru_cache(maxsize=65_536)
def _parse_utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def as_utc(value: Any) -> datetime | None:
    """A driver's timestamp as an aware UTC datetime (SQLite hands back text; the same times
    repeat down a trace, so text is parsed once)."""
    if value is None:
        return None
    if isinstance(value, str):
        return _parse_utc(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _inside(at: datetime | None, window: Window) -> bool:
    return at is None or (
        (window.since is None or at >= window.since)
        and (window.until is None or at <= window.until)
    )


_LOTS_OF = (
    "SELECT id, supplier_id, quantity, received_at FROM ingredient_lots WHERE {column} IN ({{ids}})"
)


def _supplied(conn: Connection, sql: str, ids: Sequence[str], window: Window) -> Iterable[Edge]:
    for lot_id, supplier_id, quantity, at in query_ids(conn, sql, ids):
        at = as_utc(at)
        if supplier_id is not None and _inside(at, window):
            yield Edge(
                ("supplier", str(supplier_id)), ("lot", str(lot_id)), "supplied", quantity, at
            )


def _lot_suppliers(conn: Connection, ids: Sequence[str], _w: Window) -> Iterable[Edge]:
    return _supplied(conn, _LOTS_OF.format(column="id"), ids, Window())


def _supplier_lots(conn: Connection, ids: Sequence[str], window: Window) -> Iterable[Edge]:
    return _supplied(conn, _LOTS_OF.format(column="supplier_id"), ids, window)


_INPUTS_OF = (
    "SELECT ti.batch_id, ti.lot_id, ti.input_batch_id, ti.quantity, b.completed_at "
    "FROM transformation_inputs ti JOIN dish_batches b ON b.id = ti.batch_id "
    "WHERE ti.{column} IN ({{ids}})"
)


def _inputs(column: str) -> EdgeLoader:
    sql = _INPUTS_OF.format(column=column)

    def loader(conn: Connection, ids: Sequence[str], window: Window) -> Iterable[Edge]:
        for batch_id, lot_id, input_batch_id, quantity, at in query_ids(conn, sql, ids):
            at = as_utc(at)
            if _inside(at, window):
                src = ("lot", str(lot_id)) if lot_id is not None else ("batch", str(input_batch_id))
                yield Edge(src, ("batch", str(batch_id)), "input", quantity, at)

    return loader


_ALLOCATIONS_OF = (
    "SELECT batch_id, order_line_id, quantity, allocated_at FROM batch_allocations "
    "WHERE {column} IN ({{ids}})"
)


def _allocations(column: str) -> EdgeLoader:
    sql = _ALLOCATIONS_OF.format(column=column)

    def loader(conn: Connection, ids: Sequence[str], window: Window) -> Iterable[Edge]:
        for batch_id, line_id, quantity, at in query_ids(conn, sql, ids):
            at = as_utc(at)
            if _inside(at, window):
                yield Edge(
                    ("batch", str(batch_id)), ("order_line", str(line_id)), "served", quantity, at
                )

    return loader


# ------------------------------------------------------------------ built-in node info


def _supplier_info(conn: Connection, ids: Sequence[str]) -> dict[str, NodeInfo]:
    sql = "SELECT id, name, ledger_index FROM suppliers WHERE id IN ({ids})"
    return {
        str(i): NodeInfo(label=name, ledger_index=index)
        for i, name, index in query_ids(conn, sql, ids)
    }


_LOT_INFO = (
    "SELECT r.id, r.tlc, p.name, r.ledger_index, r.merchant_id, r.received_at, r.status "
    "FROM ingredient_lots r JOIN products p ON p.id = r.product_id WHERE r.id IN ({ids})"
)
_BATCH_INFO = (
    "SELECT r.id, r.batch_code, p.name, r.ledger_index, r.merchant_id, r.completed_at, r.status "
    "FROM dish_batches r JOIN products p ON p.id = r.product_id WHERE r.id IN ({ids})"
)


def _record_info(sql: str) -> InfoLoader:
    def loader(conn: Connection, ids: Sequence[str]) -> dict[str, NodeInfo]:
        return {
            str(ident): NodeInfo(f"{code} · {product}", index, merchant, as_utc(when), status)
            for ident, code, product, index, merchant, when, status in query_ids(conn, sql, ids)
        }

    return loader


_LINE_INDEX = (
    "SELECT order_line_id, MIN(ledger_index) FROM batch_allocations "
    "WHERE order_line_id IN ({ids}) GROUP BY order_line_id"
)
# PostgreSQL plans the IN-list form above as a parallel scan of every allocation once a trace
# reaches thousands of order lines (~4x slower than one index probe per line, which this forces).
_LINE_INDEX_PG = (
    "SELECT l.id, m.idx FROM unnest(%s::bigint[]) AS l(id) CROSS JOIN LATERAL "
    "(SELECT MIN(a.ledger_index) AS idx FROM batch_allocations a WHERE a.order_line_id = l.id) m "
    "WHERE m.idx IS NOT NULL"
)


def _order_line_info(conn: Connection, ids: Sequence[str]) -> dict[str, NodeInfo]:
    # Until the orders module registers its own, an order line is known by its allocations.
    if conn.dialect.name == "postgresql":
        array = "{" + ",".join(map(str, _ints(ids))) + "}"  # text: psycopg dumps lists slowly
        rows: Iterable[Any] = conn.exec_driver_sql(_LINE_INDEX_PG, (array,)).fetchall()
    else:
        rows = query_ids(conn, _LINE_INDEX, ids)
    return {
        str(line): NodeInfo(label=f"order line {line}", ledger_index=index) for line, index in rows
    }


register_edges("lot", upstream=_lot_suppliers, downstream=_inputs("lot_id"))
register_edges("supplier", downstream=_supplier_lots)
register_edges("batch", upstream=_inputs("batch_id"), downstream=_inputs("input_batch_id"))
register_edges("batch", downstream=_allocations("batch_id"))
register_edges("order_line", upstream=_allocations("order_line_id"))
register_node_info("supplier", _supplier_info)
register_node_info("lot", _record_info(_LOT_INFO))
register_node_info("batch", _record_info(_BATCH_INFO))
register_node_info("order_line", _order_line_info)
