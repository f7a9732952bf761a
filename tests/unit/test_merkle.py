"""The RFC 6962 Merkle tree: roots, inclusion and consistency proofs, and the frontier."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phasedcare.ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    node_hash,
    root,
    roots_at,
    verify_consistency,
    verify_inclusion,
)


def leaf(n: int) -> bytes:
    """A leaf hash for entry n (RFC 6962: SHA-256(0x00 || entry))."""
    return hashlib.sha256(b"\x00" + n.to_bytes(4, "big")).digest()


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 6962 section 2.1, recursively."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def test_small_trees_match_the_definition() -> None:
    """Three leaves: H(1, H(0,1)... ) as RFC 6962 builds it: ((a,b),c)."""
    a, b, c = leaf(0), leaf(1), leaf(2)
    assert root([a, b, c]) == node_hash(node_hash(a, b), c)
    assert root([]) == EMPTY_ROOT
    assert root([a]) == a


@given(st.integers(0, 70))
def test_roots_match_the_recursive_definition_at_every_size(n: int) -> None:
    """The one-pass compact range gives RFC 6962's root at every prefix size."""
    leaves = [leaf(i) for i in range(n)]
    found = roots_at(leaves, range(n + 1))
    assert found == {size: reference_root(leaves[:size]) for size in range(n + 1)}


@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_every_inclusion_proof_verifies_and_a_wrong_leaf_does_not(case: tuple[int, int]) -> None:
    """An audit path proves its leaf, and only its leaf, at its index."""
    n, index = case
    leaves = [leaf(i) for i in range(n)]
    proof = inclusion_proof(leaves, index)
    assert verify_inclusion(leaves[index], index, n, proof, root(leaves))
    assert not verify_inclusion(leaf(999), index, n, proof, root(leaves))
    assert n == 1 or not verify_inclusion(leaves[index], (index + 1) % n, n, proof, root(leaves))


@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_consistency_proofs_verify_and_detect_rewrites(sizes: tuple[int, int]) -> None:
    """A later tree extends an earlier one; a rewritten early leaf breaks the proof."""
    first, second = sizes
    leaves = [leaf(i) for i in range(second)]
    proof = consistency_proof(leaves, first)
    assert verify_consistency(first, second, root(leaves[:first]), root(leaves), proof)
    forged = [leaf(1000), *leaves[1:]]
    assert first == second or not verify_consistency(
        first, second, root(leaves[:first]), root(forged), consistency_proof(forged, first)
    )


@given(st.lists(st.integers(0, 40), max_size=8))
def test_a_frontier_grown_in_any_chunks_has_merkle_roots_at_every_size(chunks: list[int]) -> None:
    """Extended chunk by chunk, the frontier's root is RFC 6962's over the leaves so far."""
    frontier, leaves = Frontier(), []
    for chunk in chunks:
        new = [leaf(len(leaves) + i) for i in range(chunk)]
        leaves.extend(new)
        frontier.extend(new)
        assert (frontier.size, frontier.root()) == (len(leaves), reference_root(leaves))
    assert len(frontier.to_bytes()) == 32 * bin(len(leaves)).count("1")


@given(st.integers(0, 300), st.integers(0, 40))
def test_a_kept_frontier_continues_like_the_one_it_was_kept_from(size: int, more: int) -> None:
    """to_bytes/from_bytes keeps size and root; both then grow to the same RFC 6962 root."""
    leaves = [leaf(i) for i in range(size + more)]
    original = Frontier().extend(leaves[:size])
    kept = Frontier.from_bytes(original.to_bytes(), size=size)
    assert (kept.size, kept.root()) == (size, reference_root(leaves[:size]))
    assert (
        kept.extend(leaves[size:]).root()
        == original.extend(leaves[size:]).root()
        == reference_root(leaves)
    )


def test_a_frontier_of_the_wrong_length_is_refused() -> None:
    """A frontier must hold one 32-byte root per set bit of its size."""
    five = Frontier().extend(leaf(i) for i in range(5)).to_bytes()  # 5 = 0b101: two roots
    with pytest.raises(ValueError, match="a tree of 6 leaves has 2 subtree roots, not 1"):
        Frontier.from_bytes(five[:32], size=6)
    with pytest.raises(ValueError, match="a frontier of 63 bytes is not whole 32-byte hashes"):
        Frontier.from_bytes(five[:-1], size=5)
    with pytest.raises(ValueError, match="a tree of 4 leaves has 1 subtree roots, not 2"):
        Frontier.from_bytes(five, size=4)
