"""RFC 9162 proof shapes: which leaf ranges' hashes make up an inclusion or consistency proof.

Pure arithmetic, no hashing and no I/O. A range (start, end) is half-open and 0-based; its hash is
the Merkle Tree Hash of leaves start..end-1. Every range of an RFC 9162 tree starts at a multiple
of the power of two at or above its width, so it splits into aligned complete subtrees
(`complete_subtrees`), each stored with its last leaf in ledger_entry.nodes.
"""

from __future__ import annotations

Range = tuple[int, int]


def split_point(width: int) -> int:
    """RFC 9162 k: the largest power of two smaller than width (width >= 2)."""
    return 1 << ((width - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """Ranges whose hashes form the RFC 9162 inclusion proof PATH(index, D[0:size]), leaf first."""
    siblings: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            siblings.append((start + k, end))
            end = start + k
        else:
            siblings.append((start, start + k))
            start += k
    siblings.reverse()  # the recursion emits the deepest sibling first
    return siblings


def consistency_ranges(first: int, second: int) -> list[Range]:
    """Ranges whose hashes form the RFC 9162 consistency proof PROOF(first, D[0:second])."""
    siblings: list[Range] = []
    start, end, m, whole = 0, second, first, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            siblings.append((start + k, end))
            end = start + k
        else:
            siblings.append((start, start + k))
            start, m, whole = start + k, m - k, False
    siblings.reverse()
    return siblings if whole else [(start, end), *siblings]


def complete_subtrees(start: int, end: int) -> list[Range]:
    """The aligned complete subtrees covering start..end-1, right to left (pymerkle's order)."""
    out: list[Range] = []
    width = end - start
    bit = 0
    while width >> bit:
        if width >> bit & 1:
            size = 1 << bit
            end -= size
            out.append((end, end + size))
        bit += 1
    return out


def frontier_ranges(size: int) -> list[Range]:
    """The maximal complete subtrees of a tree of `size` leaves, left to right."""
    return complete_subtrees(0, size)[::-1]
