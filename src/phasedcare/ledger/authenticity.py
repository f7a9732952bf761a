"""What the engine writes, told apart from what anyone with database access could write.

Every record the engine appends is either *sealed* (its payload opens, AES-256-GCM, only
under its case's data key, and its header names that key's version) or an *erasure
tombstone* signed with the checkpoint key (Ed25519; the private key lives in the key
folder, never in the database). Someone who can write to the database but holds no key can
therefore append neither: a record with an empty ``key_id`` is refused whatever its type,
and a tombstone must carry a signature anyone can check with the public key.

:func:`header_problem` checks this from the header and payload alone, without decrypting:
what ``verify`` and a third party's verifier run. Whether a sealed payload really opens
needs the data key; the codec checks that before a record is integrated into the tree.

Tombstones written before signed tombstones existed (``key_id`` empty) are *legacy*: they
are accepted only where a checkpoint signed in the old format (without a ``map`` line)
covers them, since the signer no longer integrates unsigned records
(:func:`legacy_tombstone_problem`: verify, the codec and the integrator judge alike).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from phasedcare.ledger.chain import canonical_header
from phasedcare.ledger.checkpoints import Checkpoint
from phasedcare.ledger.records import RecordHeader, StoredEvent
from phasedcare.ledger.sealing import ed25519_sign, ed25519_verify

__all__ = [
    "SIGNATURE_BYTES",
    "SIGNED_TOMBSTONE",
    "TOMBSTONE_TYPE",
    "header_problem",
    "is_legacy_tombstone",
    "legacy_cover",
    "legacy_tombstone_problem",
    "seal_problem",
    "sign_tombstone",
    "tombstone_body",
]

TOMBSTONE_TYPE = "CaseErased"
"""The one event type that is not sealed: it must stay readable once the key is gone."""

SIGNED_TOMBSTONE = "signed-erasure"  # fits key_id (16 characters)
"""The ``key_id`` of a signed tombstone: its payload is a signature, then the clear event."""

SIGNATURE_BYTES = 64
_DOMAIN = b"phasedcare-tombstone-v1\n"
_DATA_KEY_ID = re.compile(r"[1-9][0-9]{0,8}")
"""A data key's version, as the codec writes it in the header."""


def _signed_message(header: RecordHeader, body: bytes) -> bytes:
    return _DOMAIN + canonical_header(header) + body


def sign_tombstone(header: RecordHeader, body: bytes, private: bytes) -> bytes:
    """The payload of a tombstone: Ed25519(domain || canonical header || body) || body.

    ``header.key_id`` must be :data:`SIGNED_TOMBSTONE`; the header is signed with the body,
    so the tombstone cannot be moved to another case or sequence.
    """
    if header.key_id != SIGNED_TOMBSTONE or header.event_type != TOMBSTONE_TYPE:
        raise ValueError("only a CaseErased header marked as signed is signed as a tombstone")
    return ed25519_sign(private, _signed_message(header, body)) + body


def tombstone_body(header: RecordHeader, payload: bytes, public: bytes) -> bytes | None:
    """The clear event of a signed tombstone, or None when the signature does not verify."""
    signature, body = payload[:SIGNATURE_BYTES], payload[SIGNATURE_BYTES:]
    if len(signature) != SIGNATURE_BYTES:
        return None
    return body if ed25519_verify(public, _signed_message(header, body), signature) else None


def is_legacy_tombstone(header: RecordHeader) -> bool:
    """An unsigned, unsealed CaseErased (written before tombstones were signed)."""
    return header.event_type == TOMBSTONE_TYPE and not header.key_id


def legacy_cover(checkpoints: Iterable[Checkpoint]) -> int:
    """How many leaves the checkpoints signed before tombstones were (without a map) cover:
    a legacy tombstone is accepted only below it."""
    return max((c.size for c in checkpoints if c.map_root is None), default=0)


def legacy_tombstone_problem(record: StoredEvent, cover: int) -> str | None:
    """Why an unsigned (legacy) tombstone is not accepted: it must lie in the tree below
    ``cover`` (:func:`legacy_cover`). One not in the tree yet is new, so forged: the engine
    has signed every tombstone since checkpoints signed a map."""
    index = record.tree_index
    if index is None or index >= cover:
        return (
            "unsigned erasure tombstone that no checkpoint from before signed tombstones "
            "covers: forged"
        )
    return None


def header_problem(record: StoredEvent, public: bytes) -> str | None:
    """Why this record cannot have been written by the engine, judged without decrypting.

    None for a sealed record (a data key version in the header) and for a tombstone whose
    signature verifies under ``public``; also None for a legacy tombstone, which the caller
    must judge by the checkpoints that cover it (:func:`is_legacy_tombstone`).
    """
    header = record.header
    if header.event_type == TOMBSTONE_TYPE:
        if is_legacy_tombstone(header):
            return None
        if header.key_id != SIGNED_TOMBSTONE:
            return f"an erasure tombstone marked {header.key_id!r} instead of signed: forged"
        if tombstone_body(header, record.payload, public) is None:
            return "the erasure tombstone's signature does not verify: forged or altered"
        return None
    return seal_problem(header)


def seal_problem(header: RecordHeader) -> str | None:
    """Why a record other than a tombstone is not sealed by the engine, from its header."""
    if not header.key_id:
        return "unsealed record: only a signed erasure tombstone may be unsealed (forged)"
    if not _DATA_KEY_ID.fullmatch(header.key_id):
        return f"key id {header.key_id!r} is no data key version: not sealed by the engine"
    return None
