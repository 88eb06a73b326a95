"""The log's Merkle tree: a pymerkle tree whose storage is the ledger tables.

`LedgerTree` subclasses pymerkle's `BaseMerkleTree` and implements its storage hooks on the
caller's SQLAlchemy connection. Each leaf row stores the hashes of the complete subtrees ending at
it, so pymerkle's subroot lookups are primary-key reads; a proof prefetches every row it needs in
one query, so proofs after a restart cost O(log n) reads and no rehashing. pymerkle's indexes are
1-based and its consistency proofs are not RFC 9162's: the functions below speak 0-based RFC 9162
and build consistency proofs from `proofs.consistency_ranges` with pymerkle's root computation.

Appends go through the DBAPI connection under the caller's transaction (multi-row INSERTs on
SQLite, one binary COPY on PostgreSQL): per entry they are the largest cost after encoding.
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from itertools import chain, islice
from typing import Any, TypeVar

from pymerkle import BaseMerkleTree
from sqlalchemy import Connection, bindparam, text
from sqlmodel import Session

from ledger.errors import LedgerError, TamperDetected, UnknownIndex
from ledger.models import HEAD_ID, entry_table
from ledger.proofs import Range, complete_subtrees, consistency_ranges, inclusion_ranges

HASH = 32
T = TypeVar("T")
COPY_THRESHOLD = 64  # PostgreSQL: below this many rows INSERT is cheaper than COPY

_read_head = text("SELECT size, frontier FROM ledger_head WHERE id = :id")
_write_head = text("UPDATE ledger_head SET size = :size, frontier = :frontier WHERE id = :id")
# (read, read and lock, write) of the head row through the DBAPI, per dialect; SQLite's BEGIN
# IMMEDIATE (app.make_engine) already holds the write lock, PostgreSQL locks the row FOR UPDATE
_RAW_HEAD = {
    "sqlite": (
        "SELECT size, frontier FROM ledger_head WHERE id = ?",
        "SELECT size, frontier FROM ledger_head WHERE id = ?",
        "UPDATE ledger_head SET size = ?, frontier = ? WHERE id = ?",
    ),
    "postgresql": (
        "SELECT size, frontier FROM ledger_head WHERE id = %s",
        "SELECT size, frontier FROM ledger_head WHERE id = %s FOR UPDATE",
        "UPDATE ledger_head SET size = %s, frontier = %s WHERE id = %s",
    ),
}
_read_rows = text("SELECT idx, leaf_hash, nodes FROM ledger_entry WHERE idx IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
# PostgreSQL: one array parameter keeps the statement text fixed, so the server reuses its plan
_read_rows_pg = text("SELECT idx, leaf_hash, nodes FROM ledger_entry WHERE idx = ANY(:ids)")
_read_leaves = text(
    "SELECT leaf_hash FROM ledger_entry WHERE idx >= :lo AND idx < :hi ORDER BY idx"
)
_INSERT = "INSERT INTO ledger_entry (idx, type, entry, leaf_hash, nodes) VALUES "
# SQLite: one INSERT of many rows costs less than executemany's statement step and reset per row
SQLITE_ROWS_PER_INSERT = 200
_COPY = "COPY ledger_entry (idx, type, entry, leaf_hash, nodes) FROM STDIN (FORMAT BINARY)"
# PostgreSQL binary COPY framing: signature, flags and header-extension length; a -1 field count
_PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_PG_COPY_TRAILER = b"\xff\xff"
_PG_ROW_HEAD = struct.Struct(">hiqi")  # 5 fields, int8 idx (length 8), type's length
_PG_LENGTH = struct.Struct(">i")
_PG_HASH_LENGTH = _PG_LENGTH.pack(HASH)


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
        raw_sql = _RAW_HEAD.get(connection.dialect.name)
        if raw_sql is not None:  # the DBAPI directly: a tenth of SQLAlchemy's cost per statement
            query = raw_sql[1] if lock else raw_sql[0]
            raw = connection.connection.driver_connection
            row = raw.execute(query, (HEAD_ID,)).fetchone()  # type: ignore[union-attr]
        else:
            row = connection.execute(_read_head, {"id": HEAD_ID}).first()
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
        self.append_leaves([data[0]], [data[1]], [digest])
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

    def append_rows(self, entries: Iterable[tuple[str, bytes]]) -> int:
        """Append (type, entry bytes) pairs as leaves in one write; return the first's index."""
        pairs = list(entries)
        datas = [data for _, data in pairs]
        leaves = [hashlib.sha256(b"\x00" + data).digest() for data in datas]
        return self.append_leaves([etype for etype, _ in pairs], datas, leaves)

    def append_leaves(
        self, types: Sequence[str], datas: Sequence[bytes], leaves: Sequence[bytes]
    ) -> int:
        """Append leaves given as columns (types, entry bytes, their RFC 9162 leaf hashes) in one
        write; return the index of the first."""
        first = self._size
        nodes = self._grow(leaves)
        self._write(first, types, datas, leaves, nodes)
        return first

    def _grow(self, leaves: Iterable[bytes]) -> list[bytes]:
        """Advance the frontier over the leaf hashes; return, per leaf, the roots of the
        complete subtrees that end at it (level 1 upward, concatenated)."""
        sha256 = hashlib.sha256
        stack, size = self._frontier, self._size
        out: list[bytes] = []
        push, pop, add = stack.append, stack.pop, out.append
        for leaf in leaves:
            if size & 1:  # the new size is even: one merge per trailing zero bit of it
                node = sha256(b"\x01" + pop() + leaf).digest()
                nodes, n = node, (size + 1) >> 1
                while not n & 1:
                    node = sha256(b"\x01" + pop() + node).digest()
                    nodes += node
                    n >>= 1
                push(node)
                add(nodes)
            else:
                push(leaf)
                add(b"")
            size += 1
        self._size = size
        return out

    def _write(
        self,
        first: int,
        types: Sequence[str],
        datas: Sequence[bytes],
        leaves: Sequence[bytes],
        nodes: Sequence[bytes],
    ) -> None:
        count = len(nodes)
        if not count:
            return
        rows = zip(range(first, first + count), types, datas, leaves, nodes, strict=True)
        dialect = self._conn.dialect.name
        if dialect == "postgresql" and count >= COPY_THRESHOLD:
            raw = self._conn.connection.driver_connection
            data = _pg_copy_binary(rows, raw.info.encoding)  # type: ignore[union-attr]
            with raw.cursor() as cur, cur.copy(_COPY) as copy:  # type: ignore[union-attr]
                copy.write(data)
        elif dialect == "postgresql":
            raw = self._conn.connection.driver_connection
            with raw.cursor() as cur:  # type: ignore[union-attr]
                cur.executemany(_INSERT + "(%s, %s, %s, %s, %s)", list(rows))
        elif dialect == "sqlite":
            _sqlite_insert(
                self._conn.connection.driver_connection, first, types, datas, leaves, nodes
            )
        else:
            columns = ("idx", "type", "entry", "leaf_hash", "nodes")
            self._conn.execute(
                entry_table.insert(), [dict(zip(columns, r, strict=True)) for r in rows]
            )

    def save_head(self) -> None:
        """Store the new size and frontier in the head row (inside the caller's transaction)."""
        frontier = b"".join(self._frontier)
        raw_sql = _RAW_HEAD.get(self._conn.dialect.name)
        if raw_sql is not None:
            raw = self._conn.connection.driver_connection
            raw.execute(raw_sql[2], (self._size, frontier, HEAD_ID))  # type: ignore[union-attr]
        else:
            self._conn.execute(
                _write_head, {"size": self._size, "frontier": frontier, "id": HEAD_ID}
            )


def _sqlite_insert(
    raw: Any,
    first: int,
    types: Sequence[str],
    datas: Sequence[bytes],
    leaves: Sequence[bytes],
    nodes: Sequence[bytes],
) -> None:
    """Insert rows through the sqlite3 connection itself (SQLAlchemy's executemany costs 30%
    more), SQLITE_ROWS_PER_INSERT a statement within the bound-parameter limit."""
    count = len(nodes)
    # blobs as bytearrays: sqlite3 binds those directly, but looks each bytes value up as a
    # candidate for adaptation (an AttributeError raised and formatted per value), which costs
    # more than the copy
    blob = bytearray
    params = zip(
        range(first, first + count),
        types,
        map(blob, datas),
        map(blob, leaves),
        map(blob, nodes),
        strict=True,
    )
    per = min(SQLITE_ROWS_PER_INSERT, raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 5)
    if count >= per:
        sql = _insert_values(per)
        for _ in range(count // per):
            raw.execute(sql, list(chain.from_iterable(islice(params, per))))
    if count % per:
        raw.executemany(_INSERT + "(?, ?, ?, ?, ?)", params)


def _pg_copy_binary(rows: Iterable[tuple[int, str, bytes, bytes, bytes]], encoding: str) -> bytes:
    """The rows in PostgreSQL's binary COPY format (one buffer: half the client time of
    psycopg's write_row per row). Per row: field count, then each field's length and bytes."""
    parts = [_PG_COPY_HEADER]
    add = parts.append
    head, length = _PG_ROW_HEAD.pack, _PG_LENGTH.pack
    for idx, etype, data, leaf, nodes in rows:
        name = etype.encode(encoding)
        add(head(5, 8, idx, len(name)))
        add(name)
        add(length(len(data)))
        add(data)
        add(_PG_HASH_LENGTH)
        add(leaf)
        add(length(len(nodes)))
        add(nodes)
    add(_PG_COPY_TRAILER)
    return b"".join(parts)


@cache
def _insert_values(count: int) -> str:
    return _INSERT + ", ".join(["(?, ?, ?, ?, ?)"] * count)


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
