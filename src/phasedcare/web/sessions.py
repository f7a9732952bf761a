"""Who is signed in to the console: server-side sessions and one-time sign-in links.

A session lives in the serving process only: the cookie holds a random id (256 bits), the
process keeps its digest, the actor, the CSRF token and the language. It ends at sign-out,
after :data:`IDLE_SECONDS` without a request, and :data:`MAX_SECONDS` after sign-in, whichever
comes first. A sign-in always makes a new session, so an id planted in a browser before the
sign-in never becomes a signed-in one (session fixation).

A one-time sign-in link is what ``phasedcare serve`` prints per demo actor on the embedded
default, as Jupyter prints its token: it signs in once, within :data:`LINK_SECONDS`, and only
from a loopback address. Deployments sign in with their identity provider instead.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from phasedcare.domain.actors import Actor
from phasedcare.errors import NotAuthorised

__all__ = [
    "IDLE_SECONDS",
    "LINK_SECONDS",
    "MAX_SECONDS",
    "ConsoleSession",
    "ConsoleSessions",
    "SignInLinks",
    "is_loopback",
]

IDLE_SECONDS = 20 * 60
"""A session ends after this long without a request (a desk left alone)."""
MAX_SECONDS = 10 * 60 * 60
"""... and this long after sign-in in any case (a working day)."""
LINK_SECONDS = 24 * 60 * 60
"""A one-time sign-in link signs in within this long after it was printed, or not at all."""


def _digest(secret: str) -> str:
    """What the process keeps of a cookie or link secret: a memory dump gives no cookie."""
    return hashlib.sha256(secret.encode()).hexdigest()


def is_loopback(host: str | None) -> bool:
    """Whether a client address is a loopback address (127.0.0.0/8, ::1, IPv4-mapped)."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """One signed-in browser: who, its CSRF token, its language, and its times."""

    actor: Actor
    csrf: str
    language: str
    started: datetime
    seen: datetime
    notice: str = ""

    def checks(self, token: str) -> bool:
        """Whether a form's CSRF token is this session's (compared in constant time)."""
        return hmac.compare_digest(self.csrf.encode(), token.encode())


@dataclass
class ConsoleSessions:
    """The console's sessions in this process, by the digest of their cookie."""

    clock: Callable[[], datetime]
    idle_seconds: int = IDLE_SECONDS
    max_seconds: int = MAX_SECONDS
    _sessions: dict[str, ConsoleSession] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, actor: Actor, *, language: str) -> str:
        """A new session for ``actor``; returns the cookie's value (shown only here)."""
        cookie = secrets.token_urlsafe(32)
        now = self.clock()
        session = ConsoleSession(
            actor=actor, csrf=secrets.token_urlsafe(32), language=language, started=now, seen=now
        )
        with self._lock:
            self._sessions[_digest(cookie)] = session
        return cookie

    def current(self, cookie: str | None) -> ConsoleSession | None:
        """The live session of ``cookie``, its idle time reset; None when there is none, it
        ended or it timed out (then it is forgotten)."""
        if not cookie:
            return None
        key, now = _digest(cookie), self.clock()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            idle = now - session.seen > timedelta(seconds=self.idle_seconds)
            if idle or now - session.started > timedelta(seconds=self.max_seconds):
                del self._sessions[key]
                return None
            session = self._sessions[key] = replace(session, seen=now)
            return session

    def update(
        self, cookie: str, *, language: str | None = None, notice: str | None = None
    ) -> None:
        """Change a live session's language or the notice its next page shows."""
        key = _digest(cookie)
        with self._lock:
            session = self._sessions.get(key)
            if session is not None:
                self._sessions[key] = replace(
                    session,
                    language=session.language if language is None else language,
                    notice=session.notice if notice is None else notice,
                )

    def take_notice(self, cookie: str) -> str:
        """The notice for the page being shown, shown once."""
        key = _digest(cookie)
        with self._lock:
            session = self._sessions.get(key)
            if session is None or not session.notice:
                return ""
            self._sessions[key] = replace(session, notice="")
            return session.notice

    def end(self, cookie: str | None) -> None:
        """Sign out: the session is forgotten, its cookie worth nothing from now on."""
        if cookie:
            with self._lock:
                self._sessions.pop(_digest(cookie), None)


@dataclass
class SignInLinks:
    """One-time sign-in links for the embedded default: each signs one actor in once."""

    clock: Callable[[], datetime]
    valid_seconds: int = LINK_SECONDS
    _links: dict[str, tuple[Actor, datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, actor: Actor) -> str:
        """A new link code for ``actor`` (printed once, kept only as a digest)."""
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._links[_digest(code)] = (actor, self.clock())
        return code

    def redeem(self, code: str, *, client: str | None) -> Actor:
        """The actor of ``code``, which is spent by this call; refused from any address but
        loopback, once spent, when unknown and when older than its validity."""
        if not is_loopback(client):
            msg = "a sign-in link works only from this machine (a loopback address)"
            raise NotAuthorised(msg, actor="-")
        with self._lock:
            found = self._links.pop(_digest(code), None)
        if found is None:
            raise NotAuthorised("this sign-in link is unknown or was used already", actor="-")
        actor, issued = found
        if self.clock() - issued > timedelta(seconds=self.valid_seconds):
            raise NotAuthorised("this sign-in link has expired", actor=str(actor))
        return actor
