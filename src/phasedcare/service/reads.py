"""The read side of the Engine: every query, authorised and logged (NEN 7513) with ids only.

Mixed into :class:`~phasedcare.service.engine.Engine`, which sets the parts below. A read
folds the case's events (opened through the codec, which keeps what it opened), authorises
the actor on the case as it stands now (a replay too: it shows the past to whoever may read
the case today), and records the access before it answers; a search over many cases
(caseload lists, deadlines, handovers) is one entry on the caseload's stream. Every refusal
is recorded, a probe for a case that does not exist on the caseload's stream; an actor whose
organisation has no part in a case gets the answer a missing case gets. Pages of the
caseload are read from the projection tables in index order.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from phasedcare.domain import events as ev
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.calendar import WorkingDayCalendar
from phasedcare.domain.case import CaseState, fold
from phasedcare.domain.charts import CHARTS, options
from phasedcare.domain.context import DecisionContext
from phasedcare.domain.events import DomainEvent
from phasedcare.domain.mda import CriterionResult, evaluate, signal_due
from phasedcare.domain.obligations import ObligationBook, track
from phasedcare.domain.policy import OrganisationKind, RegionalPolicy
from phasedcare.domain.share_decisions import ReviewTask, review_task
from phasedcare.errors import (
    Erased,
    InvalidInput,
    NotAuthorised,
    NotFound,
    PhasedCareError,
)
from phasedcare.ledger.blind_index import BlindIndex
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.records import StoredEvent
from phasedcare.ledger.verify import VerifyReport
from phasedcare.service.access import CASELOAD, AccessLog, refusal_detail
from phasedcare.service.access_reports import AccessReports
from phasedcare.service.audit import Auditor
from phasedcare.service.authorisation import (
    audits,
    audits_region,
    authorise_handover_read,
    authorise_lookup,
    authorise_read,
    authorise_review_tasks,
    concealed,
    known_actor,
    unknown_case,
)
from phasedcare.service.notifications import TYPE_PREFIX
from phasedcare.service.obligation_books import ObligationBooks
from phasedcare.service.ports import (
    AcuteFirstCursor,
    CaseFilter,
    CaseProjection,
    DeadlineFilter,
    DeadlineRow,
    EventStore,
    HandoverCursor,
    HandoverFilter,
    HandoverRow,
)
from phasedcare.service.views import (
    AccessView,
    CaseView,
    HandoverPayloadView,
    HistoryEntry,
    ObligationView,
    TransitionView,
    case_view,
    handover_payload_view,
    history_entry,
    obligation_view,
    transition_view,
)

__all__ = ["CaseReads"]

_SYSTEM_SEARCHES = frozenset({"deadlines", "mda_candidates"})

_Row = TypeVar("_Row")


def _acute_first(rows: list[_Row], acute: Callable[[_Row], bool]) -> list[_Row]:
    """The rows with the acute ones first, each group in its own order (Veilig Thuis's
    lists: an acute melding is assessed within hours, domain.md 2.2)."""
    return sorted(rows, key=lambda row: not acute(row))


class CaseReads(AccessReports, ABC):
    """Queries over the cases of one region (the Engine's read side)."""

    _store: EventStore
    _policy: RegionalPolicy
    _calendar: WorkingDayCalendar
    _books: ObligationBooks
    _clock: Callable[[], datetime]
    _codec: RecordCodec
    _auditor: Auditor | None
    _access: AccessLog
    _index: BlindIndex | None
    _log: Any

    @abstractmethod
    def _context(self, actor: Actor) -> DecisionContext:
        """The decision context of ``actor`` now (the Engine's clock and policy)."""

    def find_known_household(
        self, *, actor: Actor, name: str, date_of_birth: date | None = None
    ) -> list[str]:
        """Cases with a member of this name (and date of birth), without any name stored in clear.

        Veilig Thuis uses it to link a new melding to a household it knows; the search is logged.
        """
        authorise_lookup(actor, self._policy)
        if self._index is None:
            raise InvalidInput("this engine has no blind index configured", field="blind_index")
        if not name.strip():
            raise InvalidInput("a name is needed to look up a household", field="name")
        self._access.record(
            actor,
            CASELOAD,
            action="search",
            query="known_household",
            outcome="allowed",
            basis="veilig_thuis",
        )
        return self._store.find_by_token(self._index.query(name, date_of_birth))

    def _records(self, case_id: str) -> list[StoredEvent]:
        records = self._store.load(case_id)
        if not records:
            raise unknown_case(case_id)
        if records[-1].header.event_type == "CaseErased":
            [tombstone] = self._codec.decode(records[-1:])
            assert isinstance(tombstone, ev.CaseErased)  # noqa: S101 - by its header
            self._codec.forget(case_id)  # erased elsewhere: drop what this process opened
            erased_on = str(self._policy.local_date(tombstone.at))
            raise Erased(case_id=case_id, erased_on=erased_on, rule=tombstone.rule)
        return records

    def _events(self, case_id: str) -> list[DomainEvent]:
        return self._codec.decode(self._records(case_id))

    def _load_with_head(self, case_id: str) -> tuple[CaseState, bytes]:
        """The case's state and the leaf hash of its last record (the chain's head)."""
        records = self._records(case_id)
        return fold(case_id, self._codec.decode(records)), records[-1].leaf_hash

    def _load(self, case_id: str) -> CaseState:
        return fold(case_id, self._events(case_id))

    def _tracked(self, case_id: str, events: list[DomainEvent]) -> tuple[CaseState, ObligationBook]:
        """The case's state and its obligations, folded from its events."""
        return track(case_id, events, self._policy, self._calendar)

    def _tracked_with_head(self, case_id: str) -> tuple[CaseState, ObligationBook, bytes]:
        """The case's state, its obligations and the leaf hash of its last record (the book
        from :class:`~phasedcare.service.obligation_books.ObligationBooks`: a command folds
        only the events since it was last seen)."""
        records = self._records(case_id)
        case, book = self._books.track(case_id, records, self._codec.decode(records))
        return case, book, records[-1].leaf_hash

    def _read(self, case_id: str, actor: Actor, query: str) -> tuple[CaseState, list[DomainEvent]]:
        """The case as it stands now and its events, once ``actor`` may read it (logged)."""
        case, events = self._existing(case_id, actor, query)
        try:
            basis = authorise_read(actor, case, self._policy, today=self._today())
        except NotAuthorised as exc:
            raise self._refused(actor, case, query, exc) from None
        self._access.record(
            actor, case_id, action="read", query=query, outcome="allowed", basis=basis
        )
        self._log.info("read", query=query, case_id=case_id, organisation=actor.organisation)
        return case, events

    def _existing(
        self, case_id: str, actor: Actor, query: str
    ) -> tuple[CaseState, list[DomainEvent]]:
        """The case and its events for an actor the region knows; a probe for a case that
        does not exist, and an actor the region does not know, are logged (and answered
        alike whether the case exists or not)."""
        try:
            known_actor(actor, self._policy)
            events = self._events(case_id)
        except Erased:
            raise
        except (NotAuthorised, NotFound) as exc:
            self._access.denial(actor, case_id, query, exc)
            raise
        return fold(case_id, events), events

    def _refused(
        self, actor: Actor, case: CaseState, query: str, exc: PhasedCareError
    ) -> PhasedCareError:
        """Log a refused read of ``case``; what to raise (the missing case's answer to an
        actor whose organisation has no part in it)."""
        self._access.denial(actor, case.case_id, query, exc)
        return concealed(exc, actor, case, self._policy)

    def _today(self) -> date:
        """Today's date in the region's time zone, by the engine's clock."""
        return self._policy.local_date(self._clock())

    def log_refused_actor(
        self, actor: Actor, *, case_id: str | None, action: str, query: str, exc: NotAuthorised
    ) -> None:
        """Log a request refused before it reached a read or a command (an authentic token
        naming an actor the region does not know), as the read or command would log it."""
        if action == "command":
            self._access.refusal(actor, case_id, query, exc)
        else:
            self._access.denial(actor, case_id, query, exc)

    def review_tasks(self, *, actor: Actor) -> list[ReviewTask]:
        """Unreviewed break-glass uses of the region, earliest due first (ids, who, when).

        Veilig Thuis professionals and auditors only; the search is logged.
        """
        try:
            basis = authorise_review_tasks(actor, self._policy)
        except NotAuthorised as exc:
            self._access.record(
                actor,
                CASELOAD,
                action="search",
                query="review_tasks",
                outcome="denied",
                detail=refusal_detail(exc),
            )
            raise
        self._access.record(
            actor, CASELOAD, action="search", query="review_tasks", outcome="allowed", basis=basis
        )
        tasks = []
        for row in self._store.deadline_rows(DeadlineFilter(kind="break_glass_review")):
            try:
                case = self._load(row.case_id)
            except Erased:  # the row outlived its case's key: nothing left to review
                continue
            if actor.role is Role.auditor and not audits(actor, case, self._policy):
                continue
            use = case.break_glass[row.ref]
            tasks.append(review_task(row.case_id, use, due=row.due, escalated=row.escalated))
        return tasks

    def melder_feedback(self, *, actor: Actor) -> list[dict[str, Any]]:
        """The feedback sent to the actor's organisation as a melder (ids only), oldest first.

        Logged as a caseload search; it gives no right to read the cases themselves.
        """
        self._caseload_scope(actor, "melder_feedback")
        sent = self._store.messages(
            event_type=TYPE_PREFIX + "melder.feedback", recipient=actor.organisation
        )
        return [json.loads(m.body)["data"] for m in sent]

    def export_case(self, case_id: str, *, actor: Actor) -> dict[str, Any]:
        """The case's sealed records under a signed checkpoint, with inclusion proofs and
        the proof that its last record is the case's head there (complete as of that
        checkpoint; exports sign at most once per interval, :meth:`Auditor.case_bundle`)."""
        self._read(case_id, actor, "export")
        return self._require_auditor().case_bundle(case_id)

    def export_ledger(self, *, actor: Actor) -> dict[str, Any]:
        """A bundle of every record under a signed checkpoint, and the checkpoints (auditors
        of the whole region only; the export is logged): it names every case of the region,
        sealed as they are. Exports sign at most once per interval
        (:meth:`Auditor.ledger_bundle`)."""
        what = "of the whole region export the ledger"
        self._auditor_only(actor, action="export", query="export_ledger", what=what, region=True)
        return self._require_auditor().ledger_bundle()

    def verify_ledger(self, *, actor: Actor) -> VerifyReport:
        """Verify every record, the tree and every checkpoint (auditors only; logged).

        A live ledger always has a tail no checkpoint covers yet (this very access, for one):
        it is counted in ``unanchored``, not failed; ``phasedcare audit verify`` is strict."""
        self._auditor_only(actor, action="read", query="verify_ledger", what="verify the ledger")
        return self._require_auditor().verify(allow_unanchored=True)

    def _auditor_only(
        self, actor: Actor, *, action: str, query: str, what: str, region: bool = False
    ) -> None:
        """Refuse (and log) anyone but an auditor (with ``region``: of the whole region); log
        the auditor's access."""
        known_actor(actor, self._policy)
        allowed = audits_region(actor, self._policy) if region else actor.role is Role.auditor
        if not allowed:
            self._access.record(actor, CASELOAD, action=action, query=query, outcome="denied")
            raise NotAuthorised(
                f"{actor} is not authorised: only auditors {what}",
                actor=str(actor),
            )
        self._access.record(
            actor, CASELOAD, action=action, query=query, outcome="allowed", basis="auditor"
        )

    def authorise_witness_read(self, actor: Actor, *, query: str) -> None:
        """Let an auditor read what witnesses read (the latest checkpoint, the verifier key,
        consistency proofs: hashes and signatures only). Those reads are not logged, so a
        witness polling every minute adds no record; a refusal is, as a denied read on the
        caseload's stream.

        Raises:
            NotAuthorised: the actor is no auditor, or its organisation is not the region's.
        """
        try:
            known_actor(actor, self._policy)
            if actor.role is not Role.auditor:
                msg = f"{actor} is not authorised: only auditors read the ledger's checkpoints"
                raise NotAuthorised(msg, actor=str(actor))
        except NotAuthorised as exc:
            self._access.denial(actor, None, query, exc)
            raise

    def _require_auditor(self) -> Auditor:
        if self._auditor is None:
            raise InvalidInput("this engine has no ledger auditor configured", field="auditor")
        return self._auditor

    def access_history(self, case_id: str, *, actor: Actor) -> list[AccessView]:
        """Who looked at this case, on what basis, from where, and who was refused."""
        self._read(case_id, actor, "access_history")
        return self._access.entries(case_id)

    def show(self, case_id: str, *, actor: Actor) -> CaseView:
        """The case as it stands, with its open obligations as its deadlines judged today:
        what it runs against now and what it still owes after moving on without it."""
        _, events = self._read(case_id, actor, "show")
        case, book = self._tracked(case_id, events)
        now = self._clock().astimezone(UTC)
        return case_view(
            case, [o.as_deadline() for o in book.open], self._policy.local_date(now), now
        )

    def handover(self, case_id: str, handover_id: str, *, actor: Actor) -> HandoverPayloadView:
        """One handover with its payload: what its receiver may see, and all it may see."""
        case, _ = self._existing(case_id, actor, "handover")
        try:
            basis = authorise_handover_read(actor, case, handover_id, self._policy)
        except (NotAuthorised, NotFound) as exc:
            raise self._refused(actor, case, "handover", exc) from None
        self._access.record(
            actor, case_id, action="read", query="handover", outcome="allowed", basis=basis
        )
        return handover_payload_view(case, handover_id)

    def handovers(
        self,
        *,
        actor: Actor,
        status: str | None = None,
        after: HandoverCursor | None = None,
        limit: int | None = None,
    ) -> list[HandoverRow]:
        """Handovers the actor's organisation sends or receives (Veilig Thuis: all), by
        response date; a page of ``limit`` after the cursor (a row's ``handover_cursor``)."""
        organisation = self._caseload_scope(actor, "handovers")
        found = HandoverFilter(organisation=organisation, status=status, after=after, limit=limit)
        return self._store.handover_rows(found)

    def deadlines(
        self,
        *,
        actor: Actor,
        overdue: bool = False,
        kind: str | None = None,
        after: AcuteFirstCursor | None = None,
        limit: int | None = None,
    ) -> list[DeadlineRow]:
        """Deadlines, acute ones (due at a moment) first, then earliest first, escalated or not
        (``overdue``: only those passed now: by day, or an acute one by its moment); a page of
        ``limit`` after the cursor (the last row's ``acute_first_cursor``).

        Professionals outside Veilig Thuis see the deadlines their organisation must meet.
        """
        organisation = self._caseload_scope(actor, "deadlines")
        now = self._clock().astimezone(UTC)
        found = DeadlineFilter(
            responsible=organisation,
            due_before=self._policy.local_date(now) if overdue else None,
            due_at_before=now if overdue else None,
            kind=kind,
            limit=limit,
        )
        if limit is None:
            return _acute_first(self._store.deadline_rows(found), lambda r: r.due_at is not None)
        in_acute = after is None or after[0]
        rows = []
        if in_acute:
            acute = replace(found, acute=True, after=None if after is None else after[1:])
            rows = self._store.deadline_rows(acute)
        if len(rows) < limit:
            rest_after = None if in_acute or after is None else after[1:]
            rest = replace(found, acute=False, after=rest_after, limit=limit - len(rows))
            rows += self._store.deadline_rows(rest)
        return rows

    def _caseload_scope(self, actor: Actor, query: str) -> str | None:
        """Log a caseload search; the organisation a non-VT professional, or an auditor not of
        the whole region, is limited to."""
        known_actor(actor, self._policy)
        kind = self._policy.organisation(actor.organisation).kind
        if actor.role is Role.integration_admin:  # it manages webhooks and reads no case
            self._access.record(actor, CASELOAD, action="search", query=query, outcome="denied")
            msg = f"{actor} is not authorised: the role {actor.role} reads no cases"
            raise NotAuthorised(msg, actor=str(actor))
        limited = actor.role is Role.professional and kind is not OrganisationKind.veilig_thuis
        limited = limited or (actor.role is Role.auditor and not audits_region(actor, self._policy))
        if actor.role is Role.system:
            self._system_search(actor, query)
            limited = False
        self._access.record(
            actor, CASELOAD, action="search", query=query, outcome="allowed", basis=str(kind)
        )
        self._log.info("read", query=query, organisation=actor.organisation)
        return actor.organisation if limited else None

    def _system_search(self, actor: Actor, query: str) -> None:
        """The sweeps search deadlines and MDA++ candidates, as the region's Veilig Thuis."""
        if query in _SYSTEM_SEARCHES and actor.organisation == self._policy.veilig_thuis.id:
            return
        self._access.record(actor, CASELOAD, action="search", query=query, outcome="denied")
        msg = f"{actor} is not authorised: the system searches only deadlines and MDA++ candidates"
        raise NotAuthorised(msg, actor=str(actor))

    def mda_candidates(self, *, actor: Actor) -> list[str]:
        """Open cases not at MDA++, never signalled, whose entry criteria are met today.

        One caseload search in the access log; the cases are folded, never shown.
        """
        self._caseload_scope(actor, "mda_candidates")
        today = self._today()
        rows = self._store.projections(CaseFilter())
        open_rows = [r for r in rows if r.phase != "afgesloten"]
        return [
            r.case_id for r in open_rows if signal_due(self._load(r.case_id), self._policy, today)
        ]

    def mda_criteria(self, case_id: str, *, actor: Actor) -> list[CriterionResult]:
        """The policy's MDA++ entry criteria weighed on the case today."""
        case, _ = self._read(case_id, actor, "mda_criteria")
        return evaluate(case, self._policy, self._today())

    def history(self, case_id: str, *, actor: Actor) -> list[HistoryEntry]:
        """Every event of the case: when, who, under which policy version, and what."""
        _, events = self._read(case_id, actor, "history")
        return [history_entry(seq, event) for seq, event in enumerate(events, start=1)]

    def obligations(
        self, case_id: str, *, actor: Actor, overdue: bool = False
    ) -> list[ObligationView]:
        """Every obligation of the case, open or ended, in the order opened (``overdue``: only
        the open ones past their due date now)."""
        _, events = self._read(case_id, actor, "obligations")
        now = self._clock().astimezone(UTC)
        today = self._policy.local_date(now)
        _, book = self._tracked(case_id, events)
        views = [obligation_view(case_id, o, today, now) for o in book.obligations]
        return [v for v in views if v.overdue] if overdue else views

    def open_obligations(self, *, actor: Actor, overdue: bool = False) -> list[ObligationView]:
        """The open obligations of the caseload, acute ones first, then earliest due
        (``overdue``: only those past their due date now); each case's book as last kept.

        The deadline rows (the open obligations, read from their index) say which cases to
        fold: only those with a matching one. Professionals outside Veilig Thuis see the
        obligations their organisation must meet.
        """
        organisation = self._caseload_scope(actor, "obligations")
        now = self._clock().astimezone(UTC)
        today = self._policy.local_date(now)
        rows = self._store.deadline_rows(
            DeadlineFilter(
                responsible=organisation,
                due_before=today if overdue else None,
                due_at_before=now if overdue else None,
            )
        )
        found = []
        for case_id in sorted({row.case_id for row in rows}):
            try:
                _, book, _ = self._tracked_with_head(case_id)
            except Erased:
                continue
            found += [
                obligation_view(case_id, o, today, now)
                for o in book.open
                if organisation is None or o.responsible == organisation
            ]
        found = [v for v in found if v.overdue] if overdue else found
        found.sort(key=lambda v: (v.due, v.case_id, v.id))
        return _acute_first(found, lambda v: v.due_at is not None)

    def allowed(self, case_id: str, *, actor: Actor) -> list[TransitionView]:
        """Every event of both charts, whether it may fire now, and why not."""
        _, events = self._read(case_id, actor, "allowed")
        case, book = self._tracked(case_id, events)
        ctx = replace(self._context(actor), open_obligations=tuple(book.open))
        return [transition_view(o) for chart in CHARTS for o in options(chart, case, ctx)]

    def state_at(
        self, case_id: str, *, actor: Actor, sequence: int | None = None, at: datetime | None = None
    ) -> CaseState:
        """The case as it was after record ``sequence`` or at time ``at``: events applied, never
        decided again, so the answer is what the engine held then.

        Whoever may read the case today may replay it; a revoked share or a regie handed away
        ends the access to its past too. A moment before the case was opened is refused.
        """
        _, events = self._read(case_id, actor, "replay")
        if sequence is not None:
            events = events[: max(sequence, 0)]
        if at is not None:
            events = [event for event in events if event.at <= at]
        if not events:
            when = f"sequence {sequence}" if at is None else at.isoformat()
            field = "sequence" if at is None else "at"
            raise InvalidInput(f"case {case_id} did not exist yet at {when}", field=field)
        return fold(case_id, events)

    def list_cases(
        self,
        *,
        actor: Actor,
        phase: str | None = None,
        organisation: str | None = None,
        deadline_before: date | None = None,
        limit: int | None = None,
        after_case_id: str | None = None,
    ) -> list[CaseProjection]:
        """The caseload: cases by regiehouder, phase and deadline (names never included),
        acute cases first, each part by case id; a page of ``limit`` after the cursor
        ``after_case_id`` (the last case of the page before).

        Professionals outside Veilig Thuis see only the cases their organisation holds.
        """
        organisation = self._caseload_scope(actor, "list") or organisation
        found = CaseFilter(
            organisation=organisation,
            phase=phase,
            deadline_before=deadline_before,
            limit=limit,
            after_case_id=after_case_id,
        )
        if limit is None:
            return _acute_first(self._store.projections(found), lambda p: p.acute)
        last = None if after_case_id is None else self._store.projection(after_case_id)
        in_acute = after_case_id is None or (last is not None and last.acute)
        rows = []
        if in_acute:
            rows = self._store.projections(replace(found, acute=True))
        if len(rows) < limit:
            rest_after = None if in_acute else after_case_id
            rest = replace(found, acute=False, after_case_id=rest_after, limit=limit - len(rows))
            rows += self._store.projections(rest)
        return rows
