"""The scheduled work: deadline sweeps, MDA++ evaluation and draining the outbox.

The deadline sweep also deletes the idempotency records that have expired.

Prefect flows (``phasedcare.flows``) call these; so can a test or a cron job. Each job is
short and takes ids only: state lives in the ledger, and time is handled by running the
sweeps again, never by waiting. Every change a job makes is an ordinary command decided by
the domain and issued by the system actor, so it is authorised, sealed and replayable.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor, Role
from phasedcare.errors import ConcurrencyConflict, PhasedCareError, Refused
from phasedcare.service.engine import Engine, utc_now
from phasedcare.service.ports import DeadlineRow, Delivery, OutboxMessage, Subscription
from phasedcare.service.webhooks import MAX_ATTEMPTS, WebhookSender, next_attempt_delay

__all__ = ["SYSTEM_USER", "DrainReport", "Jobs", "SweepReport"]

SYSTEM_USER = "phasedcare-sweep"
"""The user id the scheduled sweeps act as (role ``system``)."""

_LEASE = timedelta(minutes=2)


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
    """What a drain did, and how many deliveries still wait."""

    delivered: int
    retrying: int
    dead: int
    pending: int


class Jobs:
    """The engine's scheduled work, acting as the region's system actor."""

    def __init__(
        self,
        *,
        engine: Engine,
        sender: WebhookSender,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self._engine = engine
        self._store = engine.store
        self._sender = sender
        self._clock = clock
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
        """Deliver the due webhook deliveries; failures are retried later with backoff."""
        now = self._clock().astimezone(UTC)
        claimed = self._store.claim_due(now=now, lease_until=now + _LEASE, limit=limit)
        outcomes = [self._deliver(d, m, s) for d, m, s in claimed]
        pending = len(self._store.deliveries(status="pending"))
        report = DrainReport(
            delivered=outcomes.count("delivered"),
            retrying=outcomes.count("pending"),
            dead=outcomes.count("dead"),
            pending=pending,
        )
        self._log.info("outbox drained", **_fields(report))
        return report

    def _deliver(self, delivery: Delivery, message: OutboxMessage, sub: Subscription) -> str:
        now = self._clock().astimezone(UTC)
        try:
            secrets = self._engine.webhooks.secrets(sub)
        except PhasedCareError as exc:
            return self._record(delivery, "dead", now, None, None, type(exc).__name__)
        attempt = self._sender.send(
            url=sub.url,
            secrets=secrets,
            msg_id=message.message_id,
            event=_event(message),
            timestamp=int(time.time()),  # the moment of sending, whatever the domain clock says
        )
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
    }


def _event(message: OutboxMessage) -> dict[str, object]:
    """The stored CloudEvent; encoding it again gives the stored bytes (sorted, compact)."""
    decoded: dict[str, object] = json.loads(message.body)
    return decoded
