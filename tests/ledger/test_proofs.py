"""RFC 9162 proof shapes against an independent reference; verification accepts exactly them."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree

from ledger import batches
from ledger.proofs import complete_subtrees, consistency_ranges, inclusion_ranges
from ledger.verify_proof import InvalidProof, verify_consistency, verify_inclusion
from tests.ledger import reference as ref


def _leaves(n: int) -> list[bytes]:
    return [ref.leaf(f"leaf {i}".encode()) for i in range(n)]


def _hashes(ranges: list[tuple[int, int]], leaves: list[bytes]) -> list[bytes]:
    return [ref.mth(leaves[s:e]) for s, e in ranges]


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


def test_empty_tree_hash_is_sha256_of_nothing() -> None:
    assert ref.mth([]) == hashlib.sha256(b"").digest()
    assert InmemoryTree().get_root() == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", range(1, 34))
def test_inclusion_ranges_give_the_reference_path(size: int) -> None:
    leaves = _leaves(size)
    for index in range(size):
        assert _hashes(inclusion_ranges(index, size), leaves) == ref.path(index, leaves)


@pytest.mark.parametrize("second", range(1, 34))
def test_consistency_ranges_give_the_reference_proof(second: int) -> None:
    leaves = _leaves(second)
    for first in range(1, second + 1):
        got = _hashes(consistency_ranges(first, second), leaves) if first < second else []
        assert got == ref.proof(first, leaves)


@pytest.mark.parametrize("start,end", [(0, 1), (0, 7), (8, 13), (16, 32), (32, 37)])
def test_complete_subtrees_are_aligned_and_cover_the_range(start: int, end: int) -> None:
    parts = complete_subtrees(start, end)
    assert sorted(parts) == sorted(set(parts))
    assert sum(e - s for s, e in parts) == end - start
    for s, e in parts:
        width = e - s
        assert width & (width - 1) == 0 and s % width == 0


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 64, 100])
def test_pymerkle_roots_and_paths_equal_the_reference(size: int) -> None:
    data = [f"leaf {i}".encode() for i in range(size)]
    tree = InmemoryTree.init_from_entries(data)
    leaves = [ref.leaf(d) for d in data]
    for k in range(size + 1):
        assert tree.get_root(k) == ref.mth(leaves[:k])
    for index in range(size):
        assert list(tree.prove_inclusion(index + 1).path[1:]) == ref.path(index, leaves)


trees = st.integers(min_value=1, max_value=300).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n - 1))
)


@settings(max_examples=60, deadline=None)
@given(trees, st.integers(min_value=0, max_value=10_000))
def test_every_inclusion_proof_verifies_and_any_change_fails(
    case: tuple[int, int], bit: int
) -> None:
    size, index = case
    leaves = _leaves(size)
    root = ref.mth(leaves)
    proof = _hashes(inclusion_ranges(index, size), leaves)
    verify_inclusion(leaves[index], index, size, proof, root)
    with pytest.raises(InvalidProof):
        verify_inclusion(_flip(leaves[index], bit), index, size, proof, root)
    with pytest.raises(InvalidProof):
        verify_inclusion(leaves[index], index, size, proof, _flip(root, bit))
    if proof:
        position = bit % len(proof)
        changed = [*proof[:position], _flip(proof[position], bit), *proof[position + 1 :]]
        with pytest.raises(InvalidProof):
            verify_inclusion(leaves[index], index, size, changed, root)
    for wrong in {index + 1, index - 1, index ^ 2, size} - {index}:
        with pytest.raises(InvalidProof):
            verify_inclusion(leaves[index], wrong, size, proof, root)


sizes = st.integers(min_value=2, max_value=300).flatmap(
    lambda n: st.tuples(st.integers(min_value=1, max_value=n - 1), st.just(n))
)


@settings(max_examples=60, deadline=None)
@given(sizes, st.integers(min_value=0, max_value=10_000))
def test_every_consistency_proof_verifies_and_any_change_fails(
    case: tuple[int, int], bit: int
) -> None:
    first, second = case
    leaves = _leaves(second)
    old, new = ref.mth(leaves[:first]), ref.mth(leaves)
    proof = _hashes(consistency_ranges(first, second), leaves)
    verify_consistency(first, second, old, new, proof)
    with pytest.raises(InvalidProof):
        verify_consistency(first, second, _flip(old, bit), new, proof)
    with pytest.raises(InvalidProof):
        verify_consistency(first, second, old, _flip(new, bit), proof)
    position = bit % len(proof)
    changed = [*proof[:position], _flip(proof[position], bit), *proof[position + 1 :]]
    with pytest.raises(InvalidProof):
        verify_consistency(first, second, old, new, changed)
    for wrong in {first + 1, first - 1} - {first, second}:
        if wrong >= 1:
            with pytest.raises(InvalidProof):
                verify_consistency(wrong, second, old, new, proof)


@pytest.mark.parametrize("count", [1, 2, 7, 100])
def test_record_proofs_lead_to_the_batch_root(count: int) -> None:
    records = [{"device": 3, "celsius": 4.0 + i / 10, "seq": i} for i in range(count)]
    leaves = [ref.leaf(batches.record_bytes(r)) for r in records]
    assert batches.batch_root(records) == ref.mth(leaves)
    for index in (0, count // 2, count - 1):
        proof = batches.prove_record(records, index)
        assert proof.path == ref.path(index, leaves)
        proof.verify()
