"""Sealing: AES-256-GCM with the record header as associated data, and key wrapping.

This is the only module that touches ``cryptography.hazmat``. AES-256-GCM (an AEAD) with a
random 96-bit nonce per record; the associated data is the canonical header (case,
sequence, event type, schema version, time, key id), so a ciphertext moved to another record
fails to open. Data keys are wrapped with AES-256-GCM too, bound to their case and version.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["KEY_BYTES", "NONCE_BYTES", "SealBroken", "new_key", "open_sealed", "seal"]

KEY_BYTES = 32
NONCE_BYTES = 12


class SealBroken(Exception):
    """A sealed blob does not open with this key and associated data (altered or moved)."""


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """``nonce || ciphertext+tag`` of ``plaintext`` under ``key``, bound to ``associated``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def open_sealed(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    """The plaintext of a sealed blob; SealBroken when it was altered or moved."""
    nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, body, associated)
    except (InvalidTag, ValueError) as exc:
        raise SealBroken("the sealed blob does not open: altered, moved or wrong key") from exc
