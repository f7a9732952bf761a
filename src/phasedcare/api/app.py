"""The app factory: authentication, size limits, problem details, and the routes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from phasedcare import errors
from phasedcare.api import routes
from phasedcare.api.context import ApiContext
from phasedcare.api.problems import (
    handle_error,
    handle_http_error,
    handle_invalid_request,
    problem,
)
from phasedcare.domain.actors import Actor
from phasedcare.service.engine import Engine

__all__ = ["DEFAULT_MAX_BODY_BYTES", "create_app"]

DEFAULT_MAX_BODY_BYTES = 256 * 1024
"""The largest request body accepted; a larger one gets 413 before any parsing."""


class _BodyLimit:
    """ASGI middleware: refuse a request body larger than ``limit`` bytes with 413."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self._app, self._limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._limit:
            await _too_large(send, self._limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self._limit:
                raise _TooLargeError
            return message

        try:
            await self._app(scope, counted, send)
        except _TooLargeError:
            await _too_large(send, self._limit)


class _TooLargeError(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    import json  # noqa: PLC0415 - only on this path

    body = json.dumps(
        problem(413, "Payload Too Large", f"the request body exceeds {limit} bytes")
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(
    engine: Engine,
    *,
    authenticate: Callable[[str], Actor],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """The HTTP API over ``engine``; ``authenticate`` maps a bearer token to an actor or raises
    NotAuthorised (API keys, OIDC tokens). Only ``/health`` answers without a token."""
    app = FastAPI(
        title="phasedcare",
        version="1",
        summary="Case coordination for Dutch phased safety care: phases, regie, handovers, "
        "deadlines, and a tamper-evident ledger.",
    )
    app.state.ctx = ApiContext(engine=engine, authenticate=authenticate)
    app.add_exception_handler(errors.PhasedCareError, handle_error)
    app.add_exception_handler(RequestValidationError, handle_invalid_request)
    app.add_exception_handler(HTTPException, handle_http_error)
    for router in routes.ROUTERS:
        app.include_router(router)
    app.add_middleware(_BodyLimit, limit=max_body_bytes)
    return app
