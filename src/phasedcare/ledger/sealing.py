"""Sealing and signing: AES-256-GCM bound to the record header, key wrapping, Ed25519.

This is the only module that touches ``cryptography.hazmat``. AES-256-GCM (an AEAD) with a
random 96-bit nonce per record; the associated data is the canonical header (case,
sequence, event type, schema version, time, key id), so a ciphertext moved to another record
fails to open. Data keys are wrapped with AES-256-GCM too, bound to their case and version.

The AESGCM object of each key in use is cached (building one costs as much as sealing a
small record); :func:`forget_key` drops a destroyed key's object, so crypto-shredding leaves
no copy of the key in this cache.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "KEY_BYTES",
    "NONCE_BYTES",
    "SealBroken",
    "ed25519_public",
    "ed25519_sign",
    "ed25519_verify",
    "forget_key",
    "new_ed25519_key",
    "new_key",
    "open_sealed",
    "seal",
]

KEY_BYTES = 32
NONCE_BYTES = 12
CACHED_KEYS = 4096
"""How many keys' AESGCM objects are kept (least recently used dropped first)."""

_aeads: OrderedDict[bytes, AESGCM] = OrderedDict()
_aeads_lock = threading.Lock()


class SealBroken(Exception):
    """A sealed blob does not open with this key and associated data (altered or moved)."""


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def _aead(key: bytes) -> AESGCM:
    """The key's cached AESGCM object, built on first use (a bad key raises ValueError)."""
    with _aeads_lock:
        aead = _aeads.get(key)
        if aead is not None:
            _aeads.move_to_end(key)
            return aead
    aead = AESGCM(key)
    with _aeads_lock:
        _aeads[key] = aead
        while len(_aeads) > CACHED_KEYS:
            _aeads.popitem(last=False)
    return aead


def forget_key(key: bytes) -> None:
    """Drop the key's cached AESGCM object (after the key was destroyed)."""
    with _aeads_lock:
        _aeads.pop(key, None)


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """``nonce || ciphertext+tag`` of ``plaintext`` under ``key``, bound to ``associated``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _aead(key).encrypt(nonce, plaintext, associated)


def open_sealed(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    """The plaintext of a sealed blob; SealBroken when it was altered or moved."""
    nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    try:
        return _aead(key).decrypt(nonce, body, associated)
    except (InvalidTag, ValueError) as exc:
        raise SealBroken("the sealed blob does not open: altered, moved or wrong key") from exc


def new_ed25519_key() -> bytes:
    """A fresh Ed25519 private key (32 raw bytes) for signing checkpoints."""
    return Ed25519PrivateKey.generate().private_bytes_raw()


def ed25519_public(private: bytes) -> bytes:
    """The raw 32-byte public key of a raw private key."""
    public = Ed25519PrivateKey.from_private_bytes(private).public_key()
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def ed25519_sign(private: bytes, message: bytes) -> bytes:
    """An Ed25519 signature of ``message``."""
    return Ed25519PrivateKey.from_private_bytes(private).sign(message)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``public``'s signature of ``message``."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
