"""API keys: a secret token per key, scoped to one actor, shown once and stored hashed.

A token reads ``pck_<key id>_<43 random characters>``: 256 random bits. The store keeps an
HMAC-SHA256 of it, bound to the actor the key acts as, under a key kept in the key folder, not
the database (a :class:`TokenDigest` from the blind-index key, as the request digests of
Idempotency-Key are): a stolen database or backup holds no usable key, and someone who can
only write the database can neither add one (a row hashed without that key authenticates
nobody) nor make an existing key act as someone else (its digest no longer matches).
Authenticating compares digests in constant time and answers every failure (malformed,
unknown, revoked, wrong secret) with the same refusal, which never repeats the token; only
the holder of a real token whose row was hashed without the key (a key of a release before
0014, or a row written into the database by hand) is told so, since only that holder can
tell.

The digest an :class:`ApiKeys` uses is the one kept for its store: an
:class:`~phasedcare.service.engine.Engine` keeps the one of its blind index for its store
(:func:`keep_token_digest`), so ``ApiKeys(store=engine.store, ...)`` hashes as the server
authenticates. A store no engine keeps one for gets a fresh key that lives as long as the
store (tests, in memory).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import weakref
from collections.abc import Callable
from datetime import UTC, datetime

from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.errors import InvalidInput, NotAuthorised, NotFound
from phasedcare.ledger.blind_index import BlindIndex
from phasedcare.service.authorisation import known_actor
from phasedcare.service.ports import ApiKey, ApiKeyStore

__all__ = ["TOKEN_PREFIX", "ApiKeys", "TokenDigest", "keep_token_digest", "key_id_of"]

TOKEN_PREFIX = "pck_"  # noqa: S105 - a public prefix, not a secret
"""How every API key token starts, so secret scanners and people recognise one."""

_TOKEN = re.compile(r"pck_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_KEY_ID = re.compile(r"pck_([0-9a-f]{16})_")
_LABEL_LENGTH = 100
_REFUSED = "the API key is not valid: it is malformed, unknown or revoked"
_UNKEYED = (
    "the API key is not valid: its stored hash was made without the key folder's key (by a "
    "release before schema 0014, or written into the database by hand), so it is refused; "
    "create a new key with phasedcare keys api create"
)
_NOBODY = "unauthenticated"
_DUMMY_HASH = hashlib.sha256(b"phasedcare: no such key").digest()
_SUBKEY_LABEL = b"phasedcare-api-key-token-v1"


def _unkeyed_hash(token: str) -> bytes:
    """The plain SHA-256 that releases before schema 0014 stored."""
    return hashlib.sha256(token.encode("ascii")).digest()


class TokenDigest:
    """HMAC-SHA256 of API key tokens under a key that the database does not hold."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def of_index(cls, index: BlindIndex) -> TokenDigest:
        """The digest under a sub-key of the blind-index key (``index.key``, key folder).

        The sub-key is the index's request digest of a label that no request text can
        equal (those start with their HTTP method), so it is neither a blind-index token nor
        a stored request digest, and no one computes it without the index key.
        """
        return cls(bytes.fromhex(index.request_digest(_SUBKEY_LABEL)))

    @classmethod
    def generate(cls) -> TokenDigest:
        """A digest under a fresh key (in memory, for as long as it is kept)."""
        return cls(secrets.token_bytes(32))

    def __call__(self, actor: str, token: str) -> bytes:
        """The digest of ``token`` bound to the ``actor`` its key acts as, so that a row whose
        actor was changed in the database matches no token."""
        return hmac.new(self._key, f"{actor}\n{token}".encode("ascii"), hashlib.sha256).digest()


_DIGESTS: weakref.WeakKeyDictionary[ApiKeyStore, TokenDigest] = weakref.WeakKeyDictionary()


def keep_token_digest(store: ApiKeyStore, digest: TokenDigest) -> TokenDigest:
    """Keep ``digest`` as the one API keys of ``store`` are hashed with, unless one is kept
    already (two engines over one store then hash alike); returns the one kept."""
    return _DIGESTS.setdefault(store, digest)


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
        digest: TokenDigest | None = None,
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock
        kept = keep_token_digest(store, digest or TokenDigest.generate())
        self._digest = digest or kept

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
            token_hash=self._digest(str(actor), token),
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
        presented = b"" if match is None else self._digest("" if key is None else key.actor, token)
        valid = hmac.compare_digest(presented, expected)
        if key is not None and not valid and hmac.compare_digest(_unkeyed_hash(token), expected):
            raise NotAuthorised(_UNKEYED, actor=_NOBODY)
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
