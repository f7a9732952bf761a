"""The access log (NEN 7513): every read, search, export and refusal as a ledger record.

Entries go to the subject's access stream (``<case>~access``, or ``~caseload~access`` for
searches), sealed and chained like events, and in the Merkle tree. Writing the entry is part
of the read: a read whose entry cannot be written fails. Each entry says from where: the
engine's access point (python, cli, http) and, for an HTTP request, the client's address
(:func:`accesses_come_from`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

from phasedcare.domain import events as ev
from phasedcare.domain.actors import Actor
from phasedcare.errors import ConcurrencyConflict, PhasedCareError
from phasedcare.ledger.chain import GENESIS
from phasedcare.ledger.codec import RecordCodec
from phasedcare.service.ports import EventStore
from phasedcare.service.views import AccessView, access_view

__all__ = ["CASELOAD", "AccessLog", "access_stream", "accesses_come_from", "refusal_detail"]

CASELOAD = "~caseload"
"""The subject of searches and exports over many cases."""

_RETRIES = 8
_CLIENT: ContextVar[str] = ContextVar("phasedcare_access_client", default="")


def accesses_come_from(client: str) -> None:
    """Record ``client`` (a network address) as where the accesses of the current request
    come from, in every entry it logs. The HTTP API calls it once per request; a context
    variable keeps it to that request (and the threads it runs its work in)."""
    _CLIENT.set(client[:64])


def access_stream(subject: str) -> str:
    """The stream id of a subject's access log."""
    return f"{subject}~access"


def refusal_detail(exc: PhasedCareError) -> str:
    """What a refusal was, without any data: the error class and the rule."""
    rule = getattr(exc, "rule", None)
    return type(exc).__name__ + (f":{rule}" if rule else "")


class AccessLog:
    """Appends and reads access entries for one engine."""

    def __init__(
        self,
        *,
        store: EventStore,
        codec: RecordCodec,
        clock: Callable[[], datetime],
        policy_version: str,
        access_point: str,
        written: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._written = written  # after each entry: the checkpoint schedule, as for commands
        self._codec = codec
        self._clock = clock
        self._policy_version = policy_version
        self._access_point = access_point

    def record(
        self,
        actor: Actor,
        subject: str,
        *,
        action: str,
        query: str,
        outcome: str,
        basis: str = "",
        detail: str = "",
    ) -> None:
        """Append one entry to the subject's access stream, retrying when readers race."""
        stream = access_stream(subject)
        entry = ev.AccessRecorded(
            case_id=stream,
            at=self._clock().astimezone(UTC),
            actor=actor,
            policy_version=self._policy_version,
            subject=subject,
            action=action,
            query=query,
            outcome=outcome,
            legal_basis=basis,
            access_point=self._access_point,
            detail=detail,
            client=_CLIENT.get(),
        )
        sequence = 0
        for _ in range(_RETRIES):
            sequence, previous = self._store.head(stream) or (0, GENESIS)
            records = self._codec.encode([entry], after_sequence=sequence, previous=previous)
            try:
                self._store.append(
                    case_id=stream, expected_sequence=sequence, records=records, projection=None
                )
            except ConcurrencyConflict:
                continue
            if self._written is not None:
                self._written()
            return
        raise ConcurrencyConflict(case_id=stream, expected=sequence)

    def refusal(
        self, actor: Actor, case_id: str | None, command: str, exc: PhasedCareError
    ) -> None:
        """A refused command: in the case's log when the case exists, else the caseload's."""
        self._refused(actor, case_id, exc, action="command", query=command, outcome="refused")

    def denial(self, actor: Actor, case_id: str | None, query: str, exc: PhasedCareError) -> None:
        """A refused read: in the case's log when the case exists, else the caseload's (a
        probe for a case that does not exist names no case, so nothing the prober typed)."""
        self._refused(actor, case_id, exc, action="read", query=query, outcome="denied")

    def _refused(
        self,
        actor: Actor,
        case_id: str | None,
        exc: PhasedCareError,
        *,
        action: str,
        query: str,
        outcome: str,
    ) -> None:
        self.record(
            actor,
            self._subject(case_id),
            action=action,
            query=query,
            outcome=outcome,
            detail=refusal_detail(exc),
        )

    def _subject(self, case_id: str | None) -> str:
        """The case, when it exists and is a case (not one of the ledger's ``~`` streams);
        else the caseload."""
        if case_id is None or "~" in case_id or self._store.head(case_id) is None:
            return CASELOAD
        return case_id

    def entries(self, case_id: str) -> list[AccessView]:
        """The case's access log, oldest first."""
        records = self._store.load(access_stream(case_id))
        return [access_view(seq, e) for seq, e in enumerate(self._codec.decode(records), start=1)]
