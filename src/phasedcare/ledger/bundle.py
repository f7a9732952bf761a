"""Exported bundles: what an auditor checks with nothing but the public key.

A bundle is JSON: the origin, the checkpoint notes, and records as stored (clear header,
sealed payload, leaf hash, tree index). A *ledger* bundle holds every record and is verified
like the live ledger. A *case* bundle holds one case's records up to one signed checkpoint,
an inclusion proof for each, and the proof of the case's *head* in the map that checkpoint
signs (:mod:`.heads`), so it can be checked without seeing any other case and shows that
no record was left out, the newest included: "complete through sequence N as of
checkpoint T". Payloads stay sealed: a bundle holds no personal data in clear.

Format ``phasedcare-bundle-v2`` (docs/ledger-format.md gives every byte); a v1 case bundle (no
head proof) still verifies record by record but proves no completeness, and says so.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from phasedcare.ledger.authenticity import header_problem, is_legacy_tombstone
from phasedcare.ledger.chain import GENESIS, leaf_hash
from phasedcare.ledger.checkpoints import Checkpoint, parse_checkpoint
from phasedcare.ledger.heads import HeadProof, verify_head
from phasedcare.ledger.merkle import verify_inclusion
from phasedcare.ledger.records import RecordHeader, StoredEvent
from phasedcare.ledger.verify import Problem, VerifyReport, verify_ledger

__all__ = ["FORMAT", "FORMATS", "case_bundle", "ledger_bundle", "verify_bundle"]

FORMAT = "phasedcare-bundle-v2"
FORMATS = ("phasedcare-bundle-v1", FORMAT)
"""What :func:`verify_bundle` reads; bundles are written in the newest."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _record(record: StoredEvent) -> dict[str, Any]:
    h = record.header
    return {
        "position": record.position,
        "tree_index": record.tree_index,
        "case_id": h.case_id,
        "sequence": h.sequence,
        "event_type": h.event_type,
        "schema_version": h.schema_version,
        "recorded_at": h.recorded_at.isoformat(),
        "key_id": h.key_id,
        "payload": _b64(record.payload),
        "leaf_hash": record.leaf_hash.hex(),
    }


_COUNT_LIMIT = 2**63
"""Sequences, positions and indexes are hashed as 8 bytes: anything outside is malformed."""


def _count(data: dict[str, Any], name: str) -> int:
    """``data[name]`` as a whole number that fits the format (ValueError otherwise)."""
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _COUNT_LIMIT:
        raise ValueError(f"{name} is not a whole number from 0 to 2^63-1")
    return value


def _text(data: dict[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a string")
    return value


def _stored(data: Any) -> StoredEvent:
    if not isinstance(data, dict):
        raise ValueError("a record is not a JSON object")
    header = RecordHeader(
        case_id=_text(data, "case_id"),
        sequence=_count(data, "sequence"),
        event_type=_text(data, "event_type"),
        schema_version=_count(data, "schema_version"),
        recorded_at=datetime.fromisoformat(_text(data, "recorded_at")),
        key_id=_text(data, "key_id"),
    )
    tree_index = None if data["tree_index"] is None else _count(data, "tree_index")
    return StoredEvent(
        header=header,
        payload=base64.b64decode(_text(data, "payload"), validate=True),
        leaf_hash=bytes.fromhex(_text(data, "leaf_hash")),
        position=_count(data, "position"),
        tree_index=tree_index,
    )


def ledger_bundle(
    records: Sequence[StoredEvent], *, notes: Sequence[str], origin: str
) -> dict[str, Any]:
    """A bundle of the whole ledger."""
    return {
        "format": FORMAT,
        "kind": "ledger",
        "origin": origin,
        "checkpoints": list(notes),
        "records": [_record(r) for r in records],
    }


def case_bundle(
    records: Sequence[StoredEvent],
    *,
    checkpoint: Checkpoint,
    proofs: dict[int, list[bytes]],
    head: HeadProof,
) -> dict[str, Any]:
    """A bundle of one case's records under ``checkpoint``: inclusion proofs by tree index,
    and the proof of the case's head (its last record here) in the checkpoint's map."""
    last = records[-1]
    return {
        "format": FORMAT,
        "kind": "case",
        "origin": checkpoint.origin,
        "checkpoints": [checkpoint.note],
        "records": [_record(r) for r in records],
        "proofs": {str(index): [p.hex() for p in path] for index, path in proofs.items()},
        "head": {
            "case_id": last.header.case_id,
            "sequence": last.header.sequence,
            "leaf_hash": last.leaf_hash.hex(),
            "bucket_size": head.bucket_size,
            "index": head.index,
            "bucket_path": [p.hex() for p in head.bucket_path],
            "map_path": [p.hex() for p in head.map_path],
        },
    }


def verify_bundle(bundle: dict[str, Any], *, public: bytes) -> VerifyReport:
    """Verify a bundle with the public key only; a malformed one is reported, not raised."""
    if not isinstance(bundle, dict):
        return VerifyReport(problems=[Problem(f"malformed bundle: a JSON {type(bundle).__name__}")])
    if bundle.get("format") not in FORMATS:
        return VerifyReport(problems=[Problem(f"not a {FORMAT} bundle")])
    try:
        records = [_stored(r) for r in bundle["records"]]
        origin = str(bundle["origin"])
        if bundle.get("kind") == "ledger":
            return _verify_whole(records, bundle, public=public, origin=origin)
        return _verify_case(records, bundle, public=public, origin=origin)
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        what = f"malformed bundle: {type(exc).__name__} at {exc}"[:200]
        return VerifyReport(problems=[Problem(what)])


def _verify_whole(
    records: list[StoredEvent], bundle: dict[str, Any], *, public: bytes, origin: str
) -> VerifyReport:
    """A ledger bundle verifies like the live ledger, as of its newest checkpoint."""
    report = verify_ledger(records, notes=bundle["checkpoints"], public=public, origin=origin)
    if report.checkpoints:
        report.as_of = report.checkpoints[-1]
    return report


def _verify_case(
    records: list[StoredEvent], bundle: dict[str, Any], *, public: bytes, origin: str
) -> VerifyReport:
    report = VerifyReport(records=len(records), cases=len({r.header.case_id for r in records}))
    try:
        checkpoint = parse_checkpoint(bundle["checkpoints"][0], public=public, origin=origin)
    except (ValueError, IndexError) as exc:
        report.problems.append(Problem(f"checkpoint rejected: {exc}"))
        return report
    report.checkpoints.append(checkpoint)
    report.tree_size = report.anchored_through = checkpoint.size
    if report.cases != 1:
        report.problems.append(Problem(f"a case bundle holds {report.cases} cases, not one"))
        return report
    if _records_hold(records, bundle, checkpoint, public, report):
        _complete(records[-1], bundle.get("head"), checkpoint, report)
    return report


def _records_hold(
    records: list[StoredEvent],
    bundle: dict[str, Any],
    checkpoint: Checkpoint,
    public: bytes,
    report: VerifyReport,
) -> bool:
    """Each record chains on the one before, is authentic and is in the signed tree."""
    previous, expected = GENESIS, 1
    for record in records:
        header = record.header
        where = (record.position, header.case_id, header.sequence)
        if (
            header.sequence != expected
            or leaf_hash(header, record.payload, previous) != record.leaf_hash
        ):
            report.problems.append(Problem("record missing, reordered or altered", *where))
            return False
        problem = header_problem(record, public)
        if problem is None and is_legacy_tombstone(header) and checkpoint.map_root is not None:
            problem = "unsigned erasure tombstone under a checkpoint that signs a map: forged"
        if problem is not None:
            report.problems.append(Problem(problem, *where))
            return False
        proof = [bytes.fromhex(p) for p in bundle["proofs"].get(str(record.tree_index), [])]
        index = record.tree_index if record.tree_index is not None else -1
        if not verify_inclusion(record.leaf_hash, index, checkpoint.size, proof, checkpoint.root):
            report.problems.append(Problem("not included in the signed checkpoint", *where))
            return False
        previous, expected = record.leaf_hash, expected + 1
    return True


def _complete(last: StoredEvent, head: Any, checkpoint: Checkpoint, report: VerifyReport) -> None:
    """The case's head in the checkpoint's map is the bundle's last record: nothing after
    it was left out. Sets ``report.complete_through`` when it is."""
    where = (last.position, last.header.case_id, last.header.sequence)
    if checkpoint.map_root is None or not isinstance(head, dict):
        what = "no proof of the case's head: completeness is not proven (a v1 bundle)"
        report.problems.append(Problem(what, *where))
        return
    proof = HeadProof(
        bucket_size=_count(head, "bucket_size"),
        index=_count(head, "index"),
        bucket_path=tuple(bytes.fromhex(p) for p in head["bucket_path"]),
        map_path=tuple(bytes.fromhex(p) for p in head["map_path"]),
    )
    case_id, sequence = _text(head, "case_id"), _count(head, "sequence")
    leaf = bytes.fromhex(_text(head, "leaf_hash"))
    if not verify_head(case_id, sequence, leaf, proof, checkpoint.map_root):
        what = "the head proof does not verify against the checkpoint's map: altered"
        report.problems.append(Problem(what, *where))
    elif case_id != last.header.case_id:
        what = f"the head proof is of case {case_id}, not of the bundle's case"
        report.problems.append(Problem(what, *where))
    elif (case_id, sequence, leaf) != (last.header.case_id, last.header.sequence, last.leaf_hash):
        what = (
            f"records after sequence {last.header.sequence} are missing: the case's head at "
            f"checkpoint {checkpoint.size} is sequence {sequence}"
        )
        report.problems.append(Problem(what, *where))
    else:
        report.complete_through = sequence
