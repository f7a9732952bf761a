"""Hashes that make the record log tamper-evident: a leaf per record, chained per case.

A leaf covers the header, the (sealed) payload and the previous leaf of the same case; it
never covers plaintext, so a shredded case still verifies and low-entropy personal data is
never turned into a guessable hash. The 0x00 prefix is RFC 6962's leaf domain separator.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime

from phasedcare.ledger.records import RecordHeader

__all__ = ["GENESIS", "as_utc", "canonical_header", "leaf_hash"]

GENESIS = bytes(32)
"""The 'previous leaf' of a case's first record."""


_PLAIN = re.compile(r"[ !#-\[\]-~]*")
"""Printable ASCII without quotes (0x22) or backslashes (0x5C): JSON writes it unchanged."""


def as_utc(moment: datetime) -> datetime:
    """The one conversion of a record's time to UTC (a naive time is taken as UTC already).

    Drivers hand times back in their session's zone (PostgreSQL's ``timestamptz`` in
    Europe/Amsterdam comes back as +01:00 or +02:00); the hash must not depend on that.
    """
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def canonical_header(header: RecordHeader) -> bytes:
    """The header's one canonical byte form: the AEAD's associated data and hash input.

    A compact JSON array; built directly when every text is plain ASCII without quotes or
    backslashes (always, for ids the engine makes), else through ``json.dumps``: same bytes.
    The time is converted to UTC first (:func:`as_utc`), so the same instant always gives
    the same bytes, whatever zone a driver returned it in; it always carries microseconds,
    which ``isoformat()`` writes unasked (and faster) unless they are zero.
    """
    at = as_utc(header.recorded_at)
    moment = at.isoformat() if at.microsecond else at.isoformat(timespec="microseconds")
    if _PLAIN.fullmatch(header.case_id + header.event_type + header.key_id):
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
        moment,
        header.key_id,
    ]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode()


def leaf_hash(header: RecordHeader, payload: bytes, previous: bytes) -> bytes:
    """SHA-256(0x00 || header || payload || previous leaf), the header and payload length-framed.

    Each frame is an 8-byte big-endian length and the bytes. The prefix is hashed as one
    string and the payload and previous leaf fed after it: fewer calls, same digest.
    """
    canonical = canonical_header(header)
    digest = hashlib.sha256(
        b"\x00" + len(canonical).to_bytes(8, "big") + canonical + len(payload).to_bytes(8, "big")
    )
    digest.update(payload)
    digest.update(previous)
    return digest.digest()
