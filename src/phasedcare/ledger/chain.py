"""Hashes that make the record log tamper-evident: a leaf per record, chained per case.

A leaf covers the header, the (sealed) payload and the previous leaf of the same case; it
never covers plaintext, so a shredded case still verifies and low-entropy personal data is
never turned into a guessable hash. The 0x00 prefix is RFC 6962's leaf domain separator.
"""

from __future__ import annotations

import hashlib
import json

from phasedcare.ledger.records import RecordHeader

__all__ = ["GENESIS", "canonical_header", "leaf_hash"]

GENESIS = bytes(32)
"""The 'previous leaf' of a case's first record."""


def _plain(text: str) -> bool:
    """Printable ASCII without quotes or backslashes: JSON would write it unchanged."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def canonical_header(header: RecordHeader) -> bytes:
    """The header's one canonical byte form: the AEAD's associated data and hash input.

    A compact JSON array; built directly when every text is plain ASCII without quotes or
    backslashes (always, for ids the engine makes), else through ``json.dumps``: same bytes.
    """
    moment = header.recorded_at.isoformat(timespec="microseconds")
    texts = (header.case_id, header.event_type, moment, header.key_id)
    if all(_plain(t) for t in texts):
        return (
            f'["phasedcare-record-v1","{header.case_id}",{header.sequence},"{header.event_type}",'
            f'{header.schema_version},"{moment}","{header.key_id}"]'
        ).encode()
    fields = [
        "phasedcare-record-v1",
        header.case_id,
        header.sequence,
        header.event_type,
        header.schema_version,
        header.recorded_at.isoformat(timespec="microseconds"),
        header.key_id,
    ]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode()


def _framed(part: bytes) -> bytes:
    return len(part).to_bytes(8, "big") + part


def leaf_hash(header: RecordHeader, payload: bytes, previous: bytes) -> bytes:
    """SHA-256(0x00 || header || payload || previous leaf), each part length-framed."""
    digest = hashlib.sha256(b"\x00")
    digest.update(_framed(canonical_header(header)))
    digest.update(_framed(payload))
    digest.update(previous)
    return digest.digest()
