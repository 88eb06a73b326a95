"""Pure trace graph: supplier → lot → batch(es) → order line → order → customer.

The graph is immutable and held as adjacency dicts, so a trace costs time in proportion to the
part of the graph it reaches, not to the whole graph. Traversals are iterative breadth-first
searches (no recursion limit); each node is visited once, so diamonds count once.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias

NodeKind: TypeAlias = Literal["supplier", "lot", "batch", "order_line", "order", "customer"]
EdgeKind: TypeAlias = Literal["supplied", "input", "served", "line_of", "placed_by"]
NodeId: TypeAlias = tuple[str, str]  # (kind, id)
Direction: TypeAlias = Literal["backward", "forward"]

NODE_KINDS: tuple[str, ...] = ("supplier", "lot", "batch", "order_line", "order", "customer")

# The only legal (source kind, target kind) pairs and the edge kind each one must carry.
EDGE_KINDS: Mapping[tuple[str, str], str] = {
    ("supplier", "lot"): "supplied",
    ("lot", "batch"): "input",
    ("batch", "batch"): "input",
    ("batch", "order_line"): "served",
    ("order_line", "order"): "line_of",
    ("order", "customer"): "placed_by",
}


_INF = float("inf")


class GraphError(ValueError):
    """An edge that the trace model does not allow (wrong kinds, bad quantity or time)."""


class CycleError(GraphError):
    """The edges contain a cycle; `cycle` lists its nodes, first node repeated at the end."""

    def __init__(self, cycle: list[NodeId]) -> None:
        self.cycle = cycle
        path = " → ".join(f"{kind}:{ident}" for kind, ident in cycle)
        super().__init__(f"trace graph contains a cycle: {path}")


@dataclass(frozen=True, slots=True)
class Edge:
    """A directed link; `quantity` is the amount of `src` used, `at` when the link happened."""

    src: NodeId
    dst: NodeId
    kind: EdgeKind
    quantity: float | None = None
    at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: nodes as {kind, id}, time as ISO 8601."""
        return {
            "src": _node_dict(self.src),
            "dst": _node_dict(self.dst),
            "kind": self.kind,
            "quantity": self.quantity,
            "at": self.at.isoformat() if self.at is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Subgraph:
    """The result of a trace: nodes in visiting order with their hop distance, and edges."""

    start: NodeId
    direction: Direction
    nodes: tuple[NodeId, ...]
    depth: Mapping[NodeId, int]
    edges: tuple[Edge, ...]

    def __contains__(self, node: object) -> bool:
        return node in self.depth

    def __len__(self) -> int:
        return len(self.nodes)

    def ids(self, kind: NodeKind) -> list[str]:
        """Ids of the reached nodes of one kind, in visiting order (start included)."""
        return [ident for k, ident in self.nodes if k == kind]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form of the subgraph."""
        return {
            "start": _node_dict(self.start),
            "direction": self.direction,
            "nodes": [{**_node_dict(n), "depth": self.depth[n]} for n in self.nodes],
            "edges": [e.as_dict() for e in self.edges],
        }


class TraceGraph:
    """An immutable trace graph; build it with `TraceGraph.from_edges`."""

    __slots__ = ("_batch_links", "_edge_count", "_in", "_isolated", "_out")

    def __init__(
        self,
        out: Mapping[NodeId, list[Edge]],
        in_: Mapping[NodeId, list[Edge]],
        batch_links: Mapping[NodeId, list[NodeId]],
        isolated: frozenset[NodeId],
        edge_count: int,
    ) -> None:
        self._out = out
        self._in = in_
        self._batch_links = batch_links  # batch → batch only: the one place a cycle can form
        self._isolated = isolated
        self._edge_count = edge_count

    @classmethod
    def from_edges(cls, edges: Iterable[Edge], nodes: Iterable[NodeId] = ()) -> TraceGraph:
        """Build and validate a graph; `nodes` adds nodes that have no edges yet.

        Raises GraphError for an edge the model does not allow and CycleError for a cycle.
        """
        out: defaultdict[NodeId, list[Edge]] = defaultdict(list)
        in_: defaultdict[NodeId, list[Edge]] = defaultdict(list)
        batch_links: defaultdict[NodeId, list[NodeId]] = defaultdict(list)
        allowed = EDGE_KINDS
        count = 0
        for edge in edges:
            src, dst = edge.src, edge.dst
            # Checked inline: this loop runs millions of times for a whole-campus graph.
            quantity = edge.quantity
            if (
                allowed.get((src[0], dst[0])) != edge.kind
                or (quantity is not None and not 0 < quantity < _INF)
                or (edge.at is not None and edge.at.tzinfo is None)
            ):
                _check_edge(edge)
            out[src].append(edge)
            in_[dst].append(edge)
            if src[0] == "batch" == dst[0]:
                batch_links[src].append(dst)
            count += 1
        isolated: set[NodeId] = set()
        for node in nodes:
            if node[0] not in NODE_KINDS:
                raise GraphError(f"unknown node kind {node[0]!r}")
            if node not in out and node not in in_:
                isolated.add(node)
        # The defaultdicts are kept as they are (no copy); traversals only ever call .get on them.
        graph = cls(out, in_, batch_links, frozenset(isolated), count)
        validate_acyclic(graph)
        return graph

    def __contains__(self, node: object) -> bool:
        return node in self._out or node in self._in or node in self._isolated

    def __len__(self) -> int:
        return sum(1 for _ in self.nodes())

    @property
    def edge_count(self) -> int:
        """Number of edges in the graph."""
        return self._edge_count

    def nodes(self) -> Iterator[NodeId]:
        """Every node once, in no particular order."""
        yield from self._out
        yield from (node for node in self._in if node not in self._out)
        yield from self._isolated

    def out_edges(self, node: NodeId) -> tuple[Edge, ...]:
        """Edges leaving `node` (downstream)."""
        return tuple(self._out.get(node, ()))

    def in_edges(self, node: NodeId) -> tuple[Edge, ...]:
        """Edges entering `node` (upstream)."""
        return tuple(self._in.get(node, ()))


def backward(graph: TraceGraph, start: NodeId) -> Subgraph:
    """Everything upstream of `start`: batches, lots and suppliers it came from.

    A start node that is not in the graph yields a subgraph of just that node.
    """
    return _bfs(graph._in, start, "backward", since=None, until=None)


def forward(
    graph: TraceGraph,
    start: NodeId,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Subgraph:
    """Everything downstream of `start`: batches, order lines, orders and customers.

    `since`/`until` (inclusive, timezone-aware) skip edges whose `at` lies outside the window;
    edges without `at` are always followed.
    """
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise GraphError("time bounds must be timezone-aware")
    return _bfs(graph._out, start, "forward", since=since, until=until)


def validate_acyclic(graph: TraceGraph) -> None:
    """Raise CycleError naming the nodes of a cycle, if the graph has one."""
    # Kinds are strictly ranked except batch → batch, so a cycle can only run through batches.
    links = graph._batch_links
    state: dict[NodeId, int] = {}  # 1 = on the current path, 2 = finished
    for root in links:
        if root in state:
            continue
        state[root] = 1
        path: list[NodeId] = [root]
        stack: list[Iterator[NodeId]] = [iter(links[root])]
        while stack:
            for nxt in stack[-1]:
                seen = state.get(nxt)
                if seen == 1:
                    raise CycleError([*path[path.index(nxt) :], nxt])
                if seen is None:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append(iter(links.get(nxt, ())))
                    break
            else:
                state[path.pop()] = 2
                stack.pop()


def would_create_cycle(graph: TraceGraph, inputs: Iterable[NodeId], output: NodeId) -> bool:
    """True if recording `inputs` → `output` as a transformation would close a cycle.

    Costs one search over the batches downstream of `output`; when the graph is a loaded
    neighbourhood it must include those downstream batches.
    """
    wanted = {node for node in inputs if node[0] == "batch"}
    if not wanted:
        return False
    if output in wanted:
        return True
    seen = {output}
    queue = deque([output])
    links = graph._batch_links
    while queue:
        for nxt in links.get(queue.popleft(), ()):
            if nxt in seen:
                continue
            if nxt in wanted:
                return True
            seen.add(nxt)
            queue.append(nxt)
    return False


def _bfs(
    adjacency: Mapping[NodeId, list[Edge]],
    start: NodeId,
    direction: Direction,
    *,
    since: datetime | None,
    until: datetime | None,
) -> Subgraph:
    backward_walk = direction == "backward"
    timed = since is not None or until is not None
    depth: dict[NodeId, int] = {start: 0}
    order: list[NodeId] = [start]
    edges: list[Edge] = []
    queue = deque([start])
    while queue:
        node = queue.popleft()
        next_depth = depth[node] + 1
        for edge in adjacency.get(node, ()):
            if timed and edge.at is not None:
                if since is not None and edge.at < since:
                    continue
                if until is not None and edge.at > until:
                    continue
            edges.append(edge)
            nxt = edge.src if backward_walk else edge.dst
            if nxt not in depth:
                depth[nxt] = next_depth
                order.append(nxt)
                queue.append(nxt)
    return Subgraph(start, direction, tuple(order), depth, tuple(edges))


def _check_edge(edge: Edge) -> None:
    expected = EDGE_KINDS.get((edge.src[0], edge.dst[0]))
    if expected is None:
        raise GraphError(f"no edge may link a {edge.src[0]!r} to a {edge.dst[0]!r}")
    if edge.kind != expected:
        raise GraphError(
            f"edge {edge.src} → {edge.dst} has kind {edge.kind!r}; expected {expected!r}"
        )
    if edge.quantity is not None and not 0 < edge.quantity < _INF:
        raise GraphError(f"edge {edge.src} → {edge.dst} has a quantity that is not > 0")
    if edge.at is not None and edge.at.tzinfo is None:
        raise GraphError(f"edge {edge.src} → {edge.dst} has a time without a timezone")


def _node_dict(node: NodeId) -> dict[str, str]:
    return {"kind": node[0], "id": node[1]}
