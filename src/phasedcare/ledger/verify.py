"""Verification without decryption: chains, leaf hashes, the tree and signed checkpoints.

An auditor needs only the records (headers, sealed payloads, leaf hashes), the checkpoint
notes and the public key. Every problem names the record's position and case and what is
wrong; the first one is what ``phasedcare audit verify`` reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from phasedcare.ledger.chain import GENESIS, leaf_hash
from phasedcare.ledger.checkpoints import Checkpoint, parse_checkpoint
from phasedcare.ledger.merkle import EMPTY_ROOT, Frontier
from phasedcare.ledger.records import StoredEvent

__all__ = ["Problem", "VerifyReport", "verify_ledger"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the ledger, located as precisely as it can be."""

    what: str
    position: int | None = None
    case_id: str | None = None
    sequence: int | None = None

    def __str__(self) -> str:
        where = []
        if self.position is not None:
            where.append(f"position {self.position}")
        if self.case_id is not None:
            where.append(f"case {self.case_id}#{self.sequence}")
        return f"{', '.join(where) or 'ledger'}: {self.what}"


@dataclass
class VerifyReport:
    """What verification checked and what it found."""

    records: int = 0
    cases: int = 0
    tree_size: int = 0
    checkpoints: list[Checkpoint] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def _at(record: StoredEvent, what: str) -> Problem:
    return Problem(what, record.position, record.header.case_id, record.header.sequence)


def _check_record(
    record: StoredEvent, heads: dict[str, tuple[int, bytes]], report: VerifyReport
) -> None:
    header = record.header
    last_sequence, previous = heads.get(header.case_id, (0, GENESIS))
    if header.sequence != last_sequence + 1:
        what = (
            f"sequence {header.sequence} follows {last_sequence}: a record is missing, "
            "duplicated or out of order"
        )
        report.problems.append(_at(record, what))
    elif leaf_hash(header, record.payload, previous) != record.leaf_hash:
        what = "leaf hash does not match the header, payload and previous record: altered"
        report.problems.append(_at(record, what))
    heads[header.case_id] = (header.sequence, record.leaf_hash)


class _Tree:
    """The Merkle tree rebuilt as records stream past, keeping O(log n) hashes.

    Leaves arriving in tree order go straight into a :class:`Frontier`; one arriving early
    (PostgreSQL may commit out of position order) waits until the gap before it fills. The
    root is taken at each signed size as the frontier passes it.
    """

    def __init__(self, sizes: set[int]) -> None:
        self._frontier = Frontier()
        self.roots = {0: EMPTY_ROOT} if 0 in sizes else {}
        self.size = 0  # the frontier's size, kept here where every record reads it
        self._sizes = sizes
        self._early: dict[int, bytes] = {}

    def add(self, index: int, leaf: bytes) -> str | None:
        """Take the leaf at ``index``, or say why it cannot be there."""
        if index == self.size:
            self._take(leaf)
            while self._early and self.size in self._early:
                self._take(self._early.pop(self.size))
            return None
        if index < 0:
            return f"tree index {index} is negative"
        if index < self.size or index in self._early:
            return f"tree index {index} appears twice"
        self._early[index] = leaf
        return None

    def _take(self, leaf: bytes) -> None:
        """Append the next leaf; keep the root when a checkpoint signed this size."""
        self._frontier.append(leaf)
        self.size += 1
        if self.size in self._sizes:
            self.roots[self.size] = self._frontier.root()

    def gap(self) -> int | None:
        """The first missing index below a taken one, if any."""
        return self.size if self._early else None


def _checkpoints(
    notes: Iterable[str], public: bytes, origin: str
) -> tuple[list[Checkpoint], list[Problem]]:
    """The checkpoints that verify, by size, and a problem for each note that does not."""
    checkpoints, rejected = [], []
    for note in notes:
        try:
            checkpoints.append(parse_checkpoint(note, public=public, origin=origin))
        except ValueError as exc:
            rejected.append(Problem(f"checkpoint rejected: {exc}"))
    checkpoints.sort(key=lambda c: c.size)
    return checkpoints, rejected


def _roots(tree: _Tree, report: VerifyReport) -> None:
    for checkpoint in report.checkpoints:
        if checkpoint.size > report.tree_size:
            report.problems.append(
                Problem(
                    f"checkpoint of {checkpoint.size} records, but the tree holds "
                    f"{report.tree_size}: records were removed (truncation or rollback)"
                )
            )
        elif tree.roots[checkpoint.size] != checkpoint.root:
            report.problems.append(
                Problem(
                    f"the tree's root at size {checkpoint.size} differs from its signed "
                    "checkpoint: integrated records were altered, removed or reordered"
                )
            )


def verify_ledger(
    records: Iterable[StoredEvent],
    *,
    notes: Iterable[str],
    public: bytes,
    origin: str,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Check every record, the tree and every checkpoint; needs no decryption key.

    Records stream through once: memory holds a chain head per case and O(log n) tree
    hashes, not the ledger.
    """
    report = VerifyReport()
    checkpoints, rejected = _checkpoints(notes, public, origin)
    tree = _Tree({c.size for c in checkpoints})
    heads: dict[str, tuple[int, bytes]] = {}
    for record in records:
        report.records += 1
        _check_record(record, heads, report)
        wrong = None if record.tree_index is None else tree.add(record.tree_index, record.leaf_hash)
        if wrong is not None:
            report.problems.append(_at(record, wrong))
        if progress is not None:
            progress(report.records)
    report.cases = len(heads)
    gap = tree.gap()
    if gap is not None:
        report.problems.append(Problem(f"tree index {gap} is missing: a record was removed"))
    report.tree_size = tree.size
    report.checkpoints = checkpoints
    report.problems.extend(rejected)
    _roots(tree, report)
    return report
