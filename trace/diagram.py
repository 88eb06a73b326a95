"""Layered drawing of a trace: pure layout (reusable by PDF reports) and SVG rendering.

Nodes are placed in columns by hop depth so the supply chain reads left to right (supplier →
lot → batch → order line) in both directions; within a column nodes are ordered by the mean
position of their neighbours in the previous column (one barycentre sweep, fewer crossings).
Crowded columns keep their first nodes and end with a "+ N more" node. The SVG uses only
presentation attributes (no style attributes or scripts), so the page's CSP allows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

NODE_WIDTH, NODE_HEIGHT = 210, 44
COLUMN_GAP, ROW_GAP, MARGIN = 70, 14, 20
MAX_PER_COLUMN = 30
KIND_ORDER = {"supplier": 0, "lot": 1, "batch": 2, "order_line": 3, "order": 4, "customer": 5}
# Fill and stroke per node kind (colour-blind-safe Okabe–Ito hues, lightened for fills).
COLOURS = {
    "supplier": ("#fde9c9", "#e69f00"),
    "lot": ("#d4ecfa", "#0072b2"),
    "batch": ("#d5f0e6", "#009e73"),
    "order_line": ("#f9dfe9", "#cc79a7"),
    "order": ("#eeeeee", "#666666"),
    "customer": ("#eeeeee", "#666666"),
    "more": ("#ffffff", "#999999"),
}


@dataclass(frozen=True, slots=True)
class DiagramNode:
    """A node to draw: key (kind, id), label lines, depth from the start node."""

    kind: str
    id: str
    label: str
    depth: int
    note: str = ""  # second line, e.g. "ledger #123"
    start: bool = False


@dataclass(frozen=True, slots=True)
class Placed:
    """A node with its box (top-left x, y; width; height)."""

    node: DiagramNode
    x: float
    y: float
    width: float = NODE_WIDTH
    height: float = NODE_HEIGHT


@dataclass(frozen=True, slots=True)
class Layout:
    """Boxes and the links between them, in a width × height canvas."""

    width: float
    height: float
    boxes: tuple[Placed, ...]
    links: tuple[tuple[Placed, Placed], ...]


def layout(
    nodes: Sequence[DiagramNode],
    edges: Sequence[tuple[tuple[str, str], tuple[str, str]]],
    *,
    direction: str,
    max_per_column: int = MAX_PER_COLUMN,
) -> Layout:
    """Place nodes in depth columns (upstream on the left); edges are (source, target) keys."""
    if not nodes:
        return Layout(2 * MARGIN, 2 * MARGIN, (), ())
    deepest = max(n.depth for n in nodes)
    column_of = {
        (n.kind, n.id): (deepest - n.depth if direction == "backward" else n.depth) for n in nodes
    }
    columns: dict[int, list[DiagramNode]] = {}
    for node in nodes:
        columns.setdefault(column_of[(node.kind, node.id)], []).append(node)
    neighbours: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for src, dst in edges:
        neighbours.setdefault(src, []).append(dst)
        neighbours.setdefault(dst, []).append(src)
    rank: dict[tuple[str, str], float] = {}
    placed: dict[tuple[str, str], Placed] = {}
    height = 0.0
    for index in sorted(columns):
        members = _ordered(columns[index], neighbours, rank)
        if len(members) > max_per_column:
            hidden = len(members) - (max_per_column - 1)
            kinds = {m.kind for m in members[max_per_column - 1 :]}
            label = f"+ {hidden} more" + (
                f" {kinds.pop().replace('_', ' ')}s" if len(kinds) == 1 else ""
            )
            members = [
                *members[: max_per_column - 1],
                DiagramNode("more", f"col{index}", label, -1),
            ]
        x = MARGIN + index * (NODE_WIDTH + COLUMN_GAP)
        for row, node in enumerate(members):
            y = MARGIN + row * (NODE_HEIGHT + ROW_GAP)
            box = Placed(node, x, y)
            placed[(node.kind, node.id)] = box
            rank[(node.kind, node.id)] = row
            height = max(height, y + NODE_HEIGHT)
    links = tuple(
        (placed[src], placed[dst]) for src, dst in edges if src in placed and dst in placed
    )
    width = MARGIN + (max(columns) + 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP + MARGIN
    return Layout(width, height + MARGIN, tuple(placed.values()), links)


def _ordered(
    members: list[DiagramNode],
    neighbours: dict[tuple[str, str], list[tuple[str, str]]],
    rank: dict[tuple[str, str], float],
) -> list[DiagramNode]:
    def barycentre(node: DiagramNode) -> float:
        ranks = [rank[n] for n in neighbours.get((node.kind, node.id), ()) if n in rank]
        return sum(ranks) / len(ranks) if ranks else float("inf")

    return sorted(members, key=lambda n: (barycentre(n), KIND_ORDER.get(n.kind, 9), n.label, n.id))


def _clip(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_svg(diagram: Layout, *, title: str) -> str:
    """The layout as a standalone SVG document (text escaped, links as cubic curves)."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{diagram.width:.0f}" '
        f'height="{diagram.height:.0f}" viewBox="0 0 {diagram.width:.0f} {diagram.height:.0f}" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#777777"/></marker></defs>',
    ]
    for src, dst in diagram.links:
        x1, y1 = src.x + src.width, src.y + src.height / 2
        x2, y2 = dst.x, dst.y + dst.height / 2
        if x2 <= x1:  # same column: go around the right side
            x2, y2 = dst.x + dst.width, dst.y + dst.height / 2
        mid = (x1 + x2) / 2
        parts.append(
            f'<path d="M {x1:.1f} {y1:.1f} C {mid:.1f} {y1:.1f}, {mid:.1f} {y2:.1f}, '
            f'{x2:.1f} {y2:.1f}" fill="none" stroke="#999999" stroke-width="1.2" '
            'marker-end="url(#arrow)"/>'
        )
    for box in diagram.boxes:
        node = box.node
        fill, stroke = COLOURS.get(node.kind, COLOURS["more"])
        width = 3 if node.start else 1.2
        parts.append(
            f'<g data-kind="{escape(node.kind)}" data-id="{escape(node.id)}">'
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width}" height="{box.height}" '
            f'rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{width}"/>'
            f'<text x="{box.x + 8:.1f}" y="{box.y + 18:.1f}" fill="#222222">'
            f"{escape(_clip(node.label))}</text>"
        )
        if node.note:
            parts.append(
                f'<text x="{box.x + 8:.1f}" y="{box.y + 34:.1f}" fill="#555555" font-size="10">'
                f"{escape(_clip(node.note, 36))}</text>"
            )
        parts.append(f"<title>{escape(node.label)}</title></g>")
    parts.append("</svg>")
    return "".join(parts)
