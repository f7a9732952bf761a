"""OIDC bearer tokens: a JWT from the region's identity provider names the actor.

The verifier accepts only asymmetric signatures (RS256, ES256, EdDSA), never ``none`` or an
HMAC, so a public key can never double as a shared secret. The ``kid`` in the token's header
selects the key from the provider's JWKS, and the key's own algorithm must be the one the
header names. Issuer, audience, expiry and not-before are checked (with a little leeway for
clocks), and the actor's organisation must be one the regional policy knows. Every refusal
is a :class:`~phasedcare.errors.NotAuthorised` that says why without repeating the token.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from pydantic import ValidationError

from phasedcare.domain.actors import Actor
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.errors import InvalidInput, NotAuthorised
from phasedcare.service.authorisation import known_actor

__all__ = ["ALGORITHMS", "OidcClaims", "OidcVerifier", "load_jwks_file"]

ALGORITHMS = frozenset({"RS256", "ES256", "EdDSA"})
"""The signature algorithms a token may use; everything else is refused."""

Jwks = Mapping[str, Any]

_NOBODY = "unauthenticated"
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "it has expired"),
    (jwt.ImmatureSignatureError, "it is not valid yet"),
    (jwt.InvalidIssuerError, "it was issued by another issuer"),
    (jwt.InvalidAudienceError, "it is meant for another audience"),
    (jwt.MissingRequiredClaimError, "it lacks a required claim (exp, iss or aud)"),
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


def _keys(jwks: Jwks) -> dict[str, jwt.PyJWK]:
    """The JWKS's keys by kid; keys without a kid or of another algorithm are left out.

    Raises:
        InvalidInput: the JWKS is not a JSON Web Key Set or a key in it is malformed.
    """
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        raise InvalidInput("the OIDC JWKS has no list of keys", field="oidc_jwks")
    keys = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError as exc:
            msg = f"the OIDC JWKS key {entry['kid']} is not usable: {exc}"
            raise InvalidInput(msg, field="oidc_jwks") from None
        if key.algorithm_name in ALGORITHMS:
            keys[entry["kid"]] = key
    return keys


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


class OidcVerifier:
    """Verify a bearer token and return the actor its claims name."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks: Jwks | Callable[[], Jwks],
        policy: RegionalPolicy,
        claims: OidcClaims | None = None,
        leeway: timedelta = timedelta(seconds=30),
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._loader = jwks if callable(jwks) else None
        self._keys = {} if callable(jwks) else _keys(jwks)
        self._policy = policy
        self._claims = claims or OidcClaims()
        self._leeway = leeway

    def _key(self, kid: object) -> jwt.PyJWK:
        """The key a ``kid`` selects; a loader is asked again once for a kid it lacked."""
        if not isinstance(kid, str):
            raise _refused("its header names no key (kid)")
        if kid not in self._keys and self._loader is not None:
            self._keys = _keys(self._loader())  # the provider may have rotated its keys
        key = self._keys.get(kid)
        if key is None:
            raise _refused("its key (kid) is not one of the identity provider's")
        return key

    def verify(self, token: str) -> Actor:
        """The actor a valid token names.

        Raises:
            NotAuthorised: the token is malformed, expired, not yet valid, from another
                issuer or for another audience, signed with another algorithm or key, or
                names no known actor.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _refused("it is malformed") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise _refused("its signing algorithm is not accepted")
        key = self._key(header.get("kid"))
        if key.algorithm_name != algorithm:
            raise _refused("its signing algorithm is not its key's")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise _refused(_reason(exc)) from None
        return self._actor(claims)

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
