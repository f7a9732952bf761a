"""The map of case heads: what each checkpoint says about every case's newest record.

A Merkle tree over all records shows that a record is in the log, not that a case has no
later record: an exporter could leave a case's newest records out of its bundle. So each
checkpoint also signs the root of a *verifiable map* from every stream (case, access log)
to its head, the last sequence and leaf hash in the tree at the checkpoint's size. The map
is a function of the tree, as in Trillian's log-backed maps and Key Transparency: anyone
holding the records recomputes it, and a bundle carries one entry's proof.

The map is a two-level RFC 6962 tree, small to update and to prove:

- an entry is ``SHA-256(0x00 || "phasedcare-head-v1" || len(case) || case || sequence ||
  leaf)``, lengths and the sequence as 8-byte big-endian integers;
- a case lives in bucket ``SHA-256(case)[:2] >> 6`` (the first 10 bits: 1,024 buckets);
  a bucket's root is the RFC 6962 root of its entries sorted by case id (the empty root if
  none);
- the map root is the RFC 6962 root of the 1,024 bucket roots.

Updating k heads costs O(k * bucket size + k log 1024) hashes; a proof is the entry's path
in its bucket plus 10 hashes. Each signer builds one entry per stream, so an entry's proof
fixes the case's head: a bundle that stops before it is incomplete, and says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from phasedcare.ledger.merkle import EMPTY_ROOT, inclusion_proof, inclusion_root, node_hash, root

__all__ = [
    "BUCKETS",
    "BUCKET_BITS",
    "HeadMap",
    "HeadProof",
    "bucket_of",
    "entry_hash",
    "verify_head",
]

BUCKET_BITS = 10
BUCKETS = 1 << BUCKET_BITS
_ENTRY = b"phasedcare-head-v1"


def bucket_of(case_id: str) -> int:
    """The bucket a case's entry lives in: the first 10 bits of SHA-256(case id)."""
    digest = hashlib.sha256(case_id.encode()).digest()
    return int.from_bytes(digest[:2], "big") >> (16 - BUCKET_BITS)


def entry_hash(case_id: str, sequence: int, leaf: bytes) -> bytes:
    """The map entry of a case whose head is ``sequence`` with leaf hash ``leaf``."""
    case = case_id.encode()
    return hashlib.sha256(
        b"\x00" + _ENTRY + len(case).to_bytes(8, "big") + case + sequence.to_bytes(8, "big") + leaf
    ).digest()


@dataclass(frozen=True, slots=True)
class HeadProof:
    """Where a case's entry sits in the map: its bucket's size, its index there, the path
    to the bucket's root and the path from the bucket to the map root."""

    bucket_size: int
    index: int
    bucket_path: tuple[bytes, ...]
    map_path: tuple[bytes, ...]


def verify_head(
    case_id: str, sequence: int, leaf: bytes, proof: HeadProof, map_root: bytes
) -> bool:
    """Whether ``proof`` shows the map of root ``map_root`` holds this head for the case."""
    bucket = inclusion_root(
        entry_hash(case_id, sequence, leaf), proof.index, proof.bucket_size, proof.bucket_path
    )
    if bucket is None:
        return False
    return inclusion_root(bucket, bucket_of(case_id), BUCKETS, proof.map_path) == map_root


class HeadMap:
    """Every stream's head at one tree size, with the map's root kept up to date lazily."""

    def __init__(self) -> None:
        self.size = 0
        self._heads: dict[str, tuple[int, bytes]] = {}
        self._entries: list[dict[str, bytes]] = [{} for _ in range(BUCKETS)]
        self._levels: list[list[bytes]] = [[EMPTY_ROOT] * (BUCKETS >> n) for n in range(11)]
        for level in range(1, BUCKET_BITS + 1):
            below = self._levels[level - 1]
            self._levels[level] = [
                node_hash(below[2 * i], below[2 * i + 1]) for i in range(BUCKETS >> level)
            ]
        self._dirty: set[int] = set()
        self._bucket_of: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._heads)

    def head(self, case_id: str) -> tuple[int, bytes] | None:
        """The case's last sequence and leaf hash at this size, if it has records."""
        return self._heads.get(case_id)

    def put(self, case_id: str, sequence: int, leaf: bytes) -> None:
        """Make ``sequence`` (leaf ``leaf``) the case's head."""
        self._heads[case_id] = (sequence, leaf)
        bucket = self._bucket_of.get(case_id)
        if bucket is None:
            bucket = self._bucket_of[case_id] = bucket_of(case_id)
        self._entries[bucket][case_id] = entry_hash(case_id, sequence, leaf)
        self._dirty.add(bucket)

    def advance(self, entries: Iterable[tuple[str, int, bytes]], *, size: int) -> None:
        """Take the records of the tree from this map's size up to ``size``, in tree order."""
        for case_id, sequence, leaf in entries:
            self.put(case_id, sequence, leaf)
        self.size = size

    def root(self) -> bytes:
        """The map's root: the changed buckets and their paths are rehashed first."""
        for bucket in sorted(self._dirty):
            self._levels[0][bucket] = root(self._bucket(bucket))
            index = bucket
            for level in range(1, BUCKET_BITS + 1):
                index >>= 1
                below = self._levels[level - 1]
                self._levels[level][index] = node_hash(below[2 * index], below[2 * index + 1])
        self._dirty.clear()
        return self._levels[BUCKET_BITS][0]

    def proof(self, case_id: str) -> HeadProof:
        """The proof of the case's entry (KeyError when the case has no head here)."""
        if case_id not in self._heads:
            raise KeyError(case_id)
        self.root()
        bucket = bucket_of(case_id)
        ordered = sorted(self._entries[bucket])
        index = ordered.index(case_id)
        path, position = [], bucket
        for level in range(BUCKET_BITS):
            path.append(self._levels[level][position ^ 1])
            position >>= 1
        return HeadProof(
            bucket_size=len(ordered),
            index=index,
            bucket_path=tuple(inclusion_proof(self._bucket(bucket), index)),
            map_path=tuple(path),
        )

    def _bucket(self, bucket: int) -> Sequence[bytes]:
        entries = self._entries[bucket]
        return [entries[case_id] for case_id in sorted(entries)]
