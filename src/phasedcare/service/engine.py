"""The Engine: the service layer every interface (Python, CLI, HTTP) goes through.

A command is authorised for its actor, the case is loaded by folding its events, the domain
decides, and the new records and the projection row are appended in one transaction. A
refused command writes nothing. Reads are authorised and logged with ids only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import structlog

from phasedcare.domain import commands as cmd
from phasedcare.domain import events as ev
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.case import CaseState, apply, fold
from phasedcare.domain.charts import CHARTS, options
from phasedcare.domain.context import DecisionContext
from phasedcare.domain.deadlines import deadlines
from phasedcare.domain.decisions import decide, open_case
from phasedcare.domain.events import DomainEvent
from phasedcare.domain.mda import CriterionResult, evaluate, signal_due
from phasedcare.domain.policy import OrganisationKind, RegionalPolicy
from phasedcare.domain.retention import RetentionDecision, retention
from phasedcare.domain.share_decisions import ReviewTask, review_task, use_break_glass
from phasedcare.errors import (
    Erased,
    InvalidInput,
    NotAuthorised,
    NotFound,
    PhasedCareError,
    Refused,
    StaleVersion,
)
from phasedcare.ledger.blind_index import BlindIndex
from phasedcare.ledger.bundle import case_bundle, ledger_bundle
from phasedcare.ledger.chain import GENESIS
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.records import StoredEvent
from phasedcare.ledger.verify import VerifyReport
from phasedcare.service.access import CASELOAD, AccessLog, refusal_detail
from phasedcare.service.audit import Auditor
from phasedcare.service.authorisation import (
    authorise_break_glass,
    authorise_command,
    authorise_handover_read,
    authorise_lookup,
    authorise_read,
    authorise_retention,
    authorise_review_tasks,
    known_actor,
)
from phasedcare.service.commands_api import CommandMethods
from phasedcare.service.notifications import TYPE_PREFIX, Notifier
from phasedcare.service.ports import (
    CaseFilter,
    CaseProjection,
    DeadlineFilter,
    DeadlineRow,
    EventStore,
    HandoverFilter,
    HandoverRow,
)
from phasedcare.service.projections import project
from phasedcare.service.subscriptions import WebhookSubscriptions
from phasedcare.service.views import (
    AccessView,
    CaseView,
    CommandResult,
    HandoverPayloadView,
    HistoryEntry,
    TransitionView,
    case_view,
    handover_payload_view,
    history_entry,
    transition_view,
)

__all__ = ["DEFAULT_BASE_URL", "Engine", "utc_now"]

_SYSTEM_SEARCHES = frozenset({"deadlines", "mda_candidates"})

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
"""Where webhook links point by default: ``phasedcare serve`` on this machine."""


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def _new_case_id() -> str:
    return f"c-{uuid.uuid4().hex[:16]}"


_CREATES = {
    ev.MemberRecorded: "member_id",
    ev.SafetyConditionAdded: "condition_id",
    ev.HandoverProposed: "handover_id",
    ev.ShareGranted: "share_id",
}


def _created_id(events: list[DomainEvent]) -> str | None:
    """The id of what the first event created (member, condition, assessment, handover)."""
    first = events[0]
    if isinstance(first, ev.RiskAssessmentRecorded):
        return first.assessment.assessment_id
    field = _CREATES.get(type(first))
    return None if field is None else str(getattr(first, field))


class Engine(CommandMethods):
    """Commands and queries over the cases of one region."""

    def __init__(
        self,
        *,
        store: EventStore,
        policy: RegionalPolicy,
        codec: RecordCodec,
        auditor: Auditor | None = None,
        clock: Callable[[], datetime] = utc_now,
        new_case_id: Callable[[], str] = _new_case_id,
        access_point: str = "python",
        blind_index: BlindIndex | None = None,
        notifier: Notifier | None = None,
        webhooks: WebhookSubscriptions | None = None,
    ) -> None:
        self._store = store
        self._policy = policy
        self._calendar = policy.working_days()
        self._clock = clock
        self._codec = codec
        self._auditor = auditor
        self._access = AccessLog(
            store=store,
            codec=codec,
            clock=clock,
            policy_version=policy.version,
            access_point=access_point,
        )
        self._index = blind_index
        self._notifier = notifier or Notifier(policy=policy, base_url=DEFAULT_BASE_URL)
        self._webhooks = webhooks
        self._new_case_id = new_case_id
        self._log = structlog.get_logger("phasedcare.engine")

    @property
    def policy(self) -> RegionalPolicy:
        """The regional policy commands are decided under."""
        return self._policy

    @property
    def auditor(self) -> Auditor | None:
        """Checkpoints and verification of this engine's ledger, when configured."""
        return self._auditor

    @property
    def webhooks(self) -> WebhookSubscriptions:
        """Webhook subscriptions of the organisations (needs a key provider)."""
        if self._webhooks is None:
            raise InvalidInput(
                "this engine has no webhook subscriptions configured", field="webhooks"
            )
        return self._webhooks

    @property
    def store(self) -> EventStore:
        """The event store (for tools such as rebuilds and benchmarks)."""
        return self._store

    def close(self) -> None:
        """Cancel a pending checkpoint and release the store's connections."""
        if self._auditor is not None:
            self._auditor.cancel()
        self._store.close()

    # -- commands ---------------------------------------------------------------------------

    def handle(
        self, command: cmd.Command, *, actor: Actor, expected_sequence: int | None = None
    ) -> CommandResult:
        """Authorise, decide and append one command; a refusal raises and writes nothing.

        ``expected_sequence`` (HTTP If-Match): refuse with StaleVersion, after authorisation,
        unless the case is at exactly that version.
        """
        name = type(command).__name__
        case_id = getattr(command, "case_id", None)
        try:
            result = self._handle(command, actor, expected_sequence)
        except PhasedCareError as exc:
            self._access.refusal(actor, case_id, name, exc)
            self._log.info(
                "command refused",
                command=name,
                case_id=case_id,
                organisation=actor.organisation,
                error=type(exc).__name__,
                rule=getattr(exc, "rule", None),
            )
            raise
        self._log.info(
            "command",
            command=name,
            case_id=result.case_id,
            sequence=result.sequence,
            organisation=actor.organisation,
            events=result.events,
        )
        if self._auditor is not None:
            self._auditor.after_commit()
        return result

    def _handle(
        self, command: cmd.Command, actor: Actor, expected_sequence: int | None
    ) -> CommandResult:
        ctx = self._context(actor)
        if isinstance(command, cmd.OpenCase):
            return self._open(command, ctx)
        if not isinstance(command, cmd.CaseCommand):
            raise InvalidInput(f"{type(command).__name__} is not a command", field="command")
        case, head = self._load_with_head(command.case_id)
        authorise_command(actor, command, case, self._policy)
        if expected_sequence is not None and expected_sequence != case.sequence:
            raise StaleVersion(
                case_id=case.case_id, expected=expected_sequence, actual=case.sequence
            )
        return self._commit(case, decide(case, command, ctx), head)

    def _open(self, command: cmd.OpenCase, ctx: DecisionContext) -> CommandResult:
        authorise_command(ctx.actor, command, None, self._policy)
        case_id = command.case_id or self._new_case_id()
        if self._store.projection(case_id) is not None:
            raise Refused(f"case {case_id} already exists", case_id=case_id, rule="case_exists")
        case = CaseState(case_id=case_id)
        return self._commit(case, open_case(case_id, command, ctx), GENESIS)

    def _context(self, actor: Actor) -> DecisionContext:
        now = self._clock()
        if now.tzinfo is None:
            msg = "the engine's clock must return timezone-aware datetimes"
            raise ValueError(msg)
        return DecisionContext(
            now=now.astimezone(UTC), actor=actor, policy=self._policy, calendar=self._calendar
        )

    def _commit(self, case: CaseState, events: list[DomainEvent], head: bytes) -> CommandResult:
        expected = case.sequence
        records = self._codec.encode(events, after_sequence=expected, previous=head)
        for event in events:
            apply(case, event)
        self._store.append(
            case_id=case.case_id,
            expected_sequence=expected,
            records=records,
            projection=project(case, self._policy, self._calendar),
            index=self._tokens(events),
            outbox=self._notifier.messages(case, events),
        )
        return CommandResult(
            case_id=case.case_id,
            sequence=case.sequence,
            events=[type(e).__name__ for e in events],
            created_id=_created_id(events),
        )

    def _tokens(self, events: list[DomainEvent]) -> list[bytes]:
        """Blind-index tokens of the members these events record."""
        if self._index is None:
            return []
        members = [e for e in events if isinstance(e, ev.MemberRecorded)]
        return [t for m in members for t in self._index.tokens(m.name, m.date_of_birth)]

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

    def _records(self, case_id: str, *, up_to: int | None = None) -> list[StoredEvent]:
        records = self._store.load(case_id)
        if not records:
            raise NotFound(f"case {case_id} does not exist", kind="case", ident=case_id)
        if records[-1].header.event_type == "CaseErased":
            [tombstone] = self._codec.decode(records[-1:])
            assert isinstance(tombstone, ev.CaseErased)  # noqa: S101 - by its header
            raise Erased(case_id=case_id, erased_on=str(tombstone.at.date()), rule=tombstone.rule)
        return records if up_to is None else records[:up_to]

    def _events(self, case_id: str, *, up_to: int | None = None) -> list[DomainEvent]:
        return self._codec.decode(self._records(case_id, up_to=up_to))

    def _load_with_head(self, case_id: str) -> tuple[CaseState, bytes]:
        """The case's state and the leaf hash of its last record (the chain's head)."""
        records = self._records(case_id)
        return fold(case_id, self._codec.decode(records)), records[-1].leaf_hash

    def _load(self, case_id: str) -> CaseState:
        return fold(case_id, self._events(case_id))

    # -- queries ----------------------------------------------------------------------------

    def _read(
        self, case_id: str, actor: Actor, query: str, *, up_to: int | None = None
    ) -> tuple[CaseState, list[DomainEvent]]:
        events = self._events(case_id, up_to=up_to)
        case = fold(case_id, events)
        try:
            today = self._clock().astimezone(UTC).date()
            basis = authorise_read(actor, case, self._policy, today=today)
        except NotAuthorised as exc:
            self._access.record(
                actor,
                case_id,
                action="read",
                query=query,
                outcome="denied",
                detail=refusal_detail(exc),
            )
            raise
        self._access.record(
            actor, case_id, action="read", query=query, outcome="allowed", basis=basis
        )
        self._log.info("read", query=query, case_id=case_id, organisation=actor.organisation)
        return case, events

    def break_glass(self, case_id: str, *, actor: Actor, reason: str) -> CaseView:
        """An emergency read by a professional without another basis, like :meth:`show`.

        The reason is sealed in a BreakGlassUsed event on the case, which opens a review for
        Veilig Thuis (due in five werkdagen); the access log marks the read as break-glass.
        """
        case, head = self._load_with_head(case_id)
        ctx = self._context(actor)
        try:
            authorise_break_glass(actor, case, self._policy, today=ctx.today, reason=reason)
        except NotAuthorised as exc:
            self._access.record(
                actor,
                case_id,
                action="read",
                query="break_glass",
                outcome="denied",
                detail=refusal_detail(exc),
            )
            raise
        self._commit(case, use_break_glass(case, reason, ctx), head)
        self._access.record(
            actor,
            case_id,
            action="read",
            query="break_glass",
            outcome="allowed",
            basis="break_glass",
            detail="break_glass",
        )
        self._log.info("break glass", case_id=case_id, organisation=actor.organisation)
        if self._auditor is not None:
            self._auditor.after_commit()
        return case_view(case, deadlines(case, self._policy, self._calendar), ctx.today)

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
                use = self._load(row.case_id).break_glass[row.ref]
            except Erased:  # the row outlived its case's key: nothing left to review
                continue
            tasks.append(review_task(row.case_id, use, due=row.due, escalated=row.escalated))
        return tasks

    def melder_feedback(self, *, actor: Actor) -> list[dict[str, Any]]:
        """The feedback sent to the actor's organisation as a melder (ids only), oldest first.

        Logged as a caseload search; it gives no right to read the cases themselves.
        """
        self._caseload_scope(actor, "melder_feedback")
        kind = TYPE_PREFIX + "melder.feedback"
        return [
            json.loads(m.body)["data"]
            for m in self._store.messages()
            if m.event_type == kind and actor.organisation in m.recipients
        ]

    # -- exports for auditors ---------------------------------------------------------------

    def export_case(self, case_id: str, *, actor: Actor) -> dict[str, Any]:
        """The case's sealed records with inclusion proofs against a fresh checkpoint."""
        self._read(case_id, actor, "export")
        checkpoint = self._require_auditor().checkpoint()
        assert checkpoint is not None  # noqa: S101 - the case has records
        leaves = self._store.tree_leaves()[: checkpoint.size]
        return case_bundle(
            self._store.load(case_id), leaves=leaves, note=checkpoint.note, origin=checkpoint.origin
        )

    def export_ledger(self, *, actor: Actor) -> dict[str, Any]:
        """A bundle of every record and checkpoint (auditors only; the export is logged)."""
        self._auditor_only(actor, action="export", query="export_ledger", what="export the ledger")
        auditor = self._require_auditor()
        auditor.checkpoint()
        return ledger_bundle(
            list(self._store.read_all()), notes=auditor.notes(), origin=auditor.origin
        )

    def verify_ledger(self, *, actor: Actor) -> VerifyReport:
        """Verify every record, the tree and every checkpoint (auditors only; logged)."""
        self._auditor_only(actor, action="read", query="verify_ledger", what="verify the ledger")
        return self._require_auditor().verify()

    def _auditor_only(self, actor: Actor, *, action: str, query: str, what: str) -> None:
        """Refuse (and log) anyone but an auditor; log the auditor's access."""
        known_actor(actor, self._policy)
        if actor.role is not Role.auditor:
            self._access.record(actor, CASELOAD, action=action, query=query, outcome="denied")
            raise NotAuthorised(
                f"{actor} is not authorised: only auditors {what}",
                actor=str(actor),
            )
        self._access.record(
            actor, CASELOAD, action=action, query=query, outcome="allowed", basis="auditor"
        )

    def _require_auditor(self) -> Auditor:
        if self._auditor is None:
            raise InvalidInput("this engine has no ledger auditor configured", field="auditor")
        return self._auditor

    # -- the access log (NEN 7513) ---------------------------------------------------------

    def access_history(self, case_id: str, *, actor: Actor) -> list[AccessView]:
        """Who looked at this case, on what basis, from where, and who was refused."""
        self._read(case_id, actor, "access_history")
        return self._access.entries(case_id)

    def show(self, case_id: str, *, actor: Actor) -> CaseView:
        """The case as it stands, with its deadlines judged today."""
        case, _ = self._read(case_id, actor, "show")
        today = self._clock().astimezone(UTC).date()
        return case_view(case, deadlines(case, self._policy, self._calendar), today)

    def handover(self, case_id: str, handover_id: str, *, actor: Actor) -> HandoverPayloadView:
        """One handover with its payload: what its receiver may see, and all it may see."""
        case = self._load(case_id)
        try:
            basis = authorise_handover_read(actor, case, handover_id, self._policy)
        except NotAuthorised as exc:
            self._access.record(
                actor,
                case_id,
                action="read",
                query="handover",
                outcome="denied",
                detail=refusal_detail(exc),
            )
            raise
        self._access.record(
            actor, case_id, action="read", query="handover", outcome="allowed", basis=basis
        )
        return handover_payload_view(case, handover_id)

    def handovers(self, *, actor: Actor, status: str | None = None) -> list[HandoverRow]:
        """Handovers the actor's organisation sends or receives (Veilig Thuis: all)."""
        organisation = self._caseload_scope(actor, "handovers")
        return self._store.handover_rows(HandoverFilter(organisation=organisation, status=status))

    def deadlines(
        self, *, actor: Actor, overdue: bool = False, kind: str | None = None
    ) -> list[DeadlineRow]:
        """Deadlines earliest first, escalated or not (``overdue``: only those passed today).

        Professionals outside Veilig Thuis see the deadlines their organisation must meet.
        """
        organisation = self._caseload_scope(actor, "deadlines")
        today = self._clock().astimezone(UTC).date()
        found = DeadlineFilter(
            responsible=organisation, due_before=today if overdue else None, kind=kind
        )
        return self._store.deadline_rows(found)

    def _caseload_scope(self, actor: Actor, query: str) -> str | None:
        """Log a caseload search; the organisation a non-VT professional is limited to."""
        known_actor(actor, self._policy)
        kind = self._policy.organisation(actor.organisation).kind
        limited = actor.role is Role.professional and kind is not OrganisationKind.veilig_thuis
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
        today = self._clock().astimezone(UTC).date()
        rows = self._store.projections(CaseFilter())
        open_rows = [r for r in rows if r.phase != "afgesloten"]
        return [
            r.case_id for r in open_rows if signal_due(self._load(r.case_id), self._policy, today)
        ]

    def mda_criteria(self, case_id: str, *, actor: Actor) -> list[CriterionResult]:
        """The policy's MDA++ entry criteria weighed on the case today."""
        case, _ = self._read(case_id, actor, "mda_criteria")
        return evaluate(case, self._policy, self._clock().astimezone(UTC).date())

    def history(self, case_id: str, *, actor: Actor) -> list[HistoryEntry]:
        """Every event of the case: when, who, under which policy version, and what."""
        _, events = self._read(case_id, actor, "history")
        return [history_entry(seq, event) for seq, event in enumerate(events, start=1)]

    def allowed(self, case_id: str, *, actor: Actor) -> list[TransitionView]:
        """Every event of both charts, whether it may fire now, and why not."""
        case, _ = self._read(case_id, actor, "allowed")
        ctx = self._context(actor)
        return [transition_view(o) for chart in CHARTS for o in options(chart, case, ctx)]

    def state_at(
        self, case_id: str, *, actor: Actor, sequence: int | None = None, at: datetime | None = None
    ) -> CaseState:
        """The case as it was after record ``sequence`` or at time ``at``: events applied, never
        decided again, so the answer is what the engine held then."""
        _, events = self._read(case_id, actor, "replay", up_to=sequence)
        if at is not None:
            events = [event for event in events if event.at <= at]
        return fold(case_id, events)

    def list_cases(
        self,
        *,
        actor: Actor,
        phase: str | None = None,
        organisation: str | None = None,
        deadline_before: date | None = None,
        limit: int | None = None,
    ) -> list[CaseProjection]:
        """The caseload: cases by regiehouder, phase and deadline (names never included).

        Professionals outside Veilig Thuis see only the cases their organisation holds.
        """
        organisation = self._caseload_scope(actor, "list") or organisation
        found = CaseFilter(
            organisation=organisation, phase=phase, deadline_before=deadline_before, limit=limit
        )
        return self._store.projections(found)

    # -- projections ------------------------------------------------------------------------

    def rebuilt_projections(self) -> list[CaseProjection]:
        """Every projection row computed afresh from the events (erased cases have none)."""
        rows = []
        for case_id in self._store.case_ids():
            try:
                rows.append(project(self._load(case_id), self._policy, self._calendar))
            except Erased:
                continue
        return rows

    # -- retention and crypto-shredding -----------------------------------------------------

    def run_retention(self, *, actor: Actor, dry_run: bool = False) -> list[RetentionDecision]:
        """Destroy the data keys of closed cases whose retention has ended; report every case.

        Only Veilig Thuis runs it. Each erasure appends an unsealed CaseErased record first,
        then destroys the key, so a crash in between is finished by the next run.
        """
        authorise_retention(actor, self._policy)
        today = self._clock().astimezone(UTC).date()
        decisions = []
        for case_id in self._store.case_ids():
            try:
                case, head = self._load_with_head(case_id)
            except Erased:
                self._store.destroy_case_key(case_id)  # finish an erasure a crash interrupted
                continue
            decision = retention(case, self._policy, today)
            if decision.due and not dry_run:
                self._erase(case, head, decision, actor)
            decisions.append(decision)
        return decisions

    def _erase(
        self, case: CaseState, head: bytes, decision: RetentionDecision, actor: Actor
    ) -> None:
        assert decision.keep_until is not None  # noqa: S101 - only due decisions get here
        tombstone = ev.CaseErased(
            case_id=case.case_id,
            at=self._clock().astimezone(UTC),
            actor=actor,
            policy_version=self._policy.version,
            rule=decision.rule,
            retained_until=decision.keep_until,
        )
        records = self._codec.encode(
            [tombstone], after_sequence=case.sequence, previous=head, seal_payload=False
        )
        self._store.append(
            case_id=case.case_id, expected_sequence=case.sequence, records=records, projection=None
        )
        self._store.destroy_case_key(case.case_id)
        self._codec.forget(case.case_id)
        self._log.info("case erased", case_id=case.case_id, rule=decision.rule)

    def rebuild_projections(self) -> int:
        """Replace the projection table by one rebuilt from the events; returns the row count."""
        count = self._store.replace_projections(self.rebuilt_projections())
        self._log.info("projections rebuilt", rows=count)
        return count

    def projection_differences(self) -> list[str]:
        """How the live projection rows differ from rows rebuilt from the events (empty: none)."""
        live = {p.case_id: p for p in self._store.projections(CaseFilter())}
        rebuilt = {p.case_id: p for p in self.rebuilt_projections()}
        lines = [f"{case_id}: live row missing" for case_id in rebuilt.keys() - live.keys()]
        lines += [f"{case_id}: row without events" for case_id in live.keys() - rebuilt.keys()]
        for case_id in sorted(live.keys() & rebuilt.keys()):
            if live[case_id] != rebuilt[case_id]:
                lines.append(f"{case_id}: live {live[case_id]} != rebuilt {rebuilt[case_id]}")
        return lines
