"""The RFC 6962 Merkle tree: roots, inclusion and consistency proofs."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from phasedcare.ledger.merkle import (
    EMPTY_ROOT,
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
