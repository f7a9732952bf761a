"""The routes: one POST per engine command (its body is the command), and the queries.

Commands on a case accept ``If-Match`` (the case's ETag: a stale one gets 412, a concurrent
write 409) and ``Idempotency-Key`` (a retry returns the first result and writes nothing).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, create_model

from phasedcare.api.context import Ctx, CurrentActor, etag, expected_version
from phasedcare.api.idempotency import run_once
from phasedcare.api.paging import (
    After,
    Limit,
    cursor_date,
    cursor_flag,
    decode_cursor,
    encode_cursor,
    link_next,
)
from phasedcare.api.paths import CaseIdPath, HandoverIdPath
from phasedcare.api.problems import CASE_ERRORS, COMMAND_ERRORS, ERRORS
from phasedcare.api.routes_transparency import transparency
from phasedcare.api.routes_webhooks import webhooks
from phasedcare.domain import commands as cmd
from phasedcare.domain.share_decisions import ReviewTask
from phasedcare.errors import InvalidInput
from phasedcare.service.ports import (
    AcuteFirstCursor,
    CaseProjection,
    DeadlineRow,
    HandoverCursor,
    HandoverRow,
    acute_first_cursor,
    handover_cursor,
)
from phasedcare.service.validation import make_command
from phasedcare.service.views import (
    AccessView,
    CaseView,
    CommandResult,
    HandoverPayloadView,
    HistoryEntry,
    ObligationView,
    TransitionView,
)

__all__ = ["ROUTERS"]

health = APIRouter(tags=["health"])
cases = APIRouter(prefix="/cases", tags=["cases"])
caseload = APIRouter(tags=["caseload"])

IfMatch = Annotated[str | None, Header(description="The case's ETag; a stale one gets 412.")]
IdempotencyKey = Annotated[
    str | None,
    Header(max_length=200, description="A retry with the same key returns the first result."),
]


@health.get("/health")
def get_health() -> dict[str, str]:
    """Liveness: the process answers (no token needed)."""
    return {"status": "ok"}


@health.get("/ready", responses=ERRORS)
def get_ready(ctx: Ctx, actor: CurrentActor) -> dict[str, str]:
    """Readiness: the database answers."""
    ctx.engine.store.head("~ready")
    return {"status": "ready", "actor": str(actor)}


# -- commands -----------------------------------------------------------------------------


def _kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


def _body_model(command_type: type[cmd.Command]) -> type[BaseModel]:
    """The command's fields without ``case_id`` (that comes from the path)."""
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in command_type.model_fields.items()
        if name != "case_id"
    }
    model: type[BaseModel] = create_model(
        f"{command_type.__name__}Body", __config__=ConfigDict(extra="forbid"), **fields
    )
    return model


def _run(
    *,
    ctx: Ctx,
    actor: CurrentActor,
    command_type: type[cmd.Command],
    fields: dict[str, Any],
    idempotency_key: str | None,
    path: str,
    expected: int | None = None,
) -> CommandResult:
    """Run a command once per idempotency key of this actor, on the expected version."""
    if idempotency_key is None:
        command = make_command(command_type, **fields)
        return ctx.engine.handle(command, actor=actor, expected_sequence=expected)
    return run_once(
        ctx.engine,
        actor=actor,
        command_type=command_type,
        fields=fields,
        key=idempotency_key,
        path=path,
        expected=expected,
    )


def _case_command_route(command_type: type[cmd.Command]) -> None:
    body_model = _body_model(command_type)
    path = f"/{{case_id}}/{_kebab(command_type.__name__)}"

    def run(
        case_id: CaseIdPath,
        *,
        ctx: Ctx,
        actor: CurrentActor,
        response: Response,
        body: BaseModel,  # replaced below by the command's own body model
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CommandResult:
        fields = {**body.model_dump(exclude_unset=True), "case_id": case_id}
        result = _run(
            ctx=ctx,
            actor=actor,
            command_type=command_type,
            fields=fields,
            idempotency_key=idempotency_key,
            path=f"/cases{path}",
            expected=expected_version(if_match),
        )
        response.headers["ETag"] = etag(result.sequence)
        return result

    run.__annotations__["body"] = Annotated[body_model, Body()]
    run.__doc__ = command_type.__doc__
    run.__name__ = f"post_{_kebab(command_type.__name__).replace('-', '_')}"
    cases.post(
        path,
        status_code=200,
        response_model=CommandResult,
        name=command_type.__name__,
        responses=COMMAND_ERRORS,
    )(run)


for _command in cmd.COMMAND_TYPES:
    if issubclass(_command, cmd.CaseCommand) and _command not in {
        cmd.ExpireHandover,
        cmd.EscalateDeadline,
        cmd.SignalMda,
    }:
        _case_command_route(_command)


OpenCaseBody = _body_model(cmd.OpenCase)


@cases.post("", status_code=201, response_model=CommandResult, responses=COMMAND_ERRORS)
def open_case(
    *,
    ctx: Ctx,
    actor: CurrentActor,
    response: Response,
    body: Annotated[OpenCaseBody, Body()],  # type: ignore[valid-type]
    idempotency_key: IdempotencyKey = None,
) -> CommandResult:
    """Open a household's case from a melding or an advies (Veilig Thuis)."""
    fields = cast(BaseModel, body).model_dump(exclude_unset=True)
    result = _run(
        ctx=ctx,
        actor=actor,
        command_type=cmd.OpenCase,
        fields=fields,
        idempotency_key=idempotency_key,
        path="/cases",
    )
    response.headers["ETag"] = etag(result.sequence)
    response.headers["Location"] = f"/cases/{result.case_id}"
    return result


# -- queries -------------------------------------------------------------------------------


@cases.get("", response_model=list[CaseProjection], responses=ERRORS)
def list_cases(
    *,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    response: Response,
    phase: str | None = None,
    deadline_before: date | None = None,
    after: Annotated[str | None, Query(description="Cursor: the last case id seen.")] = None,
    limit: Limit = 100,
) -> list[CaseProjection]:
    """The caseload, acute cases first, then by case id, one page after the cursor (names never
    included)."""
    page = ctx.engine.list_cases(
        actor=actor, phase=phase, deadline_before=deadline_before, after_case_id=after, limit=limit
    )
    if page:
        link_next(request, response, rows=page, limit=limit, after=page[-1].case_id)
    return page


@cases.get("/{case_id}", response_model=CaseView, responses=CASE_ERRORS)
def show_case(case_id: CaseIdPath, ctx: Ctx, actor: CurrentActor, response: Response) -> CaseView:
    """The case as it stands, with its deadlines judged today; ETag is its version."""
    view = ctx.engine.show(case_id, actor=actor)
    response.headers["ETag"] = etag(view.sequence)
    return view


@cases.get("/{case_id}/history", response_model=list[HistoryEntry], responses=CASE_ERRORS)
def case_history(case_id: CaseIdPath, ctx: Ctx, actor: CurrentActor) -> list[HistoryEntry]:
    """Every event: when, who, under which policy version, what."""
    return ctx.engine.history(case_id, actor=actor)


@cases.get("/{case_id}/obligations", response_model=list[ObligationView], responses=CASE_ERRORS)
def case_obligations(
    case_id: CaseIdPath, ctx: Ctx, actor: CurrentActor, overdue: bool = False
) -> list[ObligationView]:
    """Every obligation of the case, open or ended, in the order opened: whose duty, by when,
    on what source, and the event that opened and ended it (``overdue``: only the open ones
    past their due moment now)."""
    return ctx.engine.obligations(case_id, actor=actor, overdue=overdue)


@cases.get("/{case_id}/allowed", response_model=list[TransitionView], responses=CASE_ERRORS)
def case_allowed(case_id: CaseIdPath, ctx: Ctx, actor: CurrentActor) -> list[TransitionView]:
    """Every chart event, whether it may fire now, and the reasons it may not."""
    return ctx.engine.allowed(case_id, actor=actor)


@cases.get("/{case_id}/replay", responses=CASE_ERRORS)
def case_replay(
    case_id: CaseIdPath,
    ctx: Ctx,
    actor: CurrentActor,
    sequence: Annotated[int | None, Query(ge=1)] = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The case as it was after record ``sequence`` or at time ``at`` (ids and phases)."""
    if at is not None and at.tzinfo is None:
        raise InvalidInput("at needs a timezone (e.g. 2026-03-02T09:00:00Z)", field="at")
    state = ctx.engine.state_at(case_id, actor=actor, sequence=sequence, at=at)
    return {
        "case_id": case_id,
        "sequence": state.sequence,
        "phase": state.phase,
        "vt_stage": state.vt_stage,
        "regie_organisation": state.regie.organisation if state.regie_history else None,
        "casusregisseur": state.regie.casusregisseur if state.regie_history else None,
    }


@cases.get("/{case_id}/access", response_model=list[AccessView], responses=CASE_ERRORS)
def case_access(case_id: CaseIdPath, ctx: Ctx, actor: CurrentActor) -> list[AccessView]:
    """Who looked at the case, on what basis, and who was refused (NEN 7513)."""
    return ctx.engine.access_history(case_id, actor=actor)


@cases.get(
    "/{case_id}/handovers/{handover_id}", response_model=HandoverPayloadView, responses=CASE_ERRORS
)
def case_handover(
    case_id: CaseIdPath, handover_id: HandoverIdPath, ctx: Ctx, actor: CurrentActor
) -> HandoverPayloadView:
    """One handover's payload: all its receiver sees of the case."""
    return ctx.engine.handover(case_id, handover_id, actor=actor)


@cases.get("/{case_id}/mda-criteria", responses=CASE_ERRORS)
def case_mda_criteria(case_id: CaseIdPath, ctx: Ctx, actor: CurrentActor) -> list[dict[str, Any]]:
    """The policy's MDA++ entry criteria weighed on the case today."""
    return [
        {"criterion_id": r.criterion_id, "met": r.met, "ground": r.ground}
        for r in ctx.engine.mda_criteria(case_id, actor=actor)
    ]


def _handover_after(after: str | None) -> HandoverCursor | None:
    if after is None:
        return None
    respond_by, case_id, handover_id = decode_cursor(after, size=3)
    return cursor_date(respond_by), case_id, handover_id


def _deadline_after(after: str | None) -> AcuteFirstCursor | None:
    if after is None:
        return None
    acute, due, case_id, kind, ref = decode_cursor(after, size=5)
    return cursor_flag(acute), cursor_date(due), case_id, kind, ref


@caseload.get("/handovers", response_model=list[HandoverRow], tags=["caseload"], responses=ERRORS)
def list_handovers(
    *,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    response: Response,
    status: str | None = None,
    after: After = None,
    limit: Limit = 100,
) -> list[HandoverRow]:
    """Handovers the actor's organisation sends or receives (Veilig Thuis: all), by response
    date, one page after the cursor."""
    page = ctx.engine.handovers(
        actor=actor, status=status, after=_handover_after(after), limit=limit
    )
    if page:
        cursor = encode_cursor(handover_cursor(page[-1]))
        link_next(request, response, rows=page, limit=limit, after=cursor)
    return page


@caseload.get("/deadlines", response_model=list[DeadlineRow], tags=["caseload"], responses=ERRORS)
def list_deadlines(
    *,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    response: Response,
    overdue: bool = False,
    kind: str | None = None,
    after: After = None,
    limit: Limit = 100,
) -> list[DeadlineRow]:
    """Deadlines, acute ones first, then earliest first, escalated or not, until resolved; one
    page after the cursor."""
    page = ctx.engine.deadlines(
        actor=actor, overdue=overdue, kind=kind, after=_deadline_after(after), limit=limit
    )
    if page:
        cursor = encode_cursor(acute_first_cursor(page[-1]))
        link_next(request, response, rows=page, limit=limit, after=cursor)
    return page


class BreakGlassRequest(BaseModel):
    """Why this emergency access is needed (sealed in the case; reviewed by Veilig Thuis)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=10, max_length=2000)


@cases.post("/{case_id}/break-glass", response_model=CaseView, responses=COMMAND_ERRORS)
def break_glass(
    case_id: CaseIdPath, ctx: Ctx, actor: CurrentActor, body: Annotated[BreakGlassRequest, Body()]
) -> CaseView:
    """Emergency access without another basis: flagged in the access log, opens a review."""
    return ctx.engine.break_glass(case_id, actor=actor, reason=body.reason)


@cases.get("/{case_id}/bundle", responses=CASE_ERRORS)
def case_bundle(case_id: CaseIdPath, ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """The case's sealed records with inclusion proofs against a fresh signed checkpoint."""
    return ctx.engine.export_case(case_id, actor=actor)


@caseload.get(
    "/obligations", response_model=list[ObligationView], tags=["caseload"], responses=ERRORS
)
def open_obligations(ctx: Ctx, actor: CurrentActor, overdue: bool = False) -> list[ObligationView]:
    """The open obligations of the caseload, acute ones first, then earliest due (Veilig
    Thuis: all; another organisation: those it must meet; ``overdue``: only those passed)."""
    return ctx.engine.open_obligations(actor=actor, overdue=overdue)


@caseload.get("/review-tasks", response_model=list[ReviewTask], responses=ERRORS)
def review_tasks(ctx: Ctx, actor: CurrentActor) -> list[ReviewTask]:
    """Unreviewed break-glass uses (Veilig Thuis and auditors)."""
    return ctx.engine.review_tasks(actor=actor)


@caseload.get("/feedback", responses=ERRORS)
def melder_feedback(ctx: Ctx, actor: CurrentActor) -> list[dict[str, Any]]:
    """The feedback sent to the caller's organisation as a professional melder (ids only)."""
    return ctx.engine.melder_feedback(actor=actor)


ledger = APIRouter(prefix="/ledger", tags=["ledger"])


@ledger.get("/verify", responses=ERRORS)
def verify_ledger(ctx: Ctx, actor: CurrentActor) -> dict[str, Any]:
    """Verify every record, the Merkle tree and every checkpoint (auditors; no decryption)."""
    return ctx.engine.verify_ledger(actor=actor).as_json()


ROUTERS = (health, cases, caseload, webhooks, ledger, transparency)
