"""API keys: a secret token per key, scoped to one actor, shown once and stored hashed.

A token reads ``pck_<key id>_<43 random characters>``: 256 random bits, so its SHA-256 is
all the store needs to recognise it, and a stolen database or backup holds no usable key.
Authenticating compares hashes in constant time and answers every failure (malformed,
unknown, revoked, wrong secret) with the same refusal, which never repeats the token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.errors import InvalidInput, NotAuthorised, NotFound
from phasedcare.service.authorisation import known_actor
from phasedcare.service.ports import ApiKey, ApiKeyStore

__all__ = ["TOKEN_PREFIX", "ApiKeys", "key_id_of"]

TOKEN_PREFIX = "pck_"  # noqa: S105 - a public prefix, not a secret
"""How every API key token starts, so secret scanners and people recognise one."""

_TOKEN = re.compile(r"pck_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_KEY_ID = re.compile(r"pck_([0-9a-f]{16})_")
_LABEL_LENGTH = 100
_REFUSED = "the API key is not valid: it is malformed, unknown or revoked"
_NOBODY = "unauthenticated"
_DUMMY_HASH = hashlib.sha256(b"phasedcare: no such key").digest()


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def key_id_of(token: str) -> str | None:
    """The key id a token names when it starts like an API key (``pck_<16 hex>_``), else None.

    The id is public (it is listed, and logged with a failed authentication); the secret after
    it never leaves this module.
    """
    match = _KEY_ID.match(token)
    return None if match is None else match.group(1)


def _check_label(label: str) -> str:
    """The label, stripped; refused when too long or holding control characters."""
    label = label.strip()
    if len(label) > _LABEL_LENGTH or not label.isprintable():
        msg = f"an API key label is printable text of at most {_LABEL_LENGTH} characters"
        raise InvalidInput(msg, field="label")
    return label


class ApiKeys:
    """Create, authenticate, list and revoke API keys."""

    def __init__(
        self,
        *,
        store: ApiKeyStore,
        policy: RegionalPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock

    def create(self, actor: Actor, *, label: str = "") -> tuple[ApiKey, str]:
        """A new key for ``actor`` and its token, which is shown now and never again.

        Raises:
            NotAuthorised: the actor's organisation is unknown in the region's policy.
            InvalidInput: the actor is in the system role (which only the engine's own
                sweeps act in, so no key could ever be used), or the label is too long or
                not printable.
        """
        if actor.role is Role.system:
            msg = (
                "an API key cannot act in the system role: only the engine's own sweeps act "
                "as the system; create the key for a professional or an auditor"
            )
            raise InvalidInput(msg, field="actor")
        known_actor(actor, self._policy)
        key_id = secrets.token_hex(8)
        token = f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        key = ApiKey(
            key_id=key_id,
            actor=str(actor),
            label=_check_label(label),
            token_hash=_hash(token),
            created_at=self._clock().astimezone(UTC),
        )
        self._store.add_api_key(key)
        return key, token

    def authenticate(self, token: str) -> Actor:
        """The actor a valid, unrevoked key acts as.

        Raises:
            NotAuthorised: the token is malformed, unknown, revoked or wrong (one message for
                all, without the token), or the key's organisation left the policy.
        """
        match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
        key = None if match is None else self._store.api_key(match.group(1))
        expected = _DUMMY_HASH if key is None else key.token_hash
        presented = _hash(token) if match is not None else b""
        valid = hmac.compare_digest(presented, expected)
        if not valid or key is None or key.revoked_at is not None:
            raise NotAuthorised(_REFUSED, actor=_NOBODY)
        actor = Actor.parse(key.actor)
        known_actor(actor, self._policy)
        return actor

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones included, by creation time."""
        return self._store.api_keys()

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key for good; revoking it again changes nothing.

        Raises:
            NotFound: no key has this id.
        """
        revoked = self._store.revoke_api_key(key_id, revoked_at=self._clock().astimezone(UTC))
        if revoked is None:
            raise NotFound(f"no API key {key_id}", kind="api key", ident=key_id)
        return revoked
