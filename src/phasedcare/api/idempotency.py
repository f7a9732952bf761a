"""Idempotency-Key: a retried command returns its first result and writes nothing new.

The first result is stored per (actor, key) with a keyed digest of the request, in the
command's own transaction: a retry after a crash or a database outage finds the result exactly
when the command was written, and runs it again exactly when it was not. The same key with
another request is refused. Two concurrent requests with one key cannot both write: commands
on a case race on the case's sequence (one gets 409, or the stored result), and an OpenCase
takes its case id from a keyed digest of the actor and the key (:func:`derived_case_id`), so
the second finds the case taken, and nobody can tell a case's id from the key in advance.

The digest is an HMAC under a key kept outside the database (:meth:`Engine.request_digest`),
so a leaked row confirms no guessed name. A record names its case and is erased with it; it
expires after the engine's TTL (24 hours by default), and a retry after that runs as new.

An empty or blank key is refused (422) before anything runs: taken as the key ``""`` it would
make every such request of an actor a retry of the first one.
"""

from __future__ import annotations

from typing import Any

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor
from phasedcare.errors import ConcurrencyConflict, InvalidInput, Refused
from phasedcare.service.engine import Engine
from phasedcare.service.ports import IdempotencyRecord
from phasedcare.service.validation import make_command
from phasedcare.service.views import CommandResult

__all__ = ["derived_case_id", "request_hash", "run_once"]

_CASE_ID_LABEL = "phasedcare-case-id-v1"


def request_hash(engine: Engine, method: str, path: str, fields: dict[str, Any]) -> str:
    """A keyed digest of what was asked, to tell a retry from a reuse of the key."""
    text = f"{method} {path} {sorted((k, repr(v)) for k, v in fields.items())}"
    return engine.request_digest(text.encode())


def derived_case_id(engine: Engine, actor: Actor, key: str) -> str:
    """The id of the case an OpenCase under this actor's Idempotency-Key opens: the same on
    every retry and every server of the region, and keyed (an HMAC under the request-digest
    key of the key folder, :meth:`Engine.request_digest`, over a labelled text unlike any
    request's), so whoever knows the actor and the key still cannot compute it."""
    return "c-" + engine.request_digest(f"{_CASE_ID_LABEL}\n{actor}\n{key}".encode())[:16]


def _stored(record: IdempotencyRecord, digest: str) -> CommandResult:
    if record.request_hash != digest:
        msg = "this Idempotency-Key was used for another request; use a new key"
        raise InvalidInput(msg, field="Idempotency-Key")
    return CommandResult.model_validate_json(record.response_body)


def run_once(
    engine: Engine,
    *,
    actor: Actor,
    command_type: type[cmd.Command],
    fields: dict[str, Any],
    key: str,
    path: str,
    expected: int | None = None,
) -> CommandResult:
    """Run the command unless this actor's key already has a result; return that result."""
    if not key.strip():
        msg = "Idempotency-Key is empty: send a unique key per request (a UUID), or no header"
        raise InvalidInput(msg, field="Idempotency-Key")
    digest = request_hash(engine, "POST", path, fields)
    found = engine.idempotency_record(actor, key)
    if found is not None:
        return _stored(found, digest)
    if command_type is cmd.OpenCase and "case_id" not in fields:
        fields = {**fields, "case_id": derived_case_id(engine, actor, key)}

    def remember(result: CommandResult) -> IdempotencyRecord:
        return IdempotencyRecord(
            key=key,
            actor=str(actor),
            method="POST",
            path=path,
            request_hash=digest,
            status=200,
            response_body=result.model_dump_json().encode(),
            created_at=engine.now(),
            case_id=result.case_id,
        )

    try:
        command = make_command(command_type, **fields)
        return engine.handle(command, actor=actor, expected_sequence=expected, remember=remember)
    except (Refused, ConcurrencyConflict):
        again = engine.idempotency_record(actor, key)
        if again is not None:
            return _stored(again, digest)
        raise
