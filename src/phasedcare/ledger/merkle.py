"""The RFC 6962 / RFC 9162 Merkle tree over every record's leaf hash.

Leaves are the records' leaf hashes (already ``SHA-256(0x00 || entry)``); interior nodes are
``SHA-256(0x01 || left || right)``; a tree of n leaves splits at the largest power of two
below n. Inclusion proofs let an auditor check one case's records against a signed
checkpoint without seeing other cases; consistency proofs show a later tree extends an
earlier one (nothing removed or rewritten).

A :class:`Frontier` holds the roots of the perfect subtrees a tree is made of (at most
log2(n) hashes): enough to extend the tree and compute its root without the earlier leaves,
so a checkpoint after k new records costs O(k + log n) hashes, not O(n).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

_HASH_BYTES = 32

__all__ = [
    "EMPTY_ROOT",
    "NODE_LEVEL",
    "Frontier",
    "consistency_proof",
    "inclusion_proof",
    "inclusion_proof_from",
    "inclusion_root",
    "node_hash",
    "root",
    "roots_at",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()

NODE_LEVEL = 8
"""Perfect subtrees of 2**8 = 256 leaves and more have their roots stored with checkpoints:
an inclusion proof then reads O(log n) stored roots and at most 256 leaves."""


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of ``leaves``."""
    return roots_at(leaves, [len(leaves)])[len(leaves)] if leaves else EMPTY_ROOT


def roots_at(leaves: Iterable[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """The root at each requested size, in one pass over the leaves (a compact range)."""
    wanted = set(sizes)
    found = {0: EMPTY_ROOT} if 0 in wanted else {}
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
        if frontier.size in wanted:
            found[frontier.size] = frontier.root()
    return found


class Frontier:
    """The compact range [0, size) of a tree: one perfect subtree's root per set bit of size.

    The roots are kept left to right (largest first). Appending a leaf merges it with the
    subtrees it completes, like a carry in binary addition; folding them from the right
    gives the RFC 9162 root, the same as :func:`root` over every leaf.
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self, *, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(nodes) != size.bit_count():
            expected = max(size, 0).bit_count()
            msg = f"a tree of {size} leaves has {expected} subtree roots, not {len(nodes)}"
            raise ValueError(msg)
        self._size = size
        self._nodes = list(nodes)

    @property
    def size(self) -> int:
        """The number of leaves covered."""
        return self._size

    def append(self, leaf: bytes, nodes: list[tuple[int, int, bytes]] | None = None) -> None:
        """Add the next leaf; each perfect subtree it completes at level ``NODE_LEVEL`` or
        above goes into ``nodes`` as (level, index, root), when given."""
        node, carries, level = leaf, self._size, 0
        while carries & 1:
            node = node_hash(self._nodes.pop(), node)
            carries >>= 1
            level += 1
            if nodes is not None and level >= NODE_LEVEL:
                nodes.append((level, ((self._size + 1) >> level) - 1, node))
        self._nodes.append(node)
        self._size += 1

    def extend(
        self, leaves: Iterable[bytes], nodes: list[tuple[int, int, bytes]] | None = None
    ) -> Frontier:
        """Add the next leaves (collecting completed subtree roots in ``nodes``); returns
        this frontier."""
        for leaf in leaves:
            self.append(leaf, nodes)
        return self

    def root(self) -> bytes:
        """The root of the tree of the leaves covered so far."""
        if not self._nodes:
            return EMPTY_ROOT
        result = self._nodes[-1]
        for node in reversed(self._nodes[:-1]):
            result = node_hash(node, result)
        return result

    def to_bytes(self) -> bytes:
        """The subtree roots, concatenated (the size is kept beside them)."""
        return b"".join(self._nodes)

    @classmethod
    def from_bytes(cls, data: bytes, *, size: int) -> Frontier:
        """The frontier :meth:`to_bytes` gave for a tree of ``size``; ValueError if it cannot be."""
        if len(data) % _HASH_BYTES:
            msg = f"a frontier of {len(data)} bytes is not whole {_HASH_BYTES}-byte hashes"
            raise ValueError(msg)
        nodes = [data[i : i + _HASH_BYTES] for i in range(0, len(data), _HASH_BYTES)]
        return cls(size=size, nodes=nodes)


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaves`` (RFC 9162 2.1.3.1)."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root(leaves[:k])]


def inclusion_proof_from(index: int, size: int, node: Callable[[int, int], bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` (the same as
    :func:`inclusion_proof`), from perfect subtree roots: ``node(level, i)`` is the root of
    leaves ``[i * 2**level, (i + 1) * 2**level)``. O(log n) nodes instead of every leaf."""

    def range_root(low: int, high: int) -> bytes:
        width = high - low
        if width & (width - 1) == 0:  # a perfect subtree, aligned by the RFC's splits
            level = width.bit_length() - 1
            return node(level, low >> level)
        k = _split(width)
        return node_hash(range_root(low, low + k), range_root(low + k, high))

    path: list[bytes] = []
    low, high = 0, size
    while high - low > 1:
        k = _split(high - low)
        if index < low + k:
            path.append(range_root(low + k, high))
            high = low + k
        else:
            path.append(range_root(low, low + k))
            low += k
    path.reverse()
    return path


def inclusion_root(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root ``proof`` leads to from ``leaf`` at ``index`` in a tree of ``size``; None
    when the proof does not fit the position (too short, too long, or out of range)."""
    if not 0 <= index < size:
        return None
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result if sn == 0 else None


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected: bytes
) -> bool:
    """Whether ``proof`` puts ``leaf`` at ``index`` in the tree of ``size``, root ``expected``."""
    return inclusion_root(leaf, index, size, proof) == expected


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


def consistency_proof(leaves: Sequence[bytes], first: int) -> list[bytes]:
    """Proof that the tree of ``first`` leaves is a prefix of the tree of ``leaves``."""
    if first == 0 or first == len(leaves):
        return []
    return _subproof(first, leaves, True)


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree of size ``first`` is a prefix of that of ``second``."""
    if first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(node, fr), node_hash(node, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, node)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0
