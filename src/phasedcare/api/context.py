"""What every route needs: the engine, who is asking, and the case's version (ETag)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from phasedcare.api.problems import Unauthenticated
from phasedcare.domain.actors import Actor
from phasedcare.errors import InvalidInput, NotAuthorised
from phasedcare.service.engine import Engine

__all__ = ["ApiContext", "Ctx", "CurrentActor", "etag", "expected_version"]


@dataclass(frozen=True, slots=True)
class ApiContext:
    """The engine and the authenticator the app was made with."""

    engine: Engine
    authenticate: Callable[[str], Actor]


def _ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(_ctx)]


def _actor(ctx: Ctx, authorization: Annotated[str | None, Header()] = None) -> Actor:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a bearer token is required (an API key or an OIDC token)", actor="-")
    try:
        return ctx.authenticate(token.strip())
    except NotAuthorised as exc:  # RFC 6750: an invalid token is 401, like a missing one
        raise Unauthenticated(exc.message, actor="-") from None


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
