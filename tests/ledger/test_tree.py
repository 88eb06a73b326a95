"""The stored tree: roots equal pymerkle's, proofs equal the RFC vectors and the reference,
and survive a restart with O(log n) reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pymerkle
import pytest
from pymerkle import InmemoryTree
from sqlalchemy import Engine, event
from sqlmodel import Session

import ledger
from app import make_engine
from ledger.tree import SQLITE_ROWS_PER_INSERT, LedgerTree
from tests.ledger import reference as ref

# shared/ sits beside the repository (in CI too)
VECTORS = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "merkle"
TREE = json.loads((VECTORS / "rfc6962_reference_tree.json").read_text())
REFERENCE_LEAVES = [bytes.fromhex(x) for x in TREE["leaf_inputs_hex"]]
REFERENCE_ROOTS = {int(k): bytes.fromhex(v) for k, v in TREE["root_hash_by_tree_size"].items()}


def _append_raw(engine: Engine, data: list[bytes]) -> None:
    """Leaves with arbitrary bytes (the RFC test inputs are not JSON envelopes)."""
    with Session(engine) as session:
        tree = LedgerTree.open(session.connection(), lock=True)
        tree.append_rows([("test.raw", d) for d in data])
        tree.save_head()
        session.commit()


def test_roots_equal_pymerkle_inmemory_roots(engine: Engine) -> None:
    data = [f"entry {i}".encode() for i in range(45)]
    _append_raw(engine, data[:20])
    _append_raw(engine, data[20:])
    expected = InmemoryTree.init_from_entries(data)
    with Session(engine) as session:
        for size in range(46):
            assert ledger.root_at(session, size) == expected.get_root(size)


def test_a_batch_spanning_several_inserts_stores_every_row_and_node(engine: Engine) -> None:
    # an odd start, then two full multi-row INSERTs and a remainder (SQLite), COPY (PostgreSQL)
    data = [f"entry {i}".encode() for i in range(3 + 2 * SQLITE_ROWS_PER_INSERT + 57)]
    _append_raw(engine, data[:3])
    _append_raw(engine, data[3:])
    leaves = [ref.leaf(d) for d in data]
    with Session(engine) as session:
        assert ledger.tree_size(session) == len(data)
        stored = ledger.entries(session, 0, len(data))
        assert [(e.index, e.type, e.data) for e in stored] == [
            (i, "test.raw", d) for i, d in enumerate(data)
        ]
        assert [e.leaf_hash for e in stored] == leaves
        for size in (1, 3, 4, 204, 256, 403, len(data) - 1, len(data)):
            assert ledger.root_at(session, size) == ref.mth(leaves[:size])
        assert ledger.prove_inclusion(session, 300, len(data)) == ref.path(300, leaves)
        assert ledger.prove_consistency(session, 3, len(data)) == ref.proof(3, leaves)
        head = LedgerTree.open(session.connection())
        assert head.frontier_root() == ref.mth(leaves)


@pytest.fixture
def reference_tree(engine: Engine) -> Engine:
    _append_raw(engine, REFERENCE_LEAVES)
    return engine


def test_reference_tree_roots(reference_tree: Engine) -> None:
    with Session(reference_tree) as session:
        for size, root in REFERENCE_ROOTS.items():
            assert ledger.root_at(session, size) == root


def _inclusion_vectors() -> list[dict[str, Any]]:
    return json.loads((VECTORS / "inclusion_vectors.json").read_text())["vectors"]


def _consistency_vectors() -> list[dict[str, Any]]:
    return json.loads((VECTORS / "consistency_vectors.json").read_text())["vectors"]


def _on_reference_tree(root: str, size: int) -> bool:
    return size in REFERENCE_ROOTS and REFERENCE_ROOTS[size].hex() == root


def test_ledger_inclusion_proofs_agree_with_every_vector(reference_tree: Engine) -> None:
    checked = 0
    with Session(reference_tree) as session:
        for v in _inclusion_vectors():
            index, size = v["leaf_index"], v["tree_size"]
            if not (0 <= index < size <= len(REFERENCE_LEAVES)):
                with pytest.raises(ledger.UnknownIndex):
                    ledger.prove_inclusion(session, index, size)
                continue
            if not _on_reference_tree(v["root"], size):
                continue  # a vector about another tree (random or empty root)
            ours = [h.hex() for h in ledger.prove_inclusion(session, index, size)]
            ours_leaf = ref.leaf(REFERENCE_LEAVES[index]).hex()
            matches = ours == v["proof"] and ours_leaf == v["leaf_hash"]
            assert matches is not v["want_error"], v["desc"]
            checked += 1
    assert checked >= 40


def test_ledger_consistency_proofs_agree_with_every_vector(reference_tree: Engine) -> None:
    checked = 0
    with Session(reference_tree) as session:
        for v in _consistency_vectors():
            first, second = v["size1"], v["size2"]
            if not 0 < first <= second:
                with pytest.raises(ledger.LedgerError):
                    ledger.prove_consistency(session, first, second)
                continue
            if second > len(REFERENCE_LEAVES):
                with pytest.raises(ledger.UnknownIndex):
                    ledger.prove_consistency(session, first, second)
                continue
            if not (
                _on_reference_tree(v["root1"], first) and _on_reference_tree(v["root2"], second)
            ):
                continue
            ours = [h.hex() for h in ledger.prove_consistency(session, first, second)]
            assert (ours == v["proof"]) is not v["want_error"], v["desc"]
            checked += 1
    assert checked >= 40


def test_every_proof_of_a_stored_tree_equals_the_reference(engine: Engine) -> None:
    data = [f"entry {i}".encode() for i in range(33)]
    _append_raw(engine, data)
    leaves = [ref.leaf(d) for d in data]
    with Session(engine) as session:
        for size in range(1, 34):
            for index in range(size):
                assert ledger.prove_inclusion(session, index, size) == ref.path(
                    index, leaves[:size]
                )
            for first in range(1, size + 1):
                assert ledger.prove_consistency(session, first, size) == ref.proof(
                    first, leaves[:size]
                )


def test_proofs_after_a_restart_read_few_rows_in_one_query(engine: Engine) -> None:
    data = [f"entry {i}".encode() for i in range(1000)]
    _append_raw(engine, data)
    leaves = [ref.leaf(d) for d in data]
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    fresh = make_engine(url)
    statements: list[str] = []
    event.listen(fresh, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(fresh) as session:
        assert ledger.prove_inclusion(session, 617, 1000) == ref.path(617, leaves)
        reads = [s for s in statements if "ledger_" in s]
        assert len(reads) == 1  # one primary-key IN (...) query: no head read, no range scans
        assert ledger.prove_consistency(session, 300, 1000) == ref.proof(300, leaves)
    fresh.dispose()


@pytest.mark.parametrize("index,size", [(0, 0), (5, 5), (-1, 3), (0, 11)])
def test_inclusion_outside_the_log_is_an_unknown_index(
    engine: Engine, index: int, size: int
) -> None:
    _append_raw(engine, [b"a"] * 10)
    with Session(engine) as session, pytest.raises(LookupError):
        ledger.prove_inclusion(session, index, size)


@pytest.mark.parametrize("first,second", [(0, 5), (6, 5)])
def test_consistency_needs_increasing_sizes(engine: Engine, first: int, second: int) -> None:
    _append_raw(engine, [b"a"] * 10)
    with Session(engine) as session, pytest.raises(ledger.LedgerError):
        ledger.prove_consistency(session, first, second)


@pytest.mark.parametrize("first,second", [(3, 11), (11, 11)])
def test_consistency_beyond_the_log_is_an_unknown_index(
    engine: Engine, first: int, second: int
) -> None:
    _append_raw(engine, [b"a"] * 10)
    with Session(engine) as session, pytest.raises(ledger.UnknownIndex):
        ledger.prove_consistency(session, first, second)
    with Session(engine) as session, pytest.raises(ledger.UnknownIndex):
        ledger.root_at(session, second)


def test_pymerkle_api_runs_on_the_stored_tree(engine: Engine) -> None:
    with Session(engine) as session:
        tree = LedgerTree.open(session.connection(), lock=True)
        assert tree.append_entry(("test.raw", b"a")) == 1  # pymerkle counts from 1
        assert tree.append_entries([("test.raw", b"b"), ("test.raw", b"c")]) == 3
        tree.save_head()
        session.commit()
    expected = InmemoryTree.init_from_entries([b"a", b"b", b"c"])
    with Session(engine) as session:
        tree = LedgerTree.open(session.connection())
        assert tree.get_size() == 3
        assert tree.get_root() == expected.get_root()
        assert tree.get_leaf(3) == ref.leaf(b"c")
        pymerkle.verify_inclusion(ref.leaf(b"b"), expected.get_root(), tree.prove_inclusion(2))
