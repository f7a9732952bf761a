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
from phasedcare.ledger.merkle import roots_at
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


def _tree(records: dict[int, StoredEvent], report: VerifyReport) -> list[bytes]:
    leaves = []
    for index in range(len(records)):
        if index not in records:
            report.problems.append(Problem(f"tree index {index} is missing: a record was removed"))
            break
        leaves.append(records[index].leaf_hash)
    report.tree_size = len(leaves)
    return leaves


def _checkpoints(notes: Iterable[str], public: bytes, origin: str, report: VerifyReport) -> None:
    for note in notes:
        try:
            report.checkpoints.append(parse_checkpoint(note, public=public, origin=origin))
        except ValueError as exc:
            report.problems.append(Problem(f"checkpoint rejected: {exc}"))
    report.checkpoints.sort(key=lambda c: c.size)


def _roots(leaves: list[bytes], report: VerifyReport) -> None:
    roots = roots_at(leaves, [c.size for c in report.checkpoints if c.size <= len(leaves)])
    for checkpoint in report.checkpoints:
        if checkpoint.size > len(leaves):
            report.problems.append(
                Problem(
                    f"checkpoint of {checkpoint.size} records, but the tree holds "
                    f"{len(leaves)}: records were removed (truncation or rollback)"
                )
            )
        elif roots[checkpoint.size] != checkpoint.root:
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
    """Check every record, the tree and every checkpoint; needs no decryption key."""
    report = VerifyReport()
    heads: dict[str, tuple[int, bytes]] = {}
    indexed: dict[int, StoredEvent] = {}
    for record in records:
        report.records += 1
        _check_record(record, heads, report)
        if record.tree_index is not None:
            if record.tree_index in indexed:
                report.problems.append(_at(record, f"tree index {record.tree_index} appears twice"))
            indexed[record.tree_index] = record
        if progress is not None:
            progress(report.records)
    report.cases = len(heads)
    leaves = _tree(indexed, report)
    _checkpoints(notes, public, origin, report)
    _roots(leaves, report)
    return report
