"""OIDC bearer tokens: a JWT from the region's identity provider names the actor.

The verifier accepts only asymmetric signatures (RS256, ES256, EdDSA), never ``none`` or an
HMAC, so a public key can never double as a shared secret. The ``kid`` in the token's header
selects the key from the provider's JWKS, and the key's own algorithm must be the one the
header names. Issuer, audience, issue time, expiry and not-before are checked (with a little
leeway for clocks); the times must be JSON numbers and the token may not live longer than
``max_lifetime``; and the actor's organisation must be one the regional policy knows. Every
refusal is a :class:`~phasedcare.errors.NotAuthorised` that says why without repeating the
token.

A :class:`JwksFile` is read again whenever the file changes, so a key the provider removed is
refused from the next request on. A missing or malformed file is logged on the server (with
its path) and answered with :class:`~phasedcare.errors.StoreError` (503), which names no path.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import structlog
from pydantic import ValidationError

from phasedcare.domain.actors import Actor
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.errors import InvalidInput, NotAuthorised, StoreError
from phasedcare.service.authorisation import known_actor

__all__ = [
    "ALGORITHMS",
    "MAX_TOKEN_LIFETIME",
    "JwksFile",
    "OidcClaims",
    "OidcVerifier",
    "load_jwks_file",
]

ALGORITHMS = frozenset({"RS256", "ES256", "EdDSA"})
"""The signature algorithms a token may use; everything else is refused."""

MAX_TOKEN_LIFETIME = timedelta(hours=24)
"""The longest a token may be valid (``exp - iat``) unless the verifier is told otherwise."""

Jwks = Mapping[str, Any]

_NOBODY = "unauthenticated"
_TIMES = ("exp", "iat", "nbf")
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "it has expired"),
    (jwt.ImmatureSignatureError, "it is not valid yet"),
    (jwt.InvalidIssuerError, "it was issued by another issuer"),
    (jwt.InvalidAudienceError, "it is meant for another audience"),
    (jwt.MissingRequiredClaimError, "it lacks a required claim (exp, iat, iss or aud)"),
    (jwt.InvalidSignatureError, "its signature does not verify"),
    (jwt.InvalidAlgorithmError, "its signing algorithm is not accepted"),
)


@dataclass(frozen=True, slots=True)
class OidcClaims:
    """Which claims of a token name the user, the organisation and the role."""

    user: str = "sub"
    organisation: str = "phasedcare_org"
    role: str = "phasedcare_role"


def _refused(reason: str) -> NotAuthorised:
    return NotAuthorised(f"the bearer token is not valid: {reason}", actor=_NOBODY)


def _reason(exc: jwt.PyJWTError) -> str:
    for cls, reason in _REASONS:
        if isinstance(exc, cls):
            return reason
    return "it is malformed"


def _key_set(jwks: Jwks) -> jwt.PyJWKSet:
    """PyJWT's key set of a JWKS; keys it cannot use are left out.

    Raises:
        InvalidInput: the JWKS is not a JSON Web Key Set, or holds no usable key.
    """
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        raise InvalidInput("the OIDC JWKS has no list of keys", field="oidc_jwks")
    try:
        return jwt.PyJWKSet(entries)
    except jwt.PyJWTError as exc:
        raise InvalidInput(f"the OIDC JWKS is not usable: {exc}", field="oidc_jwks") from None


def load_jwks_file(path: Path) -> dict[str, Any]:
    """The JSON Web Key Set in a local file (the identity provider's published keys).

    Raises:
        InvalidInput: the file cannot be read or is not a JSON object.
    """
    try:
        jwks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"OIDC JWKS file {path}: {exc}", field="oidc_jwks_file") from None
    if not isinstance(jwks, dict):
        raise InvalidInput(f"OIDC JWKS file {path} is not a JSON object", field="oidc_jwks_file")
    return jwks


class JwksFile:
    """The identity provider's keys in a local file, read again whenever the file changes.

    A change is a new inode, size, modification or status-change time, so a rewritten or
    replaced file is read before the next token is checked, and no key outlives its removal.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._read: tuple[tuple[int, ...], jwt.PyJWKSet] | None = None
        self._log = structlog.get_logger("phasedcare.oidc")

    def key_set(self) -> jwt.PyJWKSet:
        """The keys the file holds now.

        Raises:
            StoreError: the file is missing, unreadable or not a usable JWKS (logged with the
                path and the cause; the error itself names neither).
        """
        try:
            stat = self._path.stat()
            seen = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
            if self._read is None or self._read[0] != seen:
                self._read = None  # a failed read leaves no old keys behind
                self._read = (seen, _key_set(load_jwks_file(self._path)))  # stat taken first
        except (OSError, InvalidInput) as exc:
            cause = exc.message if isinstance(exc, InvalidInput) else str(exc)
            self._log.error("oidc jwks unusable", path=str(self._path), error=cause)
            msg = "the identity provider's keys cannot be read now; try again later"
            raise StoreError(msg) from None
        return self._read[1]


def _fixed(keys: jwt.PyJWKSet) -> Callable[[], jwt.PyJWKSet]:
    """A key set given once, as a source that always answers it."""
    return lambda: keys


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    """A time claim as a number, None when absent; a string, a boolean or NaN is refused."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _refused(f"its {name} claim is not a number of seconds")
    return float(value)


class OidcVerifier:
    """Verify a bearer token and return the actor its claims name."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks: Jwks | JwksFile,
        policy: RegionalPolicy,
        claims: OidcClaims | None = None,
        leeway: timedelta = timedelta(seconds=30),
        max_lifetime: timedelta = MAX_TOKEN_LIFETIME,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._keys = jwks.key_set if isinstance(jwks, JwksFile) else _fixed(_key_set(jwks))
        self._policy = policy
        self._claims = claims or OidcClaims()
        self._leeway = leeway
        self._max_lifetime = max_lifetime

    def _key(self, kid: object, algorithm: str) -> jwt.PyJWK:
        """The key a ``kid`` selects from the provider's keys as they are now; a header
        without a kid (RFC 7515 leaves it optional) selects the provider's one key of its
        algorithm, and nothing when it has several."""
        keys = [k for k in self._keys() if k.algorithm_name in ALGORITHMS]
        if kid is None:
            found = [k for k in keys if k.algorithm_name == algorithm]
            if len(found) != 1:
                raise _refused("its header names no key (kid) and the provider has several")
            return found[0]
        if not isinstance(kid, str):
            raise _refused("its header names no key (kid)")
        found = [k for k in keys if k.key_id == kid]
        if not found:
            raise _refused("its key (kid) is not one of the identity provider's")
        if found[0].algorithm_name != algorithm:
            raise _refused("its signing algorithm is not its key's")
        return found[0]

    def verify(self, token: str) -> Actor:
        """The actor a valid token names.

        Raises:
            NotAuthorised: the token is malformed, expired, not yet valid, too long-lived,
                from another issuer or for another audience, signed with another algorithm
                or key, or names no known actor.
            StoreError: the identity provider's keys cannot be read (see :class:`JwksFile`).
        """
        return self._actor(self._claims_of(token))

    def verify_id_token(self, token: str, *, nonce: str) -> Actor:
        """The actor of an ID token from the authorization code flow: verified as a bearer
        token is, and carrying the ``nonce`` its sign-in sent (a replayed token does not).

        Raises:
            NotAuthorised: as :meth:`verify`, or the nonce is missing or another's.
        """
        claims = self._claims_of(token)
        found = claims.get("nonce")
        if not isinstance(found, str) or not hmac.compare_digest(found, nonce):
            raise _refused("its nonce is not the one this sign-in sent")
        return self._actor(claims)

    def _claims_of(self, token: str) -> dict[str, Any]:
        """The claims of a token whose signature, issuer, audience and times hold."""
        header = self._header(token)
        key = self._key(header.get("kid"), header["alg"])
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[header["alg"]],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise _refused(_reason(exc)) from None
        self._check_times(claims)
        return claims

    @staticmethod
    def _header(token: str) -> dict[str, Any]:
        """The token's unverified header, refused unless it names an accepted algorithm."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _refused("it is malformed") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
            raise _refused("its signing algorithm is not accepted")
        return header

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        """Times are numbers, and the token is valid for at most ``max_lifetime``."""
        exp, iat, _ = (_numeric_date(claims, name) for name in _TIMES)
        if exp is not None and iat is not None and exp - iat > self._max_lifetime.total_seconds():
            hours = self._max_lifetime.total_seconds() / 3600
            raise _refused(f"it is valid for longer than {hours:g} hours")

    def _actor(self, claims: Mapping[str, Any]) -> Actor:
        names = self._claims
        try:
            actor = Actor(
                user=claims.get(names.user),
                organisation=claims.get(names.organisation),
                role=claims.get(names.role),
            )
        except ValidationError:
            claimed = f"{names.user}, {names.organisation} and {names.role}"
            msg = f"its claims {claimed} do not name a user, organisation and role"
            raise _refused(msg) from None
        known_actor(actor, self._policy)
        return actor
