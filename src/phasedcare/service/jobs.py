"""The scheduled work: deadline sweeps, MDA++ evaluation and draining the outbox.

The deadline sweep also deletes the idempotency records that have expired. The outbox drain
checks every webhook URL again before it sends (a row written past the API is no way around
the check) and shares its time fairly between organisations: one organisation's slow or dead
endpoints cannot hold up another's deliveries.

Prefect flows (``phasedcare.flows``) call these; so can a test or a cron job. Each job is
short and takes ids only: state lives in the ledger, and time is handled by running the
sweeps again, never by waiting. Every change a job makes is an ordinary command decided by
the domain and issued by the system actor, so it is authorised, sealed and replayable.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor, Role
from phasedcare.errors import ConcurrencyConflict, PhasedCareError, Refused, TargetRefused
from phasedcare.service.engine import Engine, utc_now
from phasedcare.service.ports import DeadlineRow, Delivery, OutboxMessage, Subscription
from phasedcare.service.webhooks import (
    MAX_ATTEMPTS,
    DeliveryAttempt,
    WebhookSender,
    next_attempt_delay,
)

__all__ = ["SYSTEM_USER", "DrainReport", "Jobs", "SweepReport"]

SYSTEM_USER = "phasedcare-sweep"
"""The user id the scheduled sweeps act as (role ``system``)."""

_LEASE = timedelta(minutes=2)
_MAX_CLAIMS = 10  # batches one drain claims at most while organisations wait their turn
ORGANISATION_SECONDS = 15.0
"""Time one organisation's endpoints may take in one drain before its other deliveries wait
for the next drains (its claimed ones stay leased, so other organisations' come first)."""

Claimed = tuple[Delivery, OutboxMessage, Subscription]


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What a sweep did: cases looked at, handovers expired, deadlines escalated (ids only),
    and how many expired idempotency records it deleted."""

    checked: int
    expired: list[str]
    escalated: list[str]
    idempotency_expired: int = 0


@dataclass(frozen=True, slots=True)
class DrainReport:
    """What a drain did, and how many deliveries still wait.

    ``refused`` deliveries went to a URL that failed the send-time check (they end dead,
    and nothing was sent); ``deferred`` ones belong to organisations that used up their
    time in this drain and wait, leased, for a later one.
    """

    delivered: int
    retrying: int
    dead: int
    pending: int
    refused: int = 0
    deferred: int = 0


class Jobs:
    """The engine's scheduled work, acting as the region's system actor."""

    def __init__(
        self,
        *,
        engine: Engine,
        sender: WebhookSender,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        organisation_seconds: float = ORGANISATION_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._store = engine.store
        self._sender = sender
        self._clock = clock
        self._organisation_seconds = organisation_seconds
        self._timer = timer
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._log = structlog.get_logger("phasedcare.jobs")
        self.actor = Actor(
            user=SYSTEM_USER, organisation=engine.policy.veilig_thuis.id, role=Role.system
        )

    def close(self) -> None:
        """Close the sender and the engine."""
        self._sender.close()
        self._engine.close()

    # -- deadlines ------------------------------------------------------------------------

    def _overdue_rows(self) -> list[DeadlineRow]:
        rows = self._engine.deadlines(actor=self.actor, overdue=True)
        return [r for r in rows if not r.escalated]

    def overdue_case_ids(self) -> list[str]:
        """Cases with an overdue deadline not yet escalated."""
        return sorted({r.case_id for r in self._overdue_rows()})

    def sweep_deadlines(self) -> SweepReport:
        """Expire unanswered handovers and escalate every overdue deadline, once each; delete
        the expired idempotency records."""
        report = self._escalate_rows(self._overdue_rows())
        forgotten = self._engine.expire_idempotency()
        self._log.info("idempotency records expired", deleted=forgotten)
        return replace(report, idempotency_expired=forgotten)

    def escalate(self, case_ids: Sequence[str]) -> SweepReport:
        """The sweep for these cases only."""
        wanted = set(case_ids)
        return self._escalate_rows([r for r in self._overdue_rows() if r.case_id in wanted])

    def _escalate_rows(self, rows: list[DeadlineRow]) -> SweepReport:
        expired: list[str] = []
        escalated: list[str] = []
        for row in rows:
            if row.kind == "handover_response":
                expire = cmd.ExpireHandover(case_id=row.case_id, handover_id=row.ref)
                if self._issue(expire):
                    expired.append(f"{row.case_id}/{row.ref}")
                continue
            escalate = cmd.EscalateDeadline(case_id=row.case_id, kind=row.kind, ref=row.ref)
            if self._issue(escalate):
                escalated.append(f"{row.case_id}:{row.kind}:{row.due.isoformat()}")
        report = SweepReport(len({r.case_id for r in rows}), expired, escalated)
        self._log.info(
            "sweep", checked=report.checked, expired=len(expired), escalated=len(escalated)
        )
        return report

    def _issue(self, command: cmd.CaseCommand) -> bool:
        """Issue a system command; a refusal or a race means another sweep did it."""
        try:
            self._engine.handle(command, actor=self.actor)
        except (Refused, ConcurrencyConflict) as exc:
            self._log.info("sweep skipped", case_id=command.case_id, error=type(exc).__name__)
            return False
        return True

    # -- MDA++ ----------------------------------------------------------------------------

    def evaluate_mda(self) -> list[str]:
        """Signal every open case whose MDA++ entry criteria are met (once per case)."""
        signalled = [
            case_id
            for case_id in self._engine.mda_candidates(actor=self.actor)
            if self._issue(cmd.SignalMda(case_id=case_id))
        ]
        self._log.info("mda evaluated", signalled=len(signalled))
        return signalled

    # -- the outbox -----------------------------------------------------------------------

    def drain_outbox(self, *, limit: int = 100) -> DrainReport:
        """Deliver the due webhook deliveries, fairly between organisations.

        Each batch of claimed deliveries is sent round robin by organisation; an organisation
        whose endpoints used up ``organisation_seconds`` in this drain sends nothing more in
        it. While one has, a full batch is followed by another (the deferred deliveries stay
        leased, so it holds other organisations' deliveries), up to ten batches. Failures are
        retried later with backoff.
        """
        now = self._clock().astimezone(UTC)
        spent: dict[str, float] = defaultdict(float)
        outcomes: list[str] = []
        for _ in range(_MAX_CLAIMS):
            claimed = self._store.claim_due(now=now, lease_until=now + _LEASE, limit=limit)
            outcomes += [self._turn(item, spent) for item in _round_robin(claimed)]
            if len(claimed) < limit or not self._out_of_time(spent):
                break
        report = DrainReport(
            delivered=outcomes.count("delivered"),
            retrying=outcomes.count("pending"),
            dead=outcomes.count("dead"),
            pending=len(self._store.deliveries(status="pending")),
            refused=outcomes.count("refused"),
            deferred=outcomes.count("deferred"),
        )
        self._log.info("outbox drained", **_fields(report))
        return report

    def _out_of_time(self, spent: dict[str, float]) -> bool:
        """Whether some organisation used up its time: its deliveries may fill the next
        batches, and others' wait behind them."""
        return any(seconds >= self._organisation_seconds for seconds in spent.values())

    def _turn(self, claimed: Claimed, spent: dict[str, float]) -> str:
        """Deliver one claimed delivery unless its organisation's time in this drain is up."""
        organisation = claimed[2].organisation
        if spent[organisation] >= self._organisation_seconds:
            return "deferred"
        started = self._timer()
        try:
            return self._deliver(*claimed)
        finally:
            spent[organisation] += self._timer() - started

    def _deliver(self, delivery: Delivery, message: OutboxMessage, sub: Subscription) -> str:
        now = self._clock().astimezone(UTC)
        try:
            target = self._engine.webhooks.target(sub.url)
            secrets = self._engine.webhooks.secrets(sub)
        except TargetRefused as exc:
            if not exc.transient:
                return self._refuse(delivery, sub, now, exc)
            attempt = DeliveryAttempt(
                ok=False, status=None, error=f"not sent: {exc.message}", retry_after_seconds=None
            )
        except PhasedCareError as exc:
            return self._record(delivery, "dead", now, None, None, type(exc).__name__)
        else:
            attempt = self._sender.send(
                target=target,
                secrets=secrets,
                msg_id=message.message_id,
                event=_event(message),
                timestamp=int(time.time()),  # the moment of sending, whatever the domain clock
            )
        return self._settle(delivery, sub, attempt, now)

    def _refuse(
        self, delivery: Delivery, sub: Subscription, now: datetime, exc: TargetRefused
    ) -> str:
        """End a delivery whose URL fails the send-time check; nothing is sent."""
        self._log.warning(
            "webhook target refused",
            subscription_id=sub.subscription_id,
            organisation=sub.organisation,
            reason=exc.message,
        )
        self._record(delivery, "dead", now, None, None, f"refused: {exc.message}")
        return "refused"

    def _settle(
        self, delivery: Delivery, sub: Subscription, attempt: DeliveryAttempt, now: datetime
    ) -> str:
        """Record an attempt: delivered, retried later with backoff, or given up."""
        if attempt.ok:
            return self._record(delivery, "delivered", now, None, attempt.status, "")
        if attempt.gone:
            self._store.deactivate_subscription(sub.subscription_id)
            return self._record(delivery, "dead", now, None, attempt.status, attempt.error)
        if delivery.attempts + 1 >= MAX_ATTEMPTS:
            return self._record(delivery, "dead", now, None, attempt.status, attempt.error)
        delay = next_attempt_delay(
            delivery.attempts + 1, rng=self._rng, retry_after_seconds=attempt.retry_after_seconds
        )
        return self._record(delivery, "pending", now, now + delay, attempt.status, attempt.error)

    def _record(  # noqa: PLR0917 - one positional per column of the attempt
        self,
        delivery: Delivery,
        status: str,
        now: datetime,
        next_at: datetime | None,
        http_status: int | None,
        error: str,
    ) -> str:
        self._store.record_attempt(
            message_id=delivery.message_id,
            subscription_id=delivery.subscription_id,
            status=status,
            attempted_at=now,
            next_attempt_at=next_at,
            last_status=http_status,
            last_error=error,
        )
        return status


def _fields(report: DrainReport) -> dict[str, int]:
    return {
        "delivered": report.delivered,
        "retrying": report.retrying,
        "dead": report.dead,
        "pending": report.pending,
        "refused": report.refused,
        "deferred": report.deferred,
    }


def _round_robin(claimed: Sequence[Claimed]) -> Iterator[Claimed]:
    """The claimed deliveries taking turns by organisation: one of each, then the next."""
    queues: dict[str, list[Claimed]] = defaultdict(list)
    for item in claimed:
        queues[item[2].organisation].append(item)
    for turn in itertools.zip_longest(*queues.values()):
        yield from (item for item in turn if item is not None)


def _event(message: OutboxMessage) -> dict[str, object]:
    """The stored CloudEvent; encoding it again gives the stored bytes (sorted, compact)."""
    decoded: dict[str, object] = json.loads(message.body)
    return decoded
