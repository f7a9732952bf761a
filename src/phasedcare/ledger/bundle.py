"""Exported bundles: what an auditor checks with nothing but the public key.

A bundle is JSON: the origin, the checkpoint notes, and records as stored (clear header,
sealed payload, leaf hash, tree index). A *ledger* bundle holds every record and is verified
like the live ledger. A *case* bundle holds one case's records and, for each, an inclusion
proof against the newest checkpoint, so it can be checked without seeing any other case.
Payloads stay sealed: a bundle holds no personal data in clear.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from phasedcare.ledger.chain import GENESIS, leaf_hash
from phasedcare.ledger.checkpoints import parse_checkpoint
from phasedcare.ledger.merkle import inclusion_proof, verify_inclusion
from phasedcare.ledger.records import RecordHeader, StoredEvent
from phasedcare.ledger.verify import Problem, VerifyReport, verify_ledger

__all__ = ["FORMAT", "case_bundle", "ledger_bundle", "verify_bundle"]

FORMAT = "phasedcare-bundle-v1"


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


def _stored(data: dict[str, Any]) -> StoredEvent:
    header = RecordHeader(
        case_id=data["case_id"],
        sequence=int(data["sequence"]),
        event_type=data["event_type"],
        schema_version=int(data["schema_version"]),
        recorded_at=datetime.fromisoformat(data["recorded_at"]),
        key_id=data["key_id"],
    )
    return StoredEvent(
        header=header,
        payload=base64.b64decode(data["payload"]),
        leaf_hash=bytes.fromhex(data["leaf_hash"]),
        position=data["position"],
        tree_index=data["tree_index"],
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
    records: Sequence[StoredEvent], *, leaves: Sequence[bytes], note: str, origin: str
) -> dict[str, Any]:
    """A bundle of one case, with inclusion proofs against the checkpoint ``note``."""
    size = len(leaves)
    proofs = {
        str(r.tree_index): [p.hex() for p in inclusion_proof(leaves, r.tree_index)]
        for r in records
        if r.tree_index is not None and r.tree_index < size
    }
    return {
        "format": FORMAT,
        "kind": "case",
        "origin": origin,
        "checkpoints": [note],
        "records": [_record(r) for r in records],
        "proofs": proofs,
    }


def verify_bundle(bundle: dict[str, Any], *, public: bytes) -> VerifyReport:
    """Verify a bundle with the public key only."""
    if bundle.get("format") != FORMAT:
        return VerifyReport(problems=[Problem(f"not a {FORMAT} bundle")])
    records = [_stored(r) for r in bundle["records"]]
    origin = bundle["origin"]
    if bundle.get("kind") == "ledger":
        return verify_ledger(records, notes=bundle["checkpoints"], public=public, origin=origin)
    return _verify_case(records, bundle, public=public, origin=origin)


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
    report.tree_size = checkpoint.size
    previous, expected = GENESIS, 1
    for record in records:
        header = record.header
        where = (record.position, header.case_id, header.sequence)
        if (
            header.sequence != expected
            or leaf_hash(header, record.payload, previous) != record.leaf_hash
        ):
            report.problems.append(Problem("record missing, reordered or altered", *where))
            break
        proof = [bytes.fromhex(p) for p in bundle["proofs"].get(str(record.tree_index), [])]
        index = record.tree_index if record.tree_index is not None else -1
        if not verify_inclusion(record.leaf_hash, index, checkpoint.size, proof, checkpoint.root):
            report.problems.append(Problem("not included in the signed checkpoint", *where))
            break
        previous, expected = record.leaf_hash, expected + 1
    return report
