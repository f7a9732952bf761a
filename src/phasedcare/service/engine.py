"""The Engine: the service layer every interface (Python, CLI, HTTP) goes through.

A command is authorised for its actor, the case is loaded by folding its events, the domain
decides, and the new records and the projection row are appended in one transaction. A
refused command writes nothing. Reads are authorised and logged with ids only: they live in
:mod:`phasedcare.service.reads` (``CaseReads``), the command methods in
:mod:`phasedcare.service.commands_api`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import structlog

from phasedcare.domain import commands as cmd
from phasedcare.domain import events as ev
from phasedcare.domain.actors import Actor
from phasedcare.domain.case import CaseState, apply
from phasedcare.domain.context import DecisionContext
from phasedcare.domain.deadlines import deadlines
from phasedcare.domain.decisions import decide, open_case
from phasedcare.domain.events import DomainEvent
from phasedcare.domain.obligations import ObligationBook, record
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.domain.retention import RetentionDecision, retention
from phasedcare.domain.share_decisions import break_glass_reason, use_break_glass
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
from phasedcare.ledger.chain import GENESIS
from phasedcare.ledger.codec import RecordCodec
from phasedcare.service.access import AccessLog
from phasedcare.service.api_keys import TokenDigest, keep_token_digest
from phasedcare.service.audit import Auditor
from phasedcare.service.authorisation import (
    authorise_break_glass,
    authorise_breaking_glass,
    authorise_command,
    authorise_retention,
    concealed,
    known_actor,
)
from phasedcare.service.break_glass import break_glass_day_token, break_glass_tokens
from phasedcare.service.commands_api import CommandMethods
from phasedcare.service.importing import DEFAULT_BATCH_SIZE, Importer, ImportReport
from phasedcare.service.notifications import Notifier
from phasedcare.service.obligation_books import ObligationBooks
from phasedcare.service.ports import (
    Append,
    CaseFilter,
    CaseProjection,
    EventStore,
    IdempotencyRecord,
    OutboxMessage,
)
from phasedcare.service.projections import project
from phasedcare.service.reads import CaseReads
from phasedcare.service.subscriptions import WebhookSubscriptions
from phasedcare.service.views import (
    CaseView,
    CommandResult,
    case_view,
)

__all__ = ["DEFAULT_BASE_URL", "IDEMPOTENCY_TTL", "Engine", "Remember", "utc_now"]

Remember = Callable[[CommandResult], IdempotencyRecord]
"""Turns a command's result into the idempotency record stored with it (HTTP)."""

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
"""Where webhook links point by default: ``phasedcare serve`` on this machine."""

IDEMPOTENCY_TTL = timedelta(hours=24)
"""How long an idempotency record answers retries by default; then it is deleted."""


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


def _moments(command: cmd.Command) -> dict[str, str]:
    """The moments a command was given for its log line: when a melding was received, if
    the professional said so (a time, never anything about the household)."""
    received = getattr(command, "received_at", None)
    if not isinstance(received, datetime):
        return {}
    return {"received_at": received.astimezone(UTC).isoformat()}


class Engine(CommandMethods, CaseReads):
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
        idempotency_ttl: timedelta = IDEMPOTENCY_TTL,
    ) -> None:
        self._store = store
        self._policy = policy
        self._calendar = policy.working_days()
        self._books = ObligationBooks(policy, self._calendar)
        self._clock = clock
        self._codec = codec
        self._auditor = auditor
        codec.on_forget(self._books.forget)
        if auditor is not None:
            codec.judge_legacy_tombstones_by(auditor.legacy_cover)
            auditor.after_each_checkpoint(codec.drop_destroyed)
        self._access = AccessLog(
            store=store,
            codec=codec,
            clock=clock,
            policy_version=policy.version,
            access_point=access_point,
            written=None if auditor is None else auditor.after_commit,
        )
        self._index = blind_index
        self._requests = blind_index or BlindIndex.generate()  # request digests' key
        keep_token_digest(store, TokenDigest.of_index(self._requests))  # API keys' digest
        self._idempotency_ttl = idempotency_ttl
        self._notifier = notifier or Notifier(policy=policy, base_url=DEFAULT_BASE_URL)
        self._webhooks = None if webhooks is None else webhooks.recording_refusals(self._access)
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
        self,
        command: cmd.Command,
        *,
        actor: Actor,
        expected_sequence: int | None = None,
        remember: Remember | None = None,
    ) -> CommandResult:
        """Authorise, decide and append one command; a refusal raises and writes nothing.

        ``expected_sequence`` (HTTP If-Match): refuse with StaleVersion, after authorisation,
        unless the case is at exactly that version. ``remember`` (HTTP Idempotency-Key) turns
        the result into the record a retry is answered from, stored in the command's own
        transaction: a retry finds it exactly when the command was written.
        """
        name = type(command).__name__
        case_id = getattr(command, "case_id", None)
        try:
            result = self._handle(command, actor, expected_sequence, remember)
        except PhasedCareError as exc:
            self._access.refusal(actor, case_id, name, exc)
            self._log.info(
                "command refused",
                command=name,
                case_id=case_id,
                organisation=actor.organisation,
                error=type(exc).__name__,
                rule=getattr(exc, "rule", None),
                **_moments(command),
            )
            raise
        self._log.info(
            "command",
            command=name,
            case_id=result.case_id,
            sequence=result.sequence,
            organisation=actor.organisation,
            events=result.events,
            **_moments(command),
        )
        if self._auditor is not None:
            self._auditor.after_commit()
        return result

    def _handle(
        self,
        command: cmd.Command,
        actor: Actor,
        expected_sequence: int | None,
        remember: Remember | None,
    ) -> CommandResult:
        ctx = self._context(actor)
        if isinstance(command, cmd.OpenCase):
            return self._open(command, ctx, remember)
        if not isinstance(command, cmd.CaseCommand):
            raise InvalidInput(f"{type(command).__name__} is not a command", field="command")
        known_actor(actor, self._policy)  # an unknown actor is told so whether the case exists
        case, book, head = self._tracked_with_head(command.case_id)
        ctx = replace(ctx, open_obligations=tuple(book.open))
        try:
            authorise_command(
                actor, command, case, self._policy, open_obligations=ctx.open_obligations
            )
        except NotAuthorised as exc:  # no reason (no regiehouder) for who has no part in it
            raise concealed(exc, actor, case, self._policy) from None
        if expected_sequence is not None and expected_sequence != case.sequence:
            raise StaleVersion(
                case_id=case.case_id, expected=expected_sequence, actual=case.sequence
            )
        return self._commit(case, decide(case, command, ctx), head, remember, book)

    def _open(
        self, command: cmd.OpenCase, ctx: DecisionContext, remember: Remember | None
    ) -> CommandResult:
        authorise_command(ctx.actor, command, None, self._policy)
        case_id = command.case_id or self._new_case_id()
        if self._store.projection(case_id) is not None:
            raise Refused(f"case {case_id} already exists", case_id=case_id, rule="case_exists")
        case = CaseState(case_id=case_id)
        return self._commit(case, open_case(case_id, command, ctx), GENESIS, remember)

    def _context(self, actor: Actor) -> DecisionContext:
        now = self._clock()
        if now.tzinfo is None:
            msg = "the engine's clock must return timezone-aware datetimes"
            raise ValueError(msg)
        return DecisionContext(
            now=now.astimezone(UTC), actor=actor, policy=self._policy, calendar=self._calendar
        )

    def _commit(
        self,
        case: CaseState,
        events: list[DomainEvent],
        head: bytes,
        remember: Remember | None = None,
        book: ObligationBook | None = None,
    ) -> CommandResult:
        append = self._recorded(case, [events], head, book)
        result = CommandResult(
            case_id=case.case_id,
            sequence=case.sequence,
            events=[type(e).__name__ for e in events],
            created_id=_created_id(events),
        )
        self._store.append(
            case_id=append.case_id,
            expected_sequence=append.expected_sequence,
            records=append.records,
            projection=append.projection,
            index=append.index,
            outbox=append.outbox,
            idempotency=None if remember is None else remember(result),
        )
        return result

    def _recorded(
        self,
        case: CaseState,
        decisions: Sequence[list[DomainEvent]],
        head: bytes,
        book: ObligationBook | None = None,
    ) -> Append:
        """Apply decided commands' events to ``case`` (and its obligations ``book``: a new
        case's when None) in turn; the one append recording them.

        The sealed records chained to ``head``, the case's projection row after the last
        command, blind-index tokens and each command's notifications (judged on the state
        right after it): how decisions become records, for one command and for an import of
        a whole case history alike.
        """
        expected = case.sequence
        events = [event for decided in decisions for event in decided]
        records = self._codec.encode(events, after_sequence=expected, previous=head)
        outbox: list[OutboxMessage] = []
        book = ObligationBook() if book is None else book
        for decided in decisions:
            for event in decided:
                apply(case, event)
                record(book, case, event, self._policy, self._calendar)
            outbox += self._notifier.messages(case, decided)
        self._books.keep(case.case_id, case.sequence, records[-1].leaf_hash, book)
        return Append(
            case_id=case.case_id,
            expected_sequence=expected,
            records=records,
            projection=project(case, self._policy, self._calendar, book),
            index=self._tokens(events),
            outbox=outbox,
        )

    def _tokens(self, events: list[DomainEvent]) -> list[bytes]:
        """Index tokens of these events: blind-index tokens of the members they record,
        and a day token of each break-glass use (:mod:`phasedcare.service.break_glass`)."""
        used = break_glass_tokens(self._requests, self._policy, events)
        if self._index is None:
            return used
        members = [e for e in events if isinstance(e, ev.MemberRecorded)]
        return [t for m in members for t in self._index.tokens(m.name, m.date_of_birth)] + used

    def import_lines(
        self,
        lines: Iterable[bytes | str],
        *,
        actor: Actor,
        batch_size: int = DEFAULT_BATCH_SIZE,
        dry_run: bool = False,
        resume: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> ImportReport:
        """Import case histories from JSON Lines (docs/import.md); Veilig Thuis only.

        Every line is validated and decided first, at its time and for its actor; a bad
        line raises ImportRejected and nothing is written. Then whole cases are appended,
        about ``batch_size`` commands per transaction. ``resume`` skips the cases stored
        with exactly the file's history (after a crash); ``dry_run`` writes no case.
        """
        importer = Importer(
            store=self._store,
            policy=self._policy,
            calendar=self._calendar,
            clock=self._clock,
            access=self._access,
            recorded=self._recorded,
            decode=self._codec.decode,
            create_keys=self._codec.create_keys,
            written=None if self._auditor is None else self._auditor.after_commit,
        )
        return importer.run(
            lines,
            actor=actor,
            batch_size=batch_size,
            dry_run=dry_run,
            resume=resume,
            progress=progress,
        )

    # -- idempotency records (HTTP Idempotency-Key) ------------------------------------------

    def now(self) -> datetime:
        """The engine clock's time, at UTC."""
        return self._clock().astimezone(UTC)

    def today(self) -> date:
        """Today in the region's time zone, by the engine's clock: the day deadlines are
        judged on."""
        return self._policy.local_date(self._clock())

    def request_digest(self, text: bytes) -> str:
        """A keyed digest of a request: HMAC-SHA256 under a sub-key of the blind-index key.

        The key is kept in the key folder, not the database, so a stored digest confirms no
        guessed name. Without a blind index (tests) the key lives as long as the engine.
        """
        return self._requests.request_digest(text)

    def idempotency_record(self, actor: Actor, key: str) -> IdempotencyRecord | None:
        """The record of this actor's key, unless it expired: then every expired record is
        deleted, so that a retry runs as a new request."""
        found = self._store.idempotency_get(str(actor), key)
        if found is None or found.created_at >= self._idempotency_cutoff():
            return found
        self.expire_idempotency()
        return None

    def expire_idempotency(self) -> int:
        """Delete the idempotency records older than the TTL; returns how many."""
        return self._store.idempotency_expire(self._idempotency_cutoff())

    def _idempotency_cutoff(self) -> datetime:
        return self.now() - self._idempotency_ttl

    # -- break-glass: a read that records an event (the other reads are in CaseReads) ------

    def break_glass(self, case_id: str, *, actor: Actor, reason: str) -> CaseView:
        """An emergency read by a professional without another basis, like :meth:`show`.

        The reason is sealed in a BreakGlassUsed event on the case, which opens a review for
        Veilig Thuis (due in five werkdagen); the access log marks the read as break-glass.
        A refusal (no basis needed, no real reason, the policy's limit reached) records no
        event, only the denied attempt in the access log. The actor's role and the reason are
        judged before the case is looked up, so they are refused alike for a case that exists
        and one that does not (a probe for a missing case is logged on the caseload).
        """
        ctx = self._context(actor)
        try:
            authorise_breaking_glass(actor, self._policy)
            break_glass_reason(reason)
            case, book, head = self._tracked_with_head(case_id)
            authorise_break_glass(actor, case, self._policy, today=ctx.today)
            others = self._glass_broken_today(actor, case_id, ctx.today)
            events = use_break_glass(case, reason, ctx, other_cases_today=others)
        except (NotAuthorised, InvalidInput, Refused, NotFound) as exc:
            self._access.denial(actor, case_id, "break_glass", exc)
            raise
        self._commit(case, events, head, book=book)
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
        return case_view(case, deadlines(case, self._policy, self._calendar), ctx.today, ctx.now)

    def _glass_broken_today(self, actor: Actor, case_id: str, today: date) -> list[str]:
        """The other cases ``actor`` broke the glass on ``today`` (one index lookup)."""
        found = self._store.find_by_token(break_glass_day_token(self._requests, actor, today))
        return [c for c in found if c != case_id]

    # -- projections ------------------------------------------------------------------------

    def rebuilt_projections(self) -> list[CaseProjection]:
        """Every projection row computed afresh from the events (erased cases have none)."""
        rows = []
        for case_id in self._store.case_ids():
            try:
                case, book = self._tracked(case_id, self._events(case_id))
                rows.append(project(case, self._policy, self._calendar, book))
            except Erased:
                continue
        return rows

    # -- retention and crypto-shredding -----------------------------------------------------

    def run_retention(self, *, actor: Actor, dry_run: bool = False) -> list[RetentionDecision]:
        """Destroy the data keys of closed cases whose retention has ended; report every case.

        Only Veilig Thuis runs it. Each erasure appends a signed (unsealed) CaseErased record
        first; a checkpoint then integrates every record of the erased cases while their keys
        can still show the records are the engine's, and only then are the keys destroyed. A
        crash in between is finished by the next run.
        """
        authorise_retention(actor, self._policy)
        today = self.today()
        decisions, erased = [], []
        for case_id in self._store.case_ids():
            try:
                case, head = self._load_with_head(case_id)
            except Erased:
                erased.append(case_id)  # finish an erasure a crash interrupted
                continue
            decision = retention(case, self._policy, today)
            if decision.due and not dry_run:
                self._entomb(case, head, decision, actor)
                erased.append(case_id)
            decisions.append(decision)
        if erased and self._auditor is not None:
            self._auditor.checkpoint()
        for case_id in erased:
            self._store.destroy_case_key(case_id)
            self._codec.forget(case_id)  # every engine's caches of it in this process
        return decisions

    def _entomb(
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
        records = self._codec.encode([tombstone], after_sequence=case.sequence, previous=head)
        self._store.append(
            case_id=case.case_id, expected_sequence=case.sequence, records=records, projection=None
        )
        self._log.info("case erased", case_id=case.case_id, rule=decision.rule)

    def rebuild_projections(self) -> int:
        """Replace the projection table by one rebuilt from the events; returns the row count."""
        fingerprint = self._policy.fingerprint
        count = self._store.replace_projections(self.rebuilt_projections(), policy=fingerprint)
        assert count is not None  # noqa: S101 - only unless_current skips
        self._log.info("projections rebuilt", rows=count, policy=fingerprint)
        return count

    def project_under_policy(self) -> bool:
        """Rebuild the projections when they were built under another policy (or under none
        recorded, as by older versions); True when this call rebuilt them.

        A new policy version may change a term; the case view and the obligation list judge
        with this engine's policy, so the deadline rows the sweep escalates from must too.
        Another process that rebuilt them under this policy first is left alone.
        """
        fingerprint = self._policy.fingerprint
        before = self._store.projections_policy()
        if before == fingerprint:
            return False
        count = self._store.replace_projections(
            self.rebuilt_projections(), policy=fingerprint, unless_current=True
        )
        if count is None:
            return False
        self._log.info(
            "projections rebuilt for the policy", rows=count, policy=fingerprint, was=before
        )
        return True

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
