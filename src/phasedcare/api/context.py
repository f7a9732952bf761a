"""What every route needs: the engine, who is asking, and the case's version (ETag).

Who is asking comes from the bearer token. A token that identifies nobody is logged (the
client address, the API key id when the token has one, the reason; never the token) and
counted against the client's address; a client over its limit gets 429 with ``Retry-After``
for every token, valid or not, until its window frees up (:mod:`phasedcare.api.throttle`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

import structlog
from fastapi import Depends, Header, HTTPException, Request

from phasedcare.api.problems import Unauthenticated
from phasedcare.api.throttle import FailureThrottle
from phasedcare.domain.actors import Actor
from phasedcare.errors import InvalidInput, NotAuthorised
from phasedcare.service.access import accesses_come_from
from phasedcare.service.api_keys import TOKEN_PREFIX, key_id_of
from phasedcare.service.engine import Engine

__all__ = ["ApiContext", "Ctx", "CurrentActor", "etag", "expected_version"]


@dataclass(frozen=True, slots=True)
class ApiContext:
    """The engine, the authenticator and the throttle of failed authentications."""

    engine: Engine
    authenticate: Callable[[str], Actor]
    throttle: FailureThrottle = field(default_factory=FailureThrottle)


def _ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(_ctx)]


_log = structlog.get_logger("phasedcare.api")
_NO_TOKEN = "a bearer token is required (an API key or an OIDC token)"  # noqa: S105 - words


def _client(request: Request) -> str:
    """The address the request came from (a proxy's own, behind a reverse proxy)."""
    return request.client.host if request.client is not None else "unknown"


async def _from_where(request: Request) -> None:
    """Every access this request logs names the client's address (async, so that the
    request's own context carries it into the threads its work runs in)."""
    accesses_come_from(_client(request))


def _actor(
    request: Request,
    ctx: Ctx,
    _from: Annotated[None, Depends(_from_where)],
    authorization: Annotated[str | None, Header()] = None,
) -> Actor:
    if not authorization:  # no credential, no attempt: not counted
        raise Unauthenticated(_NO_TOKEN, actor="-")
    client = _client(request)
    wait = ctx.throttle.retry_after(client)
    if wait is not None:  # no token is checked, so guessing stays at the limit
        _log.info("authentication throttled", client=client, retry_after=wait)
        detail = "too many failed authentications from this address; try again later"
        raise HTTPException(429, detail, headers={"Retry-After": str(wait)})
    scheme, _, token = authorization.partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorised(_NO_TOKEN, actor="-")
        return ctx.authenticate(token.strip())
    except NotAuthorised as exc:  # RFC 6750: an invalid token is 401, like a missing one
        ctx.throttle.failed(client)
        _failed(client, token.strip(), exc.message)
        _refused_actor(request, ctx, exc)
        raise Unauthenticated(exc.message, actor="-") from None


def _refused_actor(request: Request, ctx: ApiContext, exc: NotAuthorised) -> None:
    """An authentic token naming an actor the region does not know goes in the access log as
    that actor's refused read or command, where the CLI logs the same actor's refusal."""
    try:
        actor = Actor.parse(exc.actor)
    except ValueError:  # the token names nobody: no one's access to log
        return
    reads = request.method in ("GET", "HEAD")
    ctx.engine.log_refused_actor(
        actor,
        case_id=request.path_params.get("case_id"),
        action="read" if reads else "command",
        query=getattr(request.scope.get("route"), "name", "request"),
        exc=exc,
    )


def _failed(client: str, token: str, reason: str) -> None:
    """Log a failed authentication: where from, which API key id, why; never the token."""
    _log.warning(
        "authentication failed",
        client=client,
        credential="api key" if token.startswith(TOKEN_PREFIX) else "bearer token",
        key_id=key_id_of(token),
        reason=reason,
    )


CurrentActor = Annotated[Actor, Depends(_actor)]


def etag(sequence: int) -> str:
    """The strong ETag of a case at ``sequence``."""
    return f'"{sequence}"'


_MAX_VERSION_DIGITS = 18  # a case version fits in a 64-bit integer


def expected_version(if_match: str | None) -> int | None:
    """The case version an If-Match header names (None: any); a malformed one is bad input.

    The comparison is strong (RFC 9110, section 13.1.1): a weak tag never matches, so it gets
    412 whatever the case's version, and says nothing about the case.
    """
    if if_match is None or if_match.strip() == "*":
        return None
    if if_match.strip().startswith("W/"):
        raise HTTPException(
            412, 'If-Match: a weak ETag (W/"...") never matches; send the ETag the case carries'
        )
    digits = if_match.strip().strip('"')
    if not (digits.isascii() and digits.isdigit()) or len(digits) > _MAX_VERSION_DIGITS:
        raise InvalidInput(
            'If-Match is not an ETag of a case (a quoted version number such as "7")',
            field="If-Match",
        )
    return int(digits)
