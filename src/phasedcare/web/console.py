"""The console's pages for professionals: caseload, case, handover inbox, obligations.

Every page is drawn from the Engine's own reads, so it is authorised and logged as the API's
reads are (NEN 7513: a case page is a read of the case); every form sends the Engine's own
command. Forms post plain ``application/x-www-form-urlencoded`` bodies and are answered with
a redirect (post, redirect, get): every journey works without JavaScript, by keyboard only.
A refused command changes nothing and is shown in place, beside the form, with its reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from phasedcare.errors import InvalidInput, NotAuthorised, NotFound, PhasedCareError, Refused
from phasedcare.service.engine import Engine
from phasedcare.service.views import CaseView, TransitionView, waiting_zicht
from phasedcare.web.forms import ACTIONS, OPEN_CASE, Choice, FormContext, fields_of, parse
from phasedcare.web.pages import Pages, Posted, Visit, case_id_in_path

__all__ = ["PAGE_SIZE", "professional_pages"]

PAGE_SIZE = 50
"""Cases on one page of the caseload."""

_TAXATIE = ("acute_onveiligheid", "structurele_onveiligheid")


@dataclass(frozen=True, slots=True)
class _Options:
    """What the case page offers from the charts: possible now, and blocked now with why."""

    possible: list[TransitionView]
    blocked: list[TransitionView]


def _options(allowed: list[TransitionView]) -> _Options:
    """Possible now, blocked now; nothing of what this state can never do."""
    return _Options(
        possible=[o for o in allowed if o.allowed],
        blocked=[o for o in allowed if not o.allowed and o.from_here],
    )


def _organisations(engine: Engine) -> tuple[Choice, ...]:
    return tuple(Choice(o.id, o.name) for o in engine.policy.organisations)


def _form_context(engine: Engine, visit: Visit, case_id: str, case: CaseView | None) -> FormContext:
    open_ones = [] if case is None else engine.obligations(case_id, actor=visit.actor)
    return FormContext(
        case_id=case_id,
        case=case,
        obligations=tuple(
            Choice(o.id, f"{o.description} ({o.due})") for o in open_ones if o.ended is None
        ),
        organisations=_organisations(engine),
    )


def professional_pages(pages: Pages) -> APIRouter:
    """The professional's pages, over ``pages``' engine, sessions and templates."""
    router = APIRouter(prefix="/console", include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def caseload(request: Request, filter: str = "", na: str = "") -> Response:
        visit = pages.visit(request)
        return pages.guarded(visit, lambda: _caseload(pages, visit, filter, na))

    @router.post("/zaken", response_class=HTMLResponse)
    async def open_case(request: Request) -> Response:
        return await pages.form_post(
            request, lambda visit, posted: _open_case(pages, visit, posted), query="OpenCase"
        )

    @router.get("/zaken/{case_id}", response_class=HTMLResponse)
    def case_page(request: Request, case_id: str) -> Response:
        visit = pages.visit(request)
        return pages.guarded(visit, lambda: _case_page(pages, visit, case_id_in_path(case_id)))

    @router.post("/zaken/{case_id}/acties/{slug}", response_class=HTMLResponse)
    async def act(request: Request, case_id: str, slug: str) -> Response:
        case_id = case_id_in_path(case_id)
        return await pages.form_post(
            request,
            lambda visit, posted: _act(pages, visit, case_id, slug, posted),
            query=slug,
            case_id=case_id,
        )

    router.include_router(_lists(pages))
    return router


def _lists(pages: Pages) -> APIRouter:
    """The lists of an organisation: the handover inbox, the obligations board, break-glass."""
    router = APIRouter(include_in_schema=False)
    engine = pages.engine

    @router.get("/overdrachten", response_class=HTMLResponse)
    def inbox(request: Request) -> Response:
        visit = pages.visit(request)
        return pages.guarded(visit, lambda: _inbox(pages, visit))

    @router.get("/zaken/{case_id}/overdrachten/{handover_id}", response_class=HTMLResponse)
    def handover_page(request: Request, case_id: str, handover_id: str) -> Response:
        visit = pages.visit(request)
        return pages.guarded(
            visit,
            lambda: _handover(pages, visit, case_id_in_path(case_id), case_id_in_path(handover_id)),
        )

    @router.get("/noodtoegang", response_class=HTMLResponse)
    def break_glass(request: Request) -> Response:
        visit = pages.visit(request)
        return pages.guarded(visit, lambda: _break_glass_page(pages, visit))

    @router.post("/noodtoegang", response_class=HTMLResponse)
    async def break_the_glass(request: Request) -> Response:
        return await pages.form_post(
            request, lambda visit, posted: _broken_glass(pages, visit, posted), query="break_glass"
        )

    @router.get("/verplichtingen", response_class=HTMLResponse)
    def obligations(request: Request, te_laat: str = "") -> Response:
        visit = pages.visit(request)
        overdue = te_laat == "1"

        def board() -> Response:
            found = engine.open_obligations(actor=visit.actor, overdue=overdue)
            return pages.render(
                visit, "obligations.html", obligations=found, overdue=overdue, title="board"
            )

        return pages.guarded(visit, board)

    return router


def _open_case(pages: Pages, visit: Visit, posted: Posted) -> Response:
    ctx = FormContext(None, None, (), _organisations(pages.engine))
    try:
        result = pages.engine.handle(parse(OPEN_CASE, ctx, posted), actor=visit.actor)
    except (NotAuthorised, NotFound):
        raise
    except PhasedCareError as exc:
        return _caseload(pages, visit, "", "", refusal=exc)
    pages.notify(visit, pages.text(visit, "notice.opened"))
    return RedirectResponse(f"/console/zaken/{result.case_id}", status_code=303)


def _caseload(
    pages: Pages, visit: Visit, chosen: str, after: str, *, refusal: PhasedCareError | None = None
) -> Response:
    engine, now = pages.engine, pages.engine.now().astimezone(UTC)
    today = engine.policy.local_date(now)
    filters: dict[str, Any] = {
        "mine": {"organisation": visit.actor.organisation},
        "te-laat": {"deadline_before": today},
        "directe_veiligheid": {"phase": "directe_veiligheid"},
        "stabiele_veiligheid": {"phase": "stabiele_veiligheid"},
        "herstel": {"phase": "herstel"},
    }
    rows = engine.list_cases(
        actor=visit.actor,
        limit=PAGE_SIZE + 1,
        after_case_id=case_id_in_path(after) if after else None,
        **filters.get(chosen, {}),
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    shown = [
        {
            "row": row,
            "days_open": (today - engine.policy.local_date(row.opened_at)).days,
            "zicht": waiting_zicht(row, today, now),
            "open_handovers": [h for h in row.handovers if h.status == "proposed"],
            "overdue": row.next_deadline is not None and row.next_deadline < today,
        }
        for row in rows
    ]
    next_page = urlencode({"filter": chosen, "na": rows[-1].case_id}) if more and rows else ""
    open_form = fields_of(OPEN_CASE, FormContext(None, None, (), _organisations(engine)))
    return pages.render(
        visit,
        "caseload.html",
        title="caseload",
        open_form=open_form,
        refusal=refusal,
        rows=shown,
        filters=list(filters),
        chosen=chosen,
        next_page=next_page,
    )


def _case_page(
    pages: Pages,
    visit: Visit,
    case_id: str,
    *,
    refusal: PhasedCareError | None = None,
    refused_slug: str = "",
) -> Response:
    engine = pages.engine
    case = engine.show(case_id, actor=visit.actor)
    options = _options(engine.allowed(case_id, actor=visit.actor))
    history = engine.history(case_id, actor=visit.actor)
    ctx = _form_context(engine, visit, case_id, case)
    forms = {
        slug: fields_of(action, ctx)
        for slug, action in ACTIONS.items()
        if action.applies(case) and slug != "gebeurtenis"
    }
    event_fields = {f.name: f for f in fields_of(ACTIONS["gebeurtenis"], ctx)}
    return pages.render(
        visit,
        "case.html",
        title="case",
        case=case,
        options=options,
        history=history,
        forms=forms,
        event_fields=event_fields,
        taxatie=_TAXATIE,
        refusal=refusal,
        refused_slug=refused_slug,
        diagrams=pages.diagrams(visit, phase=case.phase, vt_stage=case.vt_stage),
    )


_ELSEWHERE = {
    "accepteren": "/console/overdrachten",
    "afwijzen": "/console/overdrachten",
    "intrekken": "/console/overdrachten",
    "noodtoegang-beoordelen": "/console/noodtoegang",
}
"""The actions answered on a page of their own (the handover page, the review queue), and
where they return: their actor answers without reading the case page."""


def _act(pages: Pages, visit: Visit, case_id: str, slug: str, posted: Posted) -> Response:
    engine = pages.engine
    action = ACTIONS.get(slug)
    if action is None:
        raise NotFound(f"no action {slug[:40]!r}", kind="action", ident="-")
    elsewhere = _ELSEWHERE.get(slug)
    case = None if elsewhere else engine.show(case_id, actor=visit.actor)
    version = (posted.get("versie") or [""])[0]
    try:
        ctx = _form_context(engine, visit, case_id, case)
        command = parse(action, ctx, posted)
        expected = int(version) if version.isdigit() else None
        result = engine.handle(command, actor=visit.actor, expected_sequence=expected)
    except (NotAuthorised, NotFound):
        raise
    except PhasedCareError as exc:
        return _refused_in_place(pages, visit, case_id=case_id, slug=slug, posted=posted, exc=exc)
    done = ", ".join(pages.text(visit, f"eventtype.{e}") for e in result.events)
    pages.notify(visit, pages.text(visit, "notice.done").format(events=done))
    return RedirectResponse(elsewhere or f"/console/zaken/{case_id}", status_code=303)


def _refused_in_place(
    pages: Pages, visit: Visit, *, case_id: str, slug: str, posted: Posted, exc: PhasedCareError
) -> Response:
    """The page the refused form was on, with the refusal beside it."""
    if slug == "noodtoegang-beoordelen":
        return _break_glass_page(pages, visit, refusal=exc)
    if slug in _ELSEWHERE:
        handover_id = (posted.get("handover_id") or [""])[0]
        return _handover(pages, visit, case_id, case_id_in_path(handover_id), refusal=exc)
    return _case_page(pages, visit, case_id, refusal=exc, refused_slug=slug)


def _break_glass_page(
    pages: Pages, visit: Visit, *, refusal: PhasedCareError | None = None
) -> Response:
    """Break the glass on a case, and (for Veilig Thuis and auditors) the uses to review."""
    try:
        tasks = pages.engine.review_tasks(actor=visit.actor)
    except NotAuthorised:
        tasks = None
    return pages.render(visit, "breakglass.html", title="breakglass", tasks=tasks, refusal=refusal)


def _broken_glass(pages: Pages, visit: Visit, posted: Posted) -> Response:
    """The case an emergency read shows, read-only, marked as break-glass (reviewed later)."""
    case_id = case_id_in_path((posted.get("zaak") or [""])[0].strip())
    reason = (posted.get("reden") or [""])[0]
    try:
        case = pages.engine.break_glass(case_id, actor=visit.actor, reason=reason)
    except (InvalidInput, Refused) as exc:
        return _break_glass_page(pages, visit, refusal=exc)
    return pages.render(
        visit,
        "case.html",
        title="case",
        case=case,
        break_glass=True,
        options=_Options([], []),
        history=[],
        forms={},
        event_fields={},
        taxatie=(),
        refused_slug="",
        diagrams=pages.diagrams(visit, phase=case.phase, vt_stage=case.vt_stage),
    )


def _inbox(pages: Pages, visit: Visit) -> Response:
    engine = pages.engine
    rows = engine.handovers(actor=visit.actor)
    mine = visit.actor.organisation
    today = engine.today()
    incoming = [r for r in rows if r.to_organisation == mine and r.status == "proposed"]
    sent = [r for r in rows if r.from_organisation == mine and r.status == "proposed"]
    escalated = [r for r in rows if r.status in ("expired", "escalated")]
    return pages.render(
        visit,
        "inbox.html",
        title="inbox",
        incoming=incoming,
        sent=sent,
        escalated=escalated,
        today=today,
        soon=today + timedelta(days=2),
    )


def _handover(
    pages: Pages,
    visit: Visit,
    case_id: str,
    handover_id: str,
    *,
    refusal: PhasedCareError | None = None,
) -> Response:
    handover = pages.engine.handover(case_id, handover_id, actor=visit.actor)
    return pages.render(
        visit,
        "handover.html",
        title="handover",
        refusal=refusal,
        handover=handover,
        receiving=handover.to_organisation == visit.actor.organisation,
        sending=handover.from_organisation == visit.actor.organisation,
        own_user=visit.actor.user,
    )
