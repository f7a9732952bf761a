"""The auditor's pages: a case's history as a timeline, the case as it was at any record,
its access log (NEN 7513), its bundle, and verification of the whole ledger.

Each is the Engine's own read (authorised and logged); verification runs in the request and
names the first bad record in words.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from phasedcare.errors import InvalidInput
from phasedcare.service.views import case_view
from phasedcare.web.pages import Pages, Visit, case_id_in_path

__all__ = ["audit_pages"]


def audit_pages(pages: Pages) -> APIRouter:
    """The auditor's pages over ``pages``."""
    router = APIRouter(prefix="/console/audit", include_in_schema=False)
    engine = pages.engine

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        visit = pages.visit(request)
        checkpoint = engine.auditor.checkpoint() if engine.auditor is not None else None
        return pages.render(visit, "audit.html", title="audit", checkpoint=checkpoint, report=None)

    @router.post("/verificatie", response_class=HTMLResponse)
    async def verify(request: Request) -> Response:
        return await pages.form_post(
            request, lambda visit, _: _verified(pages, visit), query="verify_ledger"
        )

    @router.get("/zaak")
    def find(request: Request, id: str = "") -> Response:
        visit = pages.visit(request)
        return pages.guarded(
            visit, lambda: RedirectResponse(f"/console/audit/zaken/{case_id_in_path(id)}", 303)
        )

    @router.get("/zaken/{case_id}", response_class=HTMLResponse)
    def replay(request: Request, case_id: str, volgnummer: str = "") -> Response:
        visit = pages.visit(request)
        return pages.guarded(
            visit, lambda: _replay(pages, visit, case_id_in_path(case_id), volgnummer)
        )

    @router.get("/zaken/{case_id}/toegang", response_class=HTMLResponse)
    def access(request: Request, case_id: str) -> Response:
        visit = pages.visit(request)

        def log() -> Response:
            found = engine.access_history(case_id_in_path(case_id), actor=visit.actor)
            return pages.render(
                visit, "access.html", title="access", case_id=case_id, entries=found
            )

        return pages.guarded(visit, log)

    router.include_router(_reports(pages))
    return router


def _reports(pages: Pages) -> APIRouter:
    """What an auditor takes away: one employee's access report, a case's bundle."""
    router = APIRouter(include_in_schema=False)
    engine = pages.engine

    @router.get("/medewerker", response_class=HTMLResponse)
    def employee(request: Request, gebruiker: str = "") -> Response:
        visit = pages.visit(request)

        def report() -> Response:
            found = engine.employee_access(gebruiker, actor=visit.actor) if gebruiker else None
            return pages.render(
                visit, "employee.html", title="employee", user=gebruiker, entries=found
            )

        return pages.guarded(visit, report)

    @router.get("/zaken/{case_id}/bundel")
    def bundle(request: Request, case_id: str) -> Response:
        visit = pages.visit(request)

        def download() -> Response:
            exported = engine.export_case(case_id_in_path(case_id), actor=visit.actor)
            name = f"phasedcare-{case_id}.json"
            return Response(
                json.dumps(exported, indent=1),
                media_type="application/json",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )

        return pages.guarded(visit, download)

    return router


def _verified(pages: Pages, visit: Visit) -> Response:
    report = pages.engine.verify_ledger(actor=visit.actor)
    checkpoint = pages.engine.auditor.checkpoint() if pages.engine.auditor is not None else None
    return pages.render(visit, "audit.html", title="audit", checkpoint=checkpoint, report=report)


def _replay(pages: Pages, visit: Visit, case_id: str, chosen: str) -> Response:
    engine = pages.engine
    history = engine.history(case_id, actor=visit.actor)
    if chosen and not (chosen.isdigit() and 0 < int(chosen) <= len(history)):
        raise InvalidInput(f"volgnummer: choose 1 to {len(history)}", field="volgnummer")
    sequence = int(chosen) if chosen else len(history)
    state = engine.state_at(case_id, actor=visit.actor, sequence=sequence)
    at = history[sequence - 1].at
    view = case_view(state, [], engine.policy.local_date(at), at)
    return pages.render(
        visit,
        "replay.html",
        title="replay",
        case_id=case_id,
        history=history,
        sequence=sequence,
        case=view,
        diagrams=pages.diagrams(visit, phase=view.phase, vt_stage=view.vt_stage),
    )
