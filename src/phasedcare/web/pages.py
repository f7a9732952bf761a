"""What every console page needs: who is signed in, the templates, the words, refusals.

A page without a live session sends the browser to the sign-in page. A form without the
session's CSRF token is refused and logged as the actor's refused command. An error from
the Engine becomes a page with the status the API gives it (a case the actor may not see is
missing, as in the API); every other error is the API's generic 500, with a request id.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs

import structlog
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from phasedcare.api.problems import status_of
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.commands import ID_PATTERN
from phasedcare.errors import NotAuthorised, NotFound, PhasedCareError
from phasedcare.service.engine import Engine
from phasedcare.web.diagrams import chart_svg
from phasedcare.web.i18n import LANGUAGES, labels_of, translate
from phasedcare.web.oidc_signin import OidcSignIn
from phasedcare.web.sessions import ConsoleSession, ConsoleSessions, SignInLinks

__all__ = ["COOKIE", "CSP", "Pages", "Posted", "SignInNeeded", "Visit", "case_id_in_path"]

COOKIE = "phasedcare_console"
"""The session cookie's name (its path is /console)."""

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
"""The console's Content-Security-Policy: no script at all, styles and images of its own."""

_log = structlog.get_logger("phasedcare.web")
_ID = re.compile(ID_PATTERN)


def case_id_in_path(ident: str) -> str:
    """An id from an address; one no case or handover can have is a missing one, refused
    before anything is loaded or decrypted (an access stream's ``c-x~access`` too)."""
    if not _ID.fullmatch(ident):
        raise NotFound("nothing has this id", kind="case", ident="-")
    return ident


class SignInNeeded(Exception):
    """No live session: the browser is sent to the sign-in page."""


@dataclass(frozen=True, slots=True)
class Visit:
    """One request of a signed-in browser: its cookie and session."""

    cookie: str
    session: ConsoleSession

    @property
    def actor(self) -> Actor:
        return self.session.actor

    @property
    def language(self) -> str:
        return self.session.language


Posted = dict[str, list[str]]
"""A posted form's fields, each with its values."""


async def posted_form(request: Request) -> Posted:
    """A form's fields as posted (urlencoded; the console takes no file uploads)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        return parse_qs(body, keep_blank_values=True, max_num_fields=200)
    except ValueError:  # more fields than any form has: no form of ours (its CSRF check fails)
        return {}


def _language(request: Request) -> str:
    """The first language of Accept-Language the console speaks; Dutch otherwise."""
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "nl"


@dataclass
class Pages:
    """The engine, the sessions and sign-in links, and the templates of the console."""

    engine: Engine
    sessions: ConsoleSessions
    links: SignInLinks
    oidc: OidcSignIn | None = None

    def __post_init__(self) -> None:
        self._templates = Environment(
            loader=PackageLoader("phasedcare.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._templates.filters["local"] = self._local

    def _local(self, value: datetime | date | None, form: str = "%Y-%m-%d %H:%M") -> str:
        """A moment in the region's time zone (a date as it is)."""
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.astimezone(self.engine.policy.zone).strftime(form)
        return value.isoformat()

    def language_of(self, request: Request) -> str:
        return _language(request)

    def visit(self, request: Request) -> Visit:
        """The signed-in browser of ``request``; SignInNeeded when there is none."""
        cookie = request.cookies.get(COOKIE)
        session = self.sessions.current(cookie)
        if cookie is None or session is None:
            raise SignInNeeded
        return Visit(cookie=cookie, session=session)

    def text(self, visit: Visit | None, key: str) -> str:
        return translate(visit.language if visit else "nl", key)

    def diagrams(self, visit: Visit, *, phase: str, vt_stage: str) -> dict[str, str]:
        """The two statecharts with the case's states marked, in the visit's words."""
        labels = labels_of(visit.language)
        return {
            "phase_svg": chart_svg(
                "phase", phase, title=self.text(visit, "chart.phase"), labels=labels
            ),
            "vt_svg": chart_svg("vt", vt_stage, title=self.text(visit, "chart.vt"), labels=labels),
        }

    def notify(self, visit: Visit, notice: str) -> None:
        """A line the next page shows once (what a form did)."""
        self.sessions.update(visit.cookie, notice=notice)

    def check_csrf(
        self, visit: Visit, posted: dict[str, list[str]], *, case_id: str | None, query: str
    ) -> None:
        """Refuse (and log, as the actor's refused command) a form without this session's
        CSRF token: a page of another site cannot post in the professional's name."""
        token = (posted.get("csrf") or [""])[0]
        if visit.session.checks(token):
            return
        exc = NotAuthorised("the form's CSRF token is missing or wrong", actor=str(visit.actor))
        self.engine.log_refused_actor(
            visit.actor, case_id=case_id, action="command", query=query, exc=exc
        )
        raise exc

    def render(
        self, visit: Visit | None, template: str, *, status: int | None = None, **context: Any
    ) -> HTMLResponse:
        """A page: the template with the visit, its words and its notice; its status is the
        refusal's it shows (``refusal``), else 200."""
        refusal = context.get("refusal")
        if status is None:
            status = status_of(refusal) if isinstance(refusal, PhasedCareError) else 200
        language = visit.language if visit else "nl"
        notice = self.sessions.take_notice(visit.cookie) if visit else ""
        html = self._templates.get_template(template).render(
            lang=language,
            languages=LANGUAGES,
            t=lambda key: translate(language, key),
            visit=visit,
            actor=visit.actor if visit else None,
            auditor=visit is not None and visit.actor.role is Role.auditor,
            csrf=visit.session.csrf if visit else "",
            oidc=self.oidc is not None,
            notice=notice,
            policy=self.engine.policy,
            **context,
        )
        return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": CSP})

    def guarded(self, visit: Visit, page: Callable[[], Response], *, form: Any = None) -> Response:
        """``page``, or the page of the Engine's error with the API's status for it."""
        try:
            return page()
        except PhasedCareError as exc:
            status = status_of(exc)
            if status >= 500:
                _log.warning("console page failed", error=type(exc).__name__)
            return self.render(visit, "error.html", status=status, title="error", error=exc)

    async def form_post(
        self,
        request: Request,
        act: Callable[[Visit, Posted], Response],
        *,
        query: str,
        case_id: str | None = None,
    ) -> Response:
        """A posted form of a signed-in browser: its CSRF token checked (refused and logged
        as ``query``), then ``act`` on what was posted; the Engine's errors as pages."""
        visit = self.visit(request)
        posted = await posted_form(request)

        def checked() -> Response:
            self.check_csrf(visit, posted, case_id=case_id, query=query)
            return act(visit, posted)

        return self.guarded(visit, checked)
