"""Verification without decryption: chains, leaf hashes, authenticity, the tree, the map of
case heads and signed checkpoints.

An auditor needs only the records (headers, sealed payloads, leaf hashes), the checkpoint
notes and the public key. A ledger whose records are not all under a signed checkpoint is
*unanchored*: reported as a problem unless the caller allows it (a live ledger has a tail
committed since the last checkpoint). Every problem names the record's position and case and what is
wrong; the first one is what ``phasedcare audit verify`` reports.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from phasedcare.ledger.authenticity import (
    TOMBSTONE_TYPE,
    header_problem,
    is_legacy_tombstone,
    legacy_cover,
    legacy_tombstone_problem,
)
from phasedcare.ledger.chain import GENESIS, leaf_hash
from phasedcare.ledger.checkpoints import Checkpoint, parse_checkpoint
from phasedcare.ledger.heads import HeadMap
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
    unanchored: int = 0
    """Records no signed checkpoint covers (a problem unless allowed)."""
    anchored_through: int = 0
    """The size of the newest signed checkpoint: the records it covers."""
    complete_through: int | None = None
    """A case bundle's last sequence, once the checkpoint's map proves it is the case's head."""
    as_of: Checkpoint | None = None
    """A ledger bundle's newest checkpoint: the bundle holds the ledger as it was signed then."""

    @property
    def intact(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def summary(self) -> str:
        """The one line ``phasedcare audit verify`` prints: counts, completeness or the first
        problem."""
        if not self.intact:
            first = self.problems[0]
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            return f"ledger NOT intact: {first}{more}"
        if self.complete_through is not None:
            [checkpoint] = self.checkpoints
            return (
                f"case bundle intact: {self.records} records, complete through sequence "
                f"{self.complete_through} as of checkpoint {checkpoint.size} "
                f"(signed {checkpoint.signed_at.isoformat()})"
            )
        counts = f"{self.records} records, {self.cases} cases, tree of {self.tree_size}"
        signed = f"{len(self.checkpoints)} signed checkpoints verified"
        tail = f", {self.unanchored} records unanchored (allowed)" if self.unanchored else ""
        if self.as_of is not None:
            tail += (
                f", as of checkpoint {self.as_of.size} (signed {self.as_of.signed_at.isoformat()})"
            )
        return f"ledger intact: {counts}, {signed}{tail}"

    def as_json(self) -> dict[str, object]:
        """The report as ``audit verify --json`` and ``GET /ledger/verify`` give it."""
        return {
            "intact": self.intact,
            "records": self.records,
            "cases": self.cases,
            "tree_size": self.tree_size,
            "checkpoints": len(self.checkpoints),
            "anchored_through": self.anchored_through,
            "unanchored": self.unanchored,
            "complete_through": self.complete_through,
            "problems": [str(p) for p in self.problems],
        }


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
    """The Merkle tree and the map of case heads rebuilt as records stream past, keeping
    O(log n) tree hashes and one head per stream.

    Leaves arriving in tree order go straight into a :class:`Frontier` and the heads; one
    arriving early (PostgreSQL may commit out of position order) waits until the gap before
    it fills. The roots are taken at each signed size as the frontier passes it.
    """

    def __init__(self, sizes: set[int]) -> None:
        self._frontier = Frontier()
        self.heads = HeadMap()
        self.roots = {0: (EMPTY_ROOT, self.heads.root())} if 0 in sizes else {}
        self.size = 0  # the frontier's size, kept here where every record reads it
        self._sizes = sizes
        self._early: dict[int, StoredEvent] = {}

    def add(self, record: StoredEvent) -> str | None:
        """Take the record at its tree index, or say why it cannot be there."""
        index = record.tree_index
        assert index is not None  # noqa: S101 - only integrated records are added
        if index == self.size:
            self._take(record)
            while self._early and self.size in self._early:
                self._take(self._early.pop(self.size))
            return None
        if index < 0:
            return f"tree index {index} is negative"
        if index < self.size or index in self._early:
            return f"tree index {index} appears twice"
        self._early[index] = record
        return None

    def _take(self, record: StoredEvent) -> None:
        """Append the next leaf; keep the roots when a checkpoint signed this size."""
        self._frontier.append(record.leaf_hash)
        self.heads.put(record.header.case_id, record.header.sequence, record.leaf_hash)
        self.size += 1
        if self.size in self._sizes:
            self.roots[self.size] = (self._frontier.root(), self.heads.root())

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
            continue
        tree_root, map_root = tree.roots[checkpoint.size]
        if tree_root != checkpoint.root:
            report.problems.append(
                Problem(
                    f"the tree's root at size {checkpoint.size} differs from its signed "
                    "checkpoint: integrated records were altered, removed or reordered"
                )
            )
        elif checkpoint.map_root is not None and map_root != checkpoint.map_root:
            report.problems.append(
                Problem(
                    f"the case heads at size {checkpoint.size} differ from the map its "
                    "checkpoint signed: a case's records were altered or removed"
                )
            )


class _Authenticity:
    """What the engine wrote, told from the headers (:mod:`.authenticity`), per record and
    per stream: a legacy tombstone must lie under a checkpoint signed before tombstones were
    (one without a map), and a stream without a data key must end in a tombstone."""

    def __init__(self, public: bytes, checkpoints: list[Checkpoint]) -> None:
        self._public = public
        self._legacy_cover = legacy_cover(checkpoints)
        self.erased: set[str] = set()

    def check(self, record: StoredEvent, report: VerifyReport) -> None:
        problem = header_problem(record, self._public)
        if problem is None and is_legacy_tombstone(record.header):
            problem = legacy_tombstone_problem(record, self._legacy_cover)
        if problem is not None:
            report.problems.append(_at(record, problem))
        if record.header.event_type == TOMBSTONE_TYPE:
            self.erased.add(record.header.case_id)

    def finish(
        self,
        heads: dict[str, tuple[int, bytes]],
        keyed: Collection[str] | None,
        report: VerifyReport,
    ) -> None:
        if keyed is None:
            return
        for case_id in sorted(heads.keys() - self.erased - set(keyed)):
            sequence, _ = heads[case_id]
            what = "sealed records but no data key and no erasure tombstone: key removed"
            report.problems.append(Problem(what, None, case_id, sequence))


def _anchoring(report: VerifyReport, first: StoredEvent | None, *, allow_unanchored: bool) -> None:
    """The records no signed checkpoint covers (counted as they passed, ``first`` the
    first of them); unless allowed, that is a problem."""
    covered = max((c.size for c in report.checkpoints), default=0)
    report.anchored_through = covered
    if first is not None and not allow_unanchored:
        what = (
            f"unanchored: {report.unanchored} records are covered by no signed checkpoint "
            f"(the newest covers {covered}); sign one (phasedcare audit checkpoint) or "
            "allow it explicitly"
        )
        report.problems.append(_at(first, what))


def verify_ledger(
    records: Iterable[StoredEvent],
    *,
    notes: Iterable[str],
    public: bytes,
    origin: str,
    progress: Callable[[int], None] | None = None,
    keyed: Collection[str] | None = None,
    allow_unanchored: bool = False,
) -> VerifyReport:
    """Check every record, the tree, the map of case heads and every checkpoint; needs no
    decryption key.

    Records stream through once: memory holds a chain head per stream and O(log n) tree
    hashes, not the ledger. ``keyed`` names the streams that have a data key (the key table
    of a live database): a stream with records, no key and no tombstone is reported.
    """
    report = VerifyReport()
    checkpoints, rejected = _checkpoints(notes, public, origin)
    tree = _Tree({c.size for c in checkpoints})
    newest = max((c.size for c in checkpoints), default=0)
    heads: dict[str, tuple[int, bytes]] = {}
    authenticity = _Authenticity(public, checkpoints)
    unanchored: StoredEvent | None = None
    for record in records:
        report.records += 1
        _check_record(record, heads, report)
        authenticity.check(record, report)
        if record.tree_index is None or record.tree_index >= newest:
            report.unanchored += 1
            unanchored = unanchored or record
        wrong = None if record.tree_index is None else tree.add(record)
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
    authenticity.finish(heads, keyed, report)
    _anchoring(report, unanchored, allow_unanchored=allow_unanchored)
    return report
