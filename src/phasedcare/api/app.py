"""The app factory: authentication, size limits, problem details, response headers, the
documentation pages, and the routes.

CORS is off: no ``Access-Control-Allow-Origin`` is ever sent, so a browser page of another
origin cannot read an answer (the API's clients are case-management systems, not pages).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from traceback import extract_tb
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from phasedcare import errors
from phasedcare.api import routes
from phasedcare.api.context import ApiContext
from phasedcare.api.problems import (
    PROBLEM_MEDIA_TYPE,
    handle_error,
    handle_http_error,
    handle_invalid_request,
    problem,
)
from phasedcare.api.throttle import FailureThrottle
from phasedcare.domain.actors import Actor
from phasedcare.service.engine import Engine

__all__ = ["DEFAULT_MAX_BODY_BYTES", "STATIC_PATH", "create_app"]

DEFAULT_MAX_BODY_BYTES = 256 * 1024
"""The largest request body accepted; a larger one gets 413 before any parsing."""


class _BodyLimit:
    """ASGI middleware: refuse a request body larger than ``limit`` bytes with 413.

    A declared Content-Length over the limit is refused before anything is read; a chunked
    body is read up to the limit (never further) and handed on whole, so the refusal comes
    from here and not from the framework's body parser (which would answer 400)."""

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
        try:
            body = await self._read(receive)
        except _TooLargeError:
            await _too_large(send, self._limit)
            return
        if body is not None:  # None: the client left before it finished sending
            await self._app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self._limit:
                raise _TooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the whole body once, then what the client sends next."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


class _TooLargeError(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = problem(413, "Payload Too Large", f"the request body exceeds {limit} bytes")
    await _send_problem(send, 413, body)


async def _send_problem(send: Send, status: int, problem_body: dict[str, Any]) -> None:
    body = json.dumps(problem_body).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _LastResort:
    """ASGI middleware: an unexpected exception becomes a generic 500 problem with a request
    id, and the traceback goes to the server's log under that id (error class and frames; never
    the exception's message, which may quote input). The client learns nothing of the server's
    files, libraries or parsers."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._log = structlog.get_logger("phasedcare.api")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, watched)
        except Exception as exc:  # the last resort: every error ends here
            request_id = uuid.uuid4().hex
            self._log.error(
                "unexpected error",
                request_id=request_id,
                endpoint=getattr(scope.get("endpoint"), "__name__", "-"),
                error=type(exc).__name__,
                frames=[f"{f.filename}:{f.lineno} {f.name}" for f in extract_tb(exc.__traceback__)],
            )
            if scope["type"] == "http" and not started:
                detail = "the server failed on this request; the request id finds it in its log"
                body = problem(500, "Internal Server Error", detail, request_id=request_id)
                await _send_problem(send, 500, body)


_HYGIENE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}
"""Headers on every response: no MIME sniffing, no referrer, never inside a frame."""

STATIC_PATH = "/static"
"""Where the documentation pages' scripts, styles and icon are served from the package."""


class _Hygiene:
    """ASGI middleware: the headers of :data:`_HYGIENE` on every response, and
    ``Cache-Control: no-store`` on every response but the static assets (answers carry names;
    no browser or proxy may keep them)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        static = scope["path"].startswith(STATIC_PATH + "/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HYGIENE.items():
                    headers.setdefault(name, value)  # a page's own stricter policy stays
                if not static:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self._app(scope, receive, with_headers)


def _serve_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` with their assets from the package: no CDN."""
    app.mount(STATIC_PATH, StaticFiles(packages=[("phasedcare.api", "static")]), name="static")
    title, icon = f"{app.title}: API", "swagger-ui/favicon-32x32.png"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=_here(request, app.openapi_url),
            title=title,
            swagger_js_url=_asset(request, "swagger-ui/swagger-ui-bundle.js"),
            swagger_css_url=_asset(request, "swagger-ui/swagger-ui.css"),
            swagger_favicon_url=_asset(request, icon),
            swagger_ui_parameters={"validatorUrl": None},  # no badge from validator.swagger.io
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        js, openapi = _asset(request, "redoc/redoc.standalone.js"), _here(request, app.openapi_url)
        return get_redoc_html(
            openapi_url=openapi,
            title=title,
            redoc_js_url=js,
            redoc_favicon_url=_asset(request, icon),
            with_google_fonts=False,
        )


def _here(request: Request, path: str | None) -> str:
    """``path`` on this server, under the root path a proxy may mount the app at."""
    return f"{request.scope.get('root_path', '').rstrip('/')}{path}"


def _asset(request: Request, name: str) -> str:
    """The URL of a static asset of the package on this server."""
    return _here(request, f"{STATIC_PATH}/{name}")


def create_app(
    engine: Engine,
    *,
    authenticate: Callable[[str], Actor],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    throttle: FailureThrottle | None = None,
) -> FastAPI:
    """The HTTP API over ``engine``; ``authenticate`` maps a bearer token to an actor or raises
    NotAuthorised (API keys, OIDC tokens). Only ``/health``, the OpenAPI document, the
    documentation pages and their assets answer without a token."""
    app = FastAPI(
        docs_url=None,  # served by _serve_docs from the package's own assets
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        title="phasedcare",
        version="1",
        summary="Case coordination for Dutch phased safety care: phases, regie, handovers, "
        "deadlines, and a tamper-evident ledger.",
    )
    app.state.ctx = ApiContext(  # throttle: failed authentications per client (20 a minute)
        engine=engine, authenticate=authenticate, throttle=throttle or FailureThrottle()
    )
    app.add_exception_handler(errors.PhasedCareError, handle_error)
    app.add_exception_handler(RequestValidationError, handle_invalid_request)
    app.add_exception_handler(HTTPException, handle_http_error)
    for router in routes.ROUTERS:
        app.include_router(router)
    _serve_docs(app)
    app.add_middleware(_BodyLimit, limit=max_body_bytes)
    app.add_middleware(_LastResort)
    app.add_middleware(_Hygiene)  # the outermost: its headers are on every answer, 413 and 500
    return app
