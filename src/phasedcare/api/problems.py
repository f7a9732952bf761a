"""RFC 9457 problem details for every error: the refusal's reason travels unchanged."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from phasedcare import errors
from phasedcare.service.validation import error_place

__all__ = [
    "CASE_ERRORS",
    "COMMAND_ERRORS",
    "ERRORS",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE",
    "RETRY_AFTER_SECONDS",
    "STATUS",
    "Problem",
    "Unauthenticated",
    "documented",
    "handle_http_error",
    "handle_invalid_request",
    "problem",
    "problem_response",
    "status_of",
]


class Unauthenticated(errors.NotAuthorised):
    """No bearer token, or one that identifies nobody (HTTP 401)."""


PROBLEM_TYPE = "https://phasedcare.example/problems/"
"""Problem type URIs: this prefix and the kebab-cased error class."""

STATUS: dict[type[errors.PhasedCareError], int] = {
    Unauthenticated: 401,
    errors.StaleVersion: 412,
    errors.SignatureInvalid: 400,
    errors.PolicyError: 400,
    errors.InvalidInput: 422,
    errors.Erased: 410,
    errors.NotFound: 404,
    errors.TransitionRefused: 422,
    errors.Refused: 422,
    errors.NotAuthorised: 403,
    errors.ConcurrencyConflict: 409,
    errors.StoreError: 503,
}
"""HTTP status per error class, most specific first."""

PROBLEM_MEDIA_TYPE = "application/problem+json"

RETRY_AFTER_SECONDS = 2
"""The ``Retry-After`` of a 503: a restarted database answers again within seconds, and a
refused retry costs the server one failed connection attempt."""


class Problem(BaseModel):
    """RFC 9457 problem details; the members after ``detail`` appear when they apply."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    rule: str | None = None
    field: str | None = None
    case_id: str | None = None
    reasons: list[dict[str, str]] | None = None
    errors: list[dict[str, Any]] | None = None


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        400: "The body cannot be parsed, or a policy or a signature is invalid.",
        401: "No bearer token.",
        403: "The token identifies nobody, or the actor may not do this.",
        404: "No such case, handover or subscription, or none the actor may see.",
        409: "Another write to the case came first; read it again and retry.",
        410: "The case's personal data was erased.",
        412: "If-Match names a version of the case that is no longer current.",
        413: "The request body is too large.",
        422: "The request is invalid, or the rules refuse it (the reasons are given).",
        429: "Too many failed authentications from this address; try again after Retry-After.",
        503: "The database, or the identity provider's keys, cannot be read now.",
    }
    schema = Problem.model_json_schema()
    return {
        s: {"description": meaning[s], "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}}}
        for s in statuses
    }


ERRORS = documented(400, 401, 403, 413, 422, 429, 503)
"""The problem details every route with a token may answer."""

CASE_ERRORS = documented(400, 401, 403, 404, 410, 413, 422, 429, 503)
"""The problem details of a read of one case."""

COMMAND_ERRORS = documented(400, 401, 403, 404, 409, 410, 412, 413, 422, 429, 503)
"""The problem details of a command."""


def _kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


def problem(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem details object; ``extra`` members carry ids, rules and reasons only."""
    return {
        "type": PROBLEM_TYPE + _kebab(title.replace(" ", "")),
        "title": title,
        "status": status,
        "detail": detail,
        **{k: v for k, v in extra.items() if v is not None},
    }


def _members(exc: errors.PhasedCareError) -> dict[str, Any]:
    names = ("rule", "field", "case_id", "chart", "event", "state", "expected", "actual")
    found = {n: getattr(exc, n) for n in names if getattr(exc, n, None) is not None}
    reasons = getattr(exc, "reasons", None)
    if reasons:
        found["reasons"] = [{"rule": r, "reason": text} for r, text in reasons]
    return found


def status_of(exc: errors.PhasedCareError) -> int:
    """The HTTP status of one of phasedcare's errors (the API's and the console's)."""
    return next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 500)


def problem_response(exc: errors.PhasedCareError) -> JSONResponse:
    """The problem details response for one of phasedcare's errors."""
    status = status_of(exc)
    body = problem(status, type(exc).__name__, exc.message, **_members(exc))
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=_headers(status, exc)
    )


def _headers(status: int, exc: errors.PhasedCareError | None = None) -> dict[str, str] | None:
    """Where to authenticate (401), or when to try again (503: the database is away; never
    for a record that is not authentic, which no retry mends)."""
    if status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if status == 503 and not isinstance(exc, errors.NotAuthentic):
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return None


async def handle_error(_: Request, exc: Exception) -> JSONResponse:
    """Exception handler: phasedcare's errors become problem details."""
    assert isinstance(exc, errors.PhasedCareError)  # noqa: S101 - registered for this class
    return problem_response(exc)


def _located(loc: tuple[int | str, ...]) -> list[str]:
    """The parts of an error's location: body/query/header, the field, then positions."""
    return (
        [str(loc[0]), *error_place(tuple(loc[1:])).split(".")]
        if len(loc) > 1
        else list(map(str, loc))
    )


ID_SHAPE = "an id is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"


async def handle_invalid_request(_: Request, exc: Exception) -> JSONResponse:
    """Exception handler: a request that fails validation gets 422 problem details too; an id
    in the path that no id can be (an access stream's ``c-x~access``) gets 404, as a missing
    case does, before anything is loaded."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this class
    found = [  # where, as "body.items.*": a mapping's keys are the client's data, not repeated
        {"loc": _located(e["loc"]), "msg": str(e["msg"]), "type": str(e["type"])}
        for e in exc.errors()
    ]
    in_path = [e["loc"][1] for e in found if e["loc"][0] == "path" and len(e["loc"]) > 1]
    if in_path:  # an id no case, handover or subscription can have: nothing by that name
        detail = f"nothing can have the {in_path[0]} in the path: {ID_SHAPE}"
        body = problem(404, "NotFound", detail, errors=found)
        return JSONResponse(body, status_code=404, media_type=PROBLEM_MEDIA_TYPE)
    missing = [".".join(e["loc"][1:]) for e in found if e["type"] == "missing"]
    where = ".".join(found[0]["loc"]) if found else "request"
    detail = f"{where}: {found[0]['msg']}" if found else "the request is invalid"
    if missing:  # every missing part at once, e.g. a handover proposal's payload
        detail = f"the request is missing {', '.join(missing)}"
    body = problem(422, "InvalidRequest", detail, errors=found)
    return JSONResponse(body, status_code=422, media_type=PROBLEM_MEDIA_TYPE)


async def handle_http_error(_: Request, exc: Exception) -> JSONResponse:
    """Exception handler: the framework's own refusals (an unparsable body, an unknown path, a
    method not allowed) get problem details too, with their headers (``Allow``)."""
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for this class
    title = HTTPStatus(exc.status_code).phrase
    body = problem(exc.status_code, title, str(exc.detail))
    return JSONResponse(
        body, status_code=exc.status_code, media_type=PROBLEM_MEDIA_TYPE, headers=exc.headers
    )
