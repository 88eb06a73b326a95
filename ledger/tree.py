"""The log's Merkle tree: a pymerkle tree whose storage is the ledger tables.

`LedgerTree` subclasses pymerkle's `BaseMerkleTree` and implements its storage hooks on the
caller's SQLAlchemy connection. Each leaf row stores the hashes of the complete subtrees ending at
it, so pymerkle's subroot lookups are primary-key reads; a proof prefetches every row it needs in
one query, so proofs after a restart cost O(log n) reads and no rehashing. pymerkle's indexes are
1-based and its consistency proofs are not RFC 9162's: the functions below speak 0-based RFC 9162
and build consistency proofs from `proofs.consistency_ranges` with pymerkle's root computation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from pymerkle import BaseMerkleTree
from sqlalchemy import Connection, bindparam, text
from sqlmodel import Session

from ledger.errors import LedgerError, TamperDetected, UnknownIndex
from ledger.models import HEAD_ID, entry_table
from ledger.proofs import Range, complete_subtrees, consistency_ranges, inclusion_ranges

HASH = 32
T = TypeVar("T")
EntryRow = tuple[int, str, bytes, bytes, bytes]  # idx, type, entry, leaf_hash, nodes
COPY_THRESHOLD = 64  # PostgreSQL: below this many rows INSERT is cheaper than COPY

_read_head = text("SELECT size, frontier FROM ledger_head WHERE id = :id")
_lock_head = text("SELECT size, frontier FROM ledger_head WHERE id = :id FOR UPDATE")
_write_head = text("UPDATE ledger_head SET size = :size, frontier = :frontier WHERE id = :id")
_read_rows = text("SELECT idx, leaf_hash, nodes FROM ledger_entry WHERE idx IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
# PostgreSQL: one array parameter keeps the statement text fixed, so the server reuses its plan
_read_rows_pg = text("SELECT idx, leaf_hash, nodes FROM ledger_entry WHERE idx = ANY(:ids)")
_read_leaves = text(
    "SELECT leaf_hash FROM ledger_entry WHERE idx >= :lo AND idx < :hi ORDER BY idx"
)
_INSERT = "INSERT INTO ledger_entry (idx, type, entry, leaf_hash, nodes) VALUES "
_COPY = "COPY ledger_entry (idx, type, entry, leaf_hash, nodes) FROM STDIN (FORMAT BINARY)"


class LedgerTree(BaseMerkleTree):
    """pymerkle tree over ledger_entry on one connection (one transaction's view).

    Open it with `LedgerTree.open(connection, lock=...)`; `lock=True` takes the sequencer lock
    (the head row, FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already holds it).
    """

    def __init__(self, connection: Connection, size: int, frontier: list[bytes]) -> None:
        super().__init__("sha256")  # RFC 9162: SHA-256 with 0x00/0x01 prefixes
        self._conn = connection
        self._size = size
        self._frontier = frontier
        self._rows: dict[int, tuple[bytes, bytes]] = {}

    @classmethod
    def open(cls, connection: Connection, *, lock: bool = False) -> LedgerTree:
        """Read the head row (locking it if asked) and return the tree as of this transaction."""
        pg = connection.dialect.name == "postgresql"
        row = connection.execute(_lock_head if lock and pg else _read_head, {"id": HEAD_ID}).first()
        if row is None:
            raise LedgerError("ledger_head row missing: run the migrations (0002_ledger)")
        size, blob = int(row[0]), bytes(row[1])
        if len(blob) != HASH * size.bit_count():
            raise TamperDetected("ledger_head frontier does not fit the tree size")
        return cls(connection, size, [blob[i : i + HASH] for i in range(0, len(blob), HASH)])

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._size

    def frontier_root(self) -> bytes:
        """Root hash folded from the head's frontier (no reads)."""
        return self.hash_fold(self._frontier[::-1]) if self._frontier else self.hash_empty()

    # ------------------------------------------------------------------ pymerkle storage hooks

    def _encode_entry(self, data: tuple[str, bytes]) -> bytes:
        return data[1]

    def _store_leaf(self, data: tuple[str, bytes], digest: bytes) -> int:
        self._write(self._grow([(data[0], data[1], digest)]))
        return self._size  # pymerkle's 1-based index of the new leaf

    def _get_leaf(self, index: int) -> bytes:
        return self._row(index - 1)[0]

    def _get_leaves(self, offset: int, width: int) -> list[bytes]:
        rows = self._conn.execute(_read_leaves, {"lo": offset, "hi": offset + width}).all()
        if len(rows) != width:
            raise TamperDetected(f"entries {offset}..{offset + width - 1} are not all present")
        return [bytes(r[0]) for r in rows]

    def _get_size(self) -> int:
        return self._size

    def _get_subroot(self, offset: int, width: int) -> bytes:
        """Root of the complete subtree offset..offset+width-1: stored with its last leaf."""
        if width & (width - 1) or offset % width:
            raise LedgerError(f"no complete subtree at {offset} of width {width}")
        leaf, nodes = self._row(offset + width - 1)
        level = width.bit_length() - 1
        if level == 0:
            return leaf
        node = nodes[HASH * (level - 1) : HASH * level]
        if len(node) != HASH:
            raise TamperDetected(f"entry {offset + width - 1} lacks its level-{level} node")
        return node

    def _get_inclusion_path(self, index: int, size: int) -> tuple[list[int], list[bytes]]:
        self.prefetch([(index - 1, index), *inclusion_ranges(index - 1, size)])
        return super()._get_inclusion_path(index, size)

    # ------------------------------------------------------------------ reads

    def _row(self, idx: int) -> tuple[bytes, bytes]:
        row = self._rows.get(idx)
        if row is None:
            self.prefetch([(idx, idx + 1)])
            row = self._rows[idx]
        return row

    def prefetch(self, ranges: Iterable[Range]) -> None:
        """Read, in one query, every row holding a subtree root the given ranges need."""
        wanted = {e - 1 for s, e in ranges for _, e in complete_subtrees(s, e)} - self._rows.keys()
        if not wanted:
            return
        query = _read_rows_pg if self._conn.dialect.name == "postgresql" else _read_rows
        for idx, leaf, nodes in self._conn.execute(query, {"ids": sorted(wanted)}):
            self._rows[int(idx)] = (bytes(leaf), bytes(nodes))
        missing = wanted - self._rows.keys()
        if missing:
            raise TamperDetected(f"entry {min(missing)} is missing from ledger_entry")

    def range_hash(self, start: int, end: int) -> bytes:
        """Merkle Tree Hash of leaves start..end-1 (pymerkle's fold of stored subroots)."""
        return self._get_root(start, end)

    def root(self, size: int) -> bytes:
        """Root hash of the first `size` leaves, from stored nodes."""
        self.prefetch([(0, size)])
        return self._get_root(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of 0-based leaf `index` in the tree of `size` leaves."""
        proof = self.prove_inclusion(index + 1, size)
        return list(proof.path[1:])  # pymerkle's path starts with the leaf itself

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 consistency proof between the trees of `first` and `second` leaves."""
        if first == second:
            self.prefetch([(second - 1, second)])  # the size must exist all the same
            return []
        ranges = consistency_ranges(first, second)
        self.prefetch(ranges)
        return [self.range_hash(s, e) for s, e in ranges]

    # ------------------------------------------------------------------ writes

    def append_entries(self, entries: Iterable[tuple[str, bytes]]) -> int:
        """pymerkle bulk append of (type, entry bytes); returns the new size."""
        self.append_rows(entries)
        return self._size

    def append_rows(self, entries: Iterable[tuple[str, bytes]]) -> list[EntryRow]:
        """Append (type, entry bytes) pairs as leaves in one write; return the stored rows."""
        hashfunc = self.hashfunc
        prefix = self.leaf_prefix
        rows = self._grow((t, d, hashfunc(prefix + d).digest()) for t, d in entries)
        self._write(rows)
        return rows

    def _grow(self, leaves: Iterable[tuple[str, bytes, bytes]]) -> list[EntryRow]:
        """Assign indexes and compute each leaf's completed subtree roots from the frontier."""
        hashfunc, prefix = self.hashfunc, self.node_prefix
        stack, size, rows = self._frontier, self._size, []
        for etype, data, leaf in leaves:
            size += 1
            node, nodes, n = leaf, b"", size
            while not n & 1:  # one merge per trailing zero bit of the new size
                node = hashfunc(prefix + stack.pop() + node).digest()
                nodes += node
                n >>= 1
            stack.append(node)
            rows.append((size - 1, etype, data, leaf, nodes))
        self._size = size
        return rows

    def _write(self, rows: Sequence[EntryRow]) -> None:
        if not rows:
            return
        dialect = self._conn.dialect.name
        if dialect == "postgresql" and len(rows) >= COPY_THRESHOLD:
            raw = self._conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(_COPY) as copy:  # type: ignore[union-attr]
                copy.set_types(["int8", "varchar", "bytea", "bytea", "bytea"])
                for row in rows:
                    copy.write_row(row)
        elif dialect == "postgresql":
            self._conn.exec_driver_sql(_INSERT + "(%s, %s, %s, %s, %s)", list(rows))
        elif dialect == "sqlite":  # the DBAPI directly: SQLAlchemy's executemany costs 30% more
            self._conn.connection.driver_connection.executemany(  # type: ignore[union-attr]
                _INSERT + "(?, ?, ?, ?, ?)", rows
            )
        else:
            self._conn.execute(
                entry_table.insert(),
                [
                    dict(zip(("idx", "type", "entry", "leaf_hash", "nodes"), r, strict=True))
                    for r in rows
                ],
            )

    def save_head(self) -> None:
        """Store the new size and frontier in the head row (inside the caller's transaction)."""
        self._conn.execute(
            _write_head, {"size": self._size, "frontier": b"".join(self._frontier), "id": HEAD_ID}
        )


def frontier_hashes(leaf_hashes: Iterable[bytes]) -> list[bytes]:
    """Frontier (maximal complete subtree roots, left to right) of a sequence of leaf hashes."""
    stack: list[bytes] = []
    for n, node in enumerate(leaf_hashes, start=1):
        while not n & 1:
            node = hashlib.sha256(b"\x01" + stack.pop() + node).digest()
            n >>= 1
        stack.append(node)
    return stack


# ---------------------------------------------------------------------- public read functions


def tree_size(session: Session) -> int:
    """Number of entries in the log (as seen by the session's transaction)."""
    return LedgerTree.open(session.connection()).size


def _read(session: Session, size: int, compute: Callable[[LedgerTree], T]) -> T:
    """Run a read over the first `size` entries in ONE query: no head read, since the rows the
    proof needs include entry size-1, whose absence shows the size is beyond the log."""
    tree = LedgerTree(session.connection(), size, [])
    try:
        return compute(tree)
    except TamperDetected:
        current = LedgerTree.open(session.connection()).size
        if size > current:
            raise UnknownIndex(f"tree size {size} is beyond the log size {current}") from None
        raise


def root_at(session: Session, size: int) -> bytes:
    """RFC 9162 root hash of the first `size` entries (size 0: SHA-256 of nothing)."""
    if size < 0:
        raise UnknownIndex(f"tree size {size} is negative")
    return _read(session, size, lambda tree: tree.root(size))


def prove_inclusion(session: Session, index: int, size: int) -> list[bytes]:
    """RFC 9162 inclusion proof (sibling hashes, leaf to root) of entry `index` in the tree of
    the first `size` entries. Raises UnknownIndex unless 0 <= index < size <= log size."""
    if not 0 <= index < size:
        raise UnknownIndex(f"entry {index} is not in a tree of size {size}")
    return _read(session, size, lambda tree: tree.inclusion_proof(index, size))


def prove_consistency(session: Session, first: int, second: int) -> list[bytes]:
    """RFC 9162 consistency proof between the trees of `first` and `second` entries.

    Raises LedgerError unless 0 < first <= second, UnknownIndex if `second` exceeds the log.
    """
    if not 0 < first <= second:
        raise LedgerError(f"consistency needs 0 < first <= second, got {first} and {second}")
    return _read(session, second, lambda tree: tree.consistency_proof(first, second))
