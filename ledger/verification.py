"""verify(): recompute the whole log from its entry bytes and name the first thing that differs.

Checks, in one read-only pass over a consistent snapshot:
1. every entry: contiguous index, leaf hash = SHA-256(0x00 || entry bytes), every stored interior
   node equal to the one recomputed from the entries, the type column equal to the envelope's;
2. the head row: size and frontier equal the recomputed ones; no entry beyond the head;
3. every checkpoint: the note parses, its signature verifies (given the public key), its size and
   root match the stored columns and the recomputed root at that size, and each is proven
   consistent (RFC 9162) with the previous one;
4. every projection: domain rows re-derived from the entries equal the rows in the table.

The report names the first discrepancy: problems of the ledger itself come before projection
problems (a tampered log makes derived rows differ too); within each, the lowest ledger index
wins, and problems without an index (a bad signature, a forged row) come last. Entries are
streamed in chunks through Core selects.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, bindparam, text
from sqlmodel import Session

from ledger.checkpoints import EMPTY_ROOT, Checkpoint, all_checkpoints
from ledger.errors import TamperDetected
from ledger.models import HEAD_ID
from ledger.projections import CurrentRow, Digest, Projection, same_value
from ledger.tree import LedgerTree
from ledger.verify_proof import (
    InvalidProof,
    ParsedCheckpoint,
    parse_checkpoint,
    verify_checkpoint,
    verify_consistency,
)

Progress = Callable[[int, int], None]
ENTRIES, HEAD, CHECKPOINTS = "ledger_entry", "ledger_head", "ledger_checkpoint"

_head = text("SELECT size, frontier FROM ledger_head WHERE id = :id")
_chunk = text(
    "SELECT idx, type, entry, leaf_hash, nodes FROM ledger_entry "
    "WHERE idx >= :lo AND idx < :hi ORDER BY idx"
)
_beyond = text("SELECT MIN(idx) FROM ledger_entry WHERE idx >= :size")
_newer = text("SELECT idx, entry FROM ledger_entry WHERE idx >= :size ORDER BY idx")
_salts = text("SELECT idx, salt FROM ledger_salt WHERE idx IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """The first thing that differs: ledger index (None if unknown), table, row and what."""

    index: int | None
    table: str
    row: str
    detail: str

    def __str__(self) -> str:
        where = "no index" if self.index is None else f"index {self.index}"
        return f"{where}, table {self.table}, row {self.row}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of verify(): sizes and counts checked, the recomputed root, the first problem."""

    size: int
    root: bytes
    entries_checked: int
    checkpoints_checked: int
    signatures_checked: bool
    rows_checked: int
    problem: Discrepancy | None

    @property
    def ok(self) -> bool:
        """True when nothing differs."""
        return self.problem is None

    def raise_if_tampered(self) -> None:
        """Raise TamperDetected naming the first discrepancy, if any."""
        if self.problem is not None:
            raise TamperDetected(str(self.problem), self.problem)


class _First:
    """Keeps the discrepancy with the lowest ledger index (unknown indexes last)."""

    def __init__(self) -> None:
        self.found: Discrepancy | None = None

    def add(self, index: int | None, table: str, row: object, detail: str) -> None:
        found = Discrepancy(index, table, str(row), detail)
        rank = float("inf") if index is None else index
        if self.found is None or rank < (
            float("inf") if self.found.index is None else self.found.index
        ):
            self.found = found


def _fold(stack: Sequence[bytes]) -> bytes:
    if not stack:
        return EMPTY_ROOT
    root = stack[-1]
    for node in reversed(stack[:-1]):
        root = hashlib.sha256(b"\x01" + node + root).digest()
    return root


class _ProjectionState:
    """Fold of one projection's entries: row key -> (last index, column -> (expected, index))."""

    def __init__(self, projection: Projection) -> None:
        self.projection = projection
        self.rows: dict[str, tuple[int, dict[str, tuple[Any, int]]]] = {}
        self.removed: dict[str, int] = {}

    def add(self, index: int, envelope: Mapping[str, Any]) -> None:
        key = self.projection.row_key(envelope)
        if key is None:
            return
        fields = self.projection.fields(index, envelope)
        if fields is None:
            self.rows.pop(key, None)
            self.removed[key] = index
            return
        self.removed.pop(key, None)
        _, old = self.rows.get(key, (index, {}))
        old.update({column: (value, index) for column, value in fields.items()})
        self.rows[key] = (index, old)

    def salt_indexes(self) -> set[int]:
        return {
            value.index
            for _, columns in self.rows.values()
            for value, _ in columns.values()
            if isinstance(value, Digest)
        }

    def compare(
        self,
        conn: Connection,
        size: int,
        salts: Mapping[int, bytes],
        first: _First,
        snapshot: bool,
    ) -> int:
        table = self.projection.table
        seen = 0
        for row in self.projection.current_rows(conn):
            seen += 1
            if not snapshot and row.ledger_index is not None and row.ledger_index >= size:
                self.rows.pop(row.key, None)  # written after our head read: not ours to judge
                continue
            self._compare_row(row, size, salts, first)
        if self.rows and not snapshot:
            self._forget_rewritten_since(conn, size)
        for key, (index, _) in self.rows.items():
            first.add(index, table, key, "row missing: deleted behind the ledger's back")
        return seen

    def _forget_rewritten_since(self, conn: Connection, size: int) -> None:
        """Outside a snapshot, rows written by entries appended after the head read (e.g. a
        removal) are not ours to judge."""
        for _, data in conn.execute(_newer, {"size": size}):
            envelope = json.loads(data)
            if envelope.get("type") in self.projection.entry_types:
                key = self.projection.row_key(envelope)
                if key is not None:
                    self.rows.pop(key, None)

    def _compare_row(
        self, row: CurrentRow, size: int, salts: Mapping[int, bytes], first: _First
    ) -> None:
        table = self.projection.table
        state = self.rows.pop(row.key, None)
        if state is None:
            if row.key in self.removed:
                first.add(self.removed[row.key], table, row.key, "row exists though removed")
            elif row.ledger_index is not None and row.ledger_index >= size:
                first.add(size, table, row.key, f"row cites entry {row.ledger_index}, not in log")
            else:
                first.add(row.ledger_index, table, row.key, "row has no ledger entry")
            return
        last, columns = state
        if row.ledger_index != last:
            where = last if row.ledger_index is None else min(last, row.ledger_index)
            first.add(where, table, row.key, f"ledger_index {row.ledger_index}, last entry {last}")
        for column, (expected, index) in columns.items():
            observed = row.values.get(column)
            if isinstance(expected, Digest):
                salt = salts.get(expected.index)
                if salt is not None and not expected.matches(salt, observed):
                    first.add(index, table, row.key, f"personal column {column} differs")
            elif not same_value(expected, observed):
                first.add(
                    index, table, row.key, f"{column} is {observed!r}, ledger says {expected!r}"
                )


def _connection(session: Session) -> tuple[Connection, bool]:
    """The session's connection, on PostgreSQL in a REPEATABLE READ snapshot when still free
    to choose; returns it and whether reads form one snapshot."""
    if session.get_bind().dialect.name == "postgresql":
        if session.in_transaction():
            return session.connection(), False
        opts = {"isolation_level": "REPEATABLE READ"}
        return session.connection(execution_options=opts), True
    return session.connection(), True


def _load_salts(conn: Connection, indexes: Iterable[int]) -> dict[int, bytes]:
    ids, out = sorted(indexes), {}
    for i in range(0, len(ids), 1000):
        for idx, salt in conn.execute(_salts, {"ids": ids[i : i + 1000]}):
            out[int(idx)] = bytes(salt)
    return out


@dataclass(slots=True)
class _Scan:
    """Result of the entry pass: recomputed frontier, roots at checkpoint sizes, where it broke
    (an entry missing) and the first entry found altered."""

    stack: list[bytes]
    roots: dict[int, bytes]
    checked: int
    broken_at: int | None

    def suspect_from(self, first: _First) -> int | None:
        """Lowest index the entry pass already blamed (checkpoints above it add nothing)."""
        found = first.found
        return None if found is None else found.index


def _scan(
    conn: Connection,
    size: int,
    sizes: set[int],
    routes: Mapping[str, list[_ProjectionState]],
    first: _First,
    progress: Progress | None,
    chunk: int,
) -> _Scan:
    """Check every entry against its stored leaf hash, and rebuild the tree from the stored leaf
    hashes, checking every stored node. Only the first problem met is kept: the ones above it
    in the tree are its consequences."""

    def note(index: int, row: int, detail: str) -> None:
        if first.found is None:
            first.add(index, ENTRIES, row, detail)

    sha = hashlib.sha256
    stack: list[bytes] = []
    roots = {0: EMPTY_ROOT}
    expected = 0
    while expected < size:
        hi = min(expected + chunk, size)
        rows = conn.execute(_chunk, {"lo": expected, "hi": hi}).all()
        for idx, etype, data, leaf, nodes in rows:
            if idx != expected:
                note(expected, expected, f"entry missing (next stored is {idx})")
                return _Scan(stack, roots, expected, expected)
            data, node = bytes(data), bytes(leaf)
            if sha(b"\x00" + data).digest() != node:
                note(idx, idx, "entry bytes do not hash to the stored leaf hash")
            computed, n = b"", idx + 1
            while not n & 1:
                node = sha(b"\x01" + stack.pop() + node).digest()
                computed += node
                n >>= 1
            stack.append(node)
            if computed != nodes:
                _node_problem(idx, bytes(nodes), computed, note)
            if idx + 1 in sizes:
                roots[idx + 1] = _fold(stack)
            try:
                envelope = json.loads(data)
                real_type = envelope["type"]
            except (ValueError, KeyError, TypeError):
                note(idx, idx, "entry is not a JSON envelope")
                envelope, real_type = None, None
            if real_type != etype:
                note(idx, idx, f"type column {etype!r} differs from the entry's")
            for state in routes.get(real_type, ()):  # type: ignore[arg-type]
                state.add(idx, envelope)  # type: ignore[arg-type]
            expected += 1
        if expected < hi:  # the chunk ended early: its tail rows are gone
            note(expected, expected, "entry missing")
            return _Scan(stack, roots, expected, expected)
        if progress is not None:
            progress(expected, size)
    return _Scan(stack, roots, expected, None)


def _node_problem(
    idx: int, stored: bytes, computed: bytes, note: Callable[[int, int, str], None]
) -> None:
    """Name the lowest stored node that differs, by the first entry of its subtree."""
    if len(stored) != len(computed):
        note(idx, idx, "stored nodes belong to another position (entry moved)")
        return
    for level in range(1, len(computed) // 32 + 1):
        if stored[32 * (level - 1) : 32 * level] != computed[32 * (level - 1) : 32 * level]:
            lo = idx + 1 - (1 << level)
            note(lo, idx, f"level-{level} node differs: one of entries {lo}..{idx} changed")
            return


def _check_checkpoints(
    conn: Connection,
    checkpoints: Sequence[tuple[Checkpoint, ParsedCheckpoint | None]],
    scan: _Scan,
    size: int,
    public_key: Ed25519PublicKey | None,
    first: _First,
    snapshot: bool,
) -> None:
    blamed = scan.suspect_from(first)
    tree: LedgerTree | None = None
    good = 0  # largest checkpoint size whose root matched: entries below it are untouched
    prev: ParsedCheckpoint | None = None
    for cp, parsed in checkpoints:
        if parsed is None:
            first.add(None, CHECKPOINTS, cp.seq, "note is malformed")
            continue
        if public_key is not None:
            try:
                verify_checkpoint(cp.note, public_key)
            except InvalidProof as exc:
                first.add(None, CHECKPOINTS, cp.seq, f"signature: {exc}")
        if (parsed.size, parsed.root) != (cp.size, cp.root):
            first.add(None, CHECKPOINTS, cp.seq, "stored size/root differ from the signed note")
        if parsed.size > size:
            if snapshot:  # else it may be a checkpoint signed after we read the head
                first.add(size, CHECKPOINTS, cp.seq, f"signed size {parsed.size} > log {size}")
            continue
        if blamed is not None and parsed.size > blamed:
            prev = parsed
            continue  # the entry pass already named an altered entry below this size
        if scan.roots.get(parsed.size) != parsed.root:
            first.add(
                good,
                CHECKPOINTS,
                cp.seq,
                f"signed root differs: an entry in {good}..{parsed.size - 1} was changed",
            )
            continue
        good = max(good, parsed.size)
        if prev is not None and 0 < prev.size < parsed.size:
            tree = tree or LedgerTree.open(conn)
            try:
                proof = tree.consistency_proof(prev.size, parsed.size)
                verify_consistency(prev.size, parsed.size, prev.root, parsed.root, proof)
            except (InvalidProof, TamperDetected) as exc:
                first.add(prev.size, CHECKPOINTS, cp.seq, f"not consistent with previous: {exc}")
        elif prev is not None and prev.size > parsed.size:
            first.add(parsed.size, CHECKPOINTS, cp.seq, "checkpoint sizes go backwards")
        prev = parsed


def verify(
    session: Session,
    *,
    public_key: Ed25519PublicKey | None = None,
    projections: Iterable[Projection] = (),
    progress: Progress | None = None,
    chunk_size: int = 20_000,
) -> VerifyReport:
    """Recompute and cross-check the whole ledger (read-only); return a report naming the first
    discrepancy. Pass the log's public key to check checkpoint signatures, projections to
    re-derive domain tables, and progress(done, total) for a progress bar.

    Give it a session that has not begun a transaction: on PostgreSQL it then reads one
    REPEATABLE READ snapshot, so concurrent appends cannot make things look different (in a
    running READ COMMITTED transaction, rows and checkpoints newer than the head it read are
    skipped instead). On SQLite the pass is one transaction too; with app.make_engine's BEGIN
    IMMEDIATE that holds the write lock throughout (about 15 s per million entries), so a
    read-only engine without it suits long runs better. The session's transaction is left open:
    roll it back (or commit) afterwards.
    """
    conn, snapshot = _connection(session)
    row = conn.execute(_head, {"id": HEAD_ID}).one()
    size, frontier = int(row[0]), bytes(row[1])
    checkpoints = []
    for cp in all_checkpoints(session):
        try:
            checkpoints.append((cp, parse_checkpoint(cp.note)))
        except InvalidProof:
            checkpoints.append((cp, None))
    sizes = {p.size for _, p in checkpoints if p is not None} | {cp.size for cp, _ in checkpoints}
    states = [_ProjectionState(p) for p in projections]
    routes: dict[str, list[_ProjectionState]] = {}
    for state in states:
        for etype in state.projection.entry_types:
            routes.setdefault(etype, []).append(state)
    first = _First()
    scan = _scan(conn, size, sizes, routes, first, progress, chunk_size)
    root = _fold(scan.stack)
    if scan.broken_at is None and frontier != b"".join(scan.stack):
        first.add(size, HEAD, HEAD_ID, "head frontier differs from the recomputed tree")
    if snapshot:
        beyond = conn.execute(_beyond, {"size": size}).scalar()
        if beyond is not None:
            first.add(int(beyond), ENTRIES, beyond, f"entry beyond the head size {size}")
    _check_checkpoints(conn, checkpoints, scan, size, public_key, first, snapshot)
    rows = 0
    derived = _First()  # projection problems rank after the ledger's own
    if states:
        salts = _load_salts(conn, set().union(*(s.salt_indexes() for s in states)))
        for state in states:
            rows += state.compare(conn, size, salts, derived, snapshot)
    if progress is not None:
        progress(size, size)
    return VerifyReport(
        size=size,
        root=root,
        entries_checked=scan.checked,
        checkpoints_checked=len(checkpoints),
        signatures_checked=public_key is not None,
        rows_checked=rows,
        problem=first.found or derived.found,
    )
