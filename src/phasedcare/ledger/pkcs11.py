"""A KeyProvider backed by a PKCS#11 token (an HSM; SoftHSM2 in the tests).

The KEKs are AES-256 keys generated on the token, marked non-extractable: they never leave
it. Wrapping a data key is AES-GCM encryption *on the token* with the case and version as
associated data. KEK ids are time-ordered labels ``phasedcare-kek-<id>``; the newest is
current, and rotation generates a new one.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import PKCS11Error, UserAlreadyLoggedIn
from pkcs11.mechanisms import GCMParams

from phasedcare.errors import StoreError

__all__ = ["Pkcs11KeyProvider"]

_PREFIX = "phasedcare-kek-"
_IV = 12


def _logged_in_session(token: Any, pin: str) -> Any:
    """A read-write session; login is per process, so a second provider reuses it."""
    try:
        return token.open(user_pin=pin, rw=True)
    except UserAlreadyLoggedIn:
        return token.open(rw=True)


class Pkcs11KeyProvider:
    """KEKs on a PKCS#11 token; data keys are wrapped and unwrapped by the token."""

    def __init__(self, *, library: str, token_label: str, pin: str) -> None:
        try:
            token = pkcs11.lib(library).get_token(token_label=token_label)
            self._session: Any = _logged_in_session(token, pin)
        except (PKCS11Error, RuntimeError) as exc:
            raise StoreError(
                f"cannot open PKCS#11 token {token_label}: {type(exc).__name__}"
            ) from None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the session with the token."""
        self._session.close()

    def _ids(self) -> list[str]:
        found = self._session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY})
        labels = (obj[Attribute.LABEL] for obj in found)
        return sorted(label.removeprefix(_PREFIX) for label in labels if label.startswith(_PREFIX))

    def rotate(self) -> str:
        """Generate a new non-extractable AES-256 KEK on the token and make it current."""
        kek_id = f"{time.time_ns():016x}"[-16:]
        with self._lock:
            self._session.generate_key(
                KeyType.AES,
                256,
                label=_PREFIX + kek_id,
                store=True,
                template={Attribute.EXTRACTABLE: False, Attribute.SENSITIVE: True},
            )
        return kek_id

    def current_kek_id(self) -> str:
        """The newest KEK on the token."""
        with self._lock:
            ids = self._ids()
        if not ids:
            raise StoreError(
                "the PKCS#11 token holds no phasedcare KEK: run phasedcare keys rotate"
            )
        return ids[-1]

    def _kek(self, kek_id: str) -> Any:
        try:
            return self._session.get_key(
                label=_PREFIX + kek_id, object_class=ObjectClass.SECRET_KEY
            )
        except (PKCS11Error, RuntimeError):
            raise StoreError(f"KEK {kek_id} is not on the PKCS#11 token") from None

    def wrap(self, kek_id: str, key: bytes, context: bytes) -> bytes:
        """``iv || AES-GCM(key)`` computed on the token, bound to ``context``."""
        iv = os.urandom(_IV)
        with self._lock:
            sealed = self._kek(kek_id).encrypt(
                key, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, context, 128)
            )
        return iv + bytes(sealed)

    def unwrap(self, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        """The data key inside ``wrapped``, decrypted on the token."""
        iv, body = wrapped[:_IV], wrapped[_IV:]
        try:
            with self._lock:
                return bytes(
                    self._kek(kek_id).decrypt(
                        body,
                        mechanism=Mechanism.AES_GCM,
                        mechanism_param=GCMParams(iv, context, 128),
                    )
                )
        except PKCS11Error:
            raise StoreError(f"a data key does not unwrap with KEK {kek_id} on the token") from None
