"""Signing in to the console at the organisation's identity provider: OpenID Connect's
authorization code flow with PKCE (S256), through authlib.

A sign-in begins with a fresh ``state`` (the browser's return ticket), ``nonce`` (bound into
the ID token) and PKCE code verifier, kept in this process for :data:`PENDING_SECONDS`; the
return spends the state once, exchanges the code with the verifier at the token endpoint,
and verifies the ID token as a bearer token is verified (signature by the provider's keys,
issuer, audience = the console's client id, times) plus its nonce. The actor is the one its
claims name, refused unless the region's policy knows the organisation.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from authlib.integrations.requests_client import OAuth2Session

from phasedcare.domain.actors import Actor
from phasedcare.errors import NotAuthorised
from phasedcare.service.oidc import OidcVerifier

__all__ = ["PENDING_SECONDS", "OidcSignIn"]

PENDING_SECONDS = 10 * 60
"""A sign-in must come back from the identity provider within this long."""


@dataclass(frozen=True, slots=True)
class _Pending:
    verifier: str
    nonce: str
    redirect_uri: str
    started: datetime


@dataclass
class OidcSignIn:
    """The console's client of the identity provider."""

    client_id: str
    authorization_endpoint: str
    token_endpoint: str
    id_tokens: OidcVerifier
    clock: Callable[[], datetime]
    client_secret: str | None = None
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _client(self, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.client_id,
            client_secret=self.client_secret,
            redirect_uri=redirect_uri,
            scope="openid",
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
        )

    def begin(self, redirect_uri: str) -> str:
        """The identity provider's address to send the browser to for a new sign-in."""
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(24)
        with self._client(redirect_uri) as client:
            url, state = client.create_authorization_url(
                self.authorization_endpoint, code_verifier=verifier, nonce=nonce
            )
        with self._lock:
            self._forget_stale()
            self._pending[state] = _Pending(verifier, nonce, redirect_uri, self.clock())
        return str(url)

    def _forget_stale(self) -> None:
        oldest = self.clock() - timedelta(seconds=PENDING_SECONDS)
        for state in [s for s, p in self._pending.items() if p.started < oldest]:
            del self._pending[state]

    def finish(self, *, state: str, code: str) -> Actor:
        """The actor a returning sign-in names; its state is spent by this call.

        Raises:
            NotAuthorised: an unknown, spent or stale state, a code the provider refuses, or
                an ID token that does not verify or names no actor of the region.
        """
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None:
            raise NotAuthorised(
                "this sign-in is unknown, was finished already or expired", actor="-"
            )
        if self.clock() - pending.started > timedelta(seconds=PENDING_SECONDS):
            raise NotAuthorised("this sign-in took too long; sign in again", actor="-")
        with self._client(pending.redirect_uri) as client:
            try:
                token = client.fetch_token(
                    self.token_endpoint, code=code, code_verifier=pending.verifier, timeout=10
                )
            except Exception:  # the provider's answer is refused, never shown
                raise NotAuthorised(
                    "the identity provider did not accept the sign-in", actor="-"
                ) from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise NotAuthorised("the identity provider sent no ID token", actor="-")
        return self.id_tokens.verify_id_token(id_token, nonce=pending.nonce)
