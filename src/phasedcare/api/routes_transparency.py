"""What outside witnesses read: the latest signed checkpoint, the verifier key, and the
RFC 9162 consistency proof between two signed sizes, as plain text in the C2SP formats.

They hold hashes and signatures only, no personal data and nothing of any case. They answer
auditors of the region (an inspectie or a second region is given an auditor's API key), are
not logged as accesses and sign nothing: a witness polling every minute adds no record to
the ledger and makes no checkpoint. A refusal is logged, as every door's is.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse

from phasedcare.api.context import Ctx, CurrentActor
from phasedcare.api.problems import documented
from phasedcare.domain.actors import Actor
from phasedcare.errors import NotFound
from phasedcare.service.audit import Auditor

__all__ = ["transparency"]

transparency = APIRouter(prefix="/ledger", tags=["ledger"])

_MAX_SIZE = (1 << 63) - 1
_TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}}
}
_RESPONSES = {**_TEXT, **documented(400, 401, 403, 404, 413, 422, 429, 503)}
_PLAIN = "text/plain; charset=utf-8"


def _auditor_actor(ctx: Ctx, actor: CurrentActor, request: Request) -> Actor:
    """The caller, if an auditor of the region (a refusal is logged by the engine); checked
    before the query is validated."""
    query = getattr(request.scope.get("route"), "name", "ledger")
    ctx.engine.authorise_witness_read(actor, query=query)
    return actor


AuditorActor = Annotated[Actor, Depends(_auditor_actor)]


def _auditor(ctx: Ctx) -> Auditor:
    if ctx.engine.auditor is None:
        raise NotFound("this engine keeps no ledger checkpoints", kind="checkpoint", ident="-")
    return ctx.engine.auditor


@transparency.get("/checkpoint", response_class=PlainTextResponse, responses=_RESPONSES)
def get_checkpoint(ctx: Ctx, _: AuditorActor) -> PlainTextResponse:
    """The latest signed checkpoint (c2sp.org/tlog-checkpoint), as kept; none is signed here."""
    note = _auditor(ctx).latest_note()
    if note is None:
        raise NotFound("no checkpoint has been signed yet", kind="checkpoint", ident="latest")
    return PlainTextResponse(note, media_type=_PLAIN)


@transparency.get("/verifier-key", response_class=PlainTextResponse, responses=_RESPONSES)
def get_verifier_key(ctx: Ctx, _: AuditorActor) -> PlainTextResponse:
    """The checkpoint key as a C2SP verifier key (``<origin>+<key id>+<base64 key>``)."""
    return PlainTextResponse(_auditor(ctx).verifier_key + "\n", media_type=_PLAIN)


@transparency.get("/consistency", response_class=PlainTextResponse, responses=_RESPONSES)
def get_consistency(
    ctx: Ctx,
    _: AuditorActor,
    first: Annotated[
        int, Query(alias="from", ge=1, le=_MAX_SIZE, description="The older signed size.")
    ],
    second: Annotated[
        int, Query(alias="to", ge=1, le=_MAX_SIZE, description="The newer signed size.")
    ],
) -> PlainTextResponse:
    """The RFC 9162 consistency proof from one signed checkpoint size to a larger one: one
    base64 hash per line (as c2sp.org/tlog-witness sends them); 404 for an unsigned size."""
    if first > second:
        raise HTTPException(400, f"from ({first}) is larger than to ({second})")
    proof = _auditor(ctx).proof(first, second)
    text = "".join(f"{base64.b64encode(node).decode()}\n" for node in proof)
    return PlainTextResponse(text, media_type=_PLAIN)
