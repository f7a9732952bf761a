"""Signing in and out, the language, and the console mounted into the served app.

The embedded default signs in with a one-time link that ``phasedcare serve`` prints per demo
actor (loopback only). The session cookie is HttpOnly, SameSite=Strict, limited to /console,
and Secure whenever the request came over https.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount

from phasedcare.domain.actors import Actor
from phasedcare.errors import NotAuthorised
from phasedcare.service.engine import Engine
from phasedcare.web.audit_pages import audit_pages
from phasedcare.web.console import professional_pages
from phasedcare.web.i18n import LANGUAGES
from phasedcare.web.oidc_signin import OidcSignIn
from phasedcare.web.pages import COOKIE, Pages, Posted, SignInNeeded, Visit
from phasedcare.web.sessions import ConsoleSessions, SignInLinks

__all__ = ["ASSETS", "mount_console"]

ASSETS = "/static/console"
"""Where the console's styles are served from the package (cached: no personal data)."""

_log = structlog.get_logger("phasedcare.web")


def _set_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _entry(pages: Pages) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)

    @router.get("/aanmelden", response_class=HTMLResponse)
    def sign_in(request: Request, code: str = "") -> Response:
        language = pages.language_of(request)
        if not code:
            return pages.render(None, "signin.html", title="signin", refused="")
        client = request.client.host if request.client else None
        try:
            actor = pages.links.redeem(code, client=client)
        except NotAuthorised as exc:
            return _refused_sign_in(pages, request, exc)
        return _session_started(pages, request, actor, language)

    @router.get("/aanmelden/oidc")
    def sign_in_at_provider(request: Request) -> Response:
        if pages.oidc is None:
            return pages.render(None, "signin.html", status=404, title="signin", refused="")
        return RedirectResponse(pages.oidc.begin(_return_address(request)), status_code=303)

    @router.get("/aanmelden/oidc/terug", response_class=HTMLResponse)
    def back_from_provider(
        request: Request, state: str = "", code: str = "", error: str = ""
    ) -> Response:
        return _returned(pages, request, state=state, code=code, error=error)

    @router.post("/afmelden")
    async def sign_out(request: Request) -> Response:
        return await pages.form_post(request, _signed_out(pages), query="sign_out")

    @router.post("/taal")
    async def language(request: Request) -> Response:
        return await pages.form_post(request, _language_chosen(pages), query="language")

    return router


def _returned(pages: Pages, request: Request, *, state: str, code: str, error: str) -> Response:
    """A browser back from the identity provider: signed in, or told why not."""
    try:
        if pages.oidc is None or error or not state or not code:
            raise NotAuthorised("the identity provider did not sign you in", actor="-")
        actor = pages.oidc.finish(state=state, code=code)
    except NotAuthorised as exc:
        return _refused_sign_in(pages, request, exc)
    return _session_started(pages, request, actor, pages.language_of(request))


def _return_address(request: Request) -> str:
    """Where the identity provider sends the browser back: this console's return page."""
    return str(request.url_for("back_from_provider"))


def _session_started(pages: Pages, request: Request, actor: Actor, language: str) -> Response:
    """A new session for ``actor`` (an earlier one of this browser ends), and the caseload."""
    pages.sessions.end(request.cookies.get(COOKIE))
    cookie = pages.sessions.start(actor, language=language)
    _log.info("console sign-in", organisation=actor.organisation, role=str(actor.role))
    response = RedirectResponse("/console/", status_code=303)
    _set_cookie(response, request, cookie)
    return response


def _refused_sign_in(pages: Pages, request: Request, exc: NotAuthorised) -> Response:
    """The sign-in page with the refusal; logged with the client address, never a code."""
    client = request.client.host if request.client else None
    _log.warning("console sign-in refused", client=client, reason=exc.message)
    page = pages.render(None, "signin.html", status=401, title="signin", refused=exc.message)
    page.delete_cookie(COOKIE, path="/console")
    return page


def _signed_out(pages: Pages) -> Callable[[Visit, Posted], Response]:
    def signed_out(visit: Visit, _: Posted) -> Response:
        pages.sessions.end(visit.cookie)
        response = RedirectResponse("/console/aanmelden", status_code=303)
        response.delete_cookie(COOKIE, path="/console")
        return response

    return signed_out


def _language_chosen(pages: Pages) -> Callable[[Visit, Posted], Response]:
    def chosen(visit: Visit, posted: Posted) -> Response:
        language = (posted.get("taal") or [""])[0]
        if language in LANGUAGES:
            pages.sessions.update(visit.cookie, language=language)
        back = (posted.get("terug") or [""])[0]
        target = back if back.startswith("/console/") and "//" not in back else "/console/"
        return RedirectResponse(target, status_code=303)

    return chosen


async def _to_sign_in(_: Request, __: Exception) -> Response:
    return RedirectResponse("/console/aanmelden", status_code=303)


def mount_console(
    app: FastAPI,
    engine: Engine,
    *,
    sessions: ConsoleSessions,
    links: SignInLinks,
    oidc: OidcSignIn | None = None,
) -> Pages:
    """Serve the console at /console of ``app`` (its styles under :data:`ASSETS`); with
    ``oidc``, professionals sign in at their identity provider too."""
    pages = Pages(engine=engine, sessions=sessions, links=links, oidc=oidc)
    app.state.console = pages
    assets = StaticFiles(packages=[("phasedcare.web", "static")])
    app.router.routes.insert(0, Mount(ASSETS, app=assets, name="console-static"))
    for router in (_entry(pages), professional_pages(pages), audit_pages(pages)):
        app.include_router(router)
    app.add_exception_handler(SignInNeeded, _to_sign_in)

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/console/", status_code=303)

    return pages
