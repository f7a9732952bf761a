"""What every route needs: the engine, who is asking, and the case's version (ETag)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from phasedcare.api.problems import PreconditionFailed, Unauthenticated
from phasedcare.domain.actors import Actor
from phasedcare.errors import NotFound
from phasedcare.service.engine import Engine

__all__ = ["ApiContext", "Ctx", "CurrentActor", "check_if_match", "etag"]


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
    return ctx.authenticate(token.strip())


CurrentActor = Annotated[Actor, Depends(_actor)]


def etag(sequence: int) -> str:
    """The strong ETag of a case at ``sequence``."""
    return f'"{sequence}"'


def check_if_match(ctx: ApiContext, case_id: str, if_match: str | None) -> None:
    """412 when If-Match names another version of the case than the current one."""
    if if_match is None or if_match.strip() == "*":
        return
    row = ctx.engine.store.projection(case_id)
    if row is None:
        raise NotFound(f"case {case_id} does not exist", kind="case", ident=case_id)
    if if_match.strip() != etag(row.sequence):
        raise PreconditionFailed(case_id=case_id, expected=_version(if_match), actual=row.sequence)


def _version(tag: str) -> int:
    digits = tag.strip().removeprefix("W/").strip('"')
    return int(digits) if digits.isdigit() else -1
