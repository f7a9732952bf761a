"""The SQL half of the read models and notifications: deadline and handover rows, the
outbox, webhook subscriptions and deliveries.

Mixed into :class:`~phasedcare.store.sql.SqlEventStore`. ``write_case_rows`` and
``enqueue`` run inside the append's transaction; claiming a delivery is a conditional
UPDATE (a lease), so two drainers never send one delivery at the same moment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select, update

from phasedcare.service.ports import (
    CaseProjection,
    DeadlineFilter,
    DeadlineRow,
    Delivery,
    HandoverFilter,
    HandoverRow,
    OutboxMessage,
    Subscription,
)
from phasedcare.store.sql_errors import translated
from phasedcare.store.tables import (
    DeadlineRecord,
    DeliveryRecord,
    HandoverRecord,
    OutboxRecord,
    SubscriptionRecord,
)

__all__ = [
    "SqlNotifications",
    "delete_case_rows",
    "enqueue",
    "with_case_rows",
    "write_case_rows",
]

DEADLINES = DeadlineRecord.__table__  # type: ignore[attr-defined]
HANDOVERS = HandoverRecord.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxRecord.__table__  # type: ignore[attr-defined]
SUBSCRIPTIONS = SubscriptionRecord.__table__  # type: ignore[attr-defined]
DELIVERIES = DeliveryRecord.__table__  # type: ignore[attr-defined]

_DEADLINE_FIELDS = tuple(DeadlineRow.__dataclass_fields__)
_HANDOVER_FIELDS = tuple(HandoverRow.__dataclass_fields__)
_SUBSCRIPTION_FIELDS = tuple(Subscription.__dataclass_fields__)
_ACTIVE_SUBSCRIBERS = select(SUBSCRIPTIONS.c.subscription_id).where(
    SUBSCRIPTIONS.c.active.is_(True),
    SUBSCRIPTIONS.c.organisation.in_(bindparam("recipients", expanding=True)),
)


def _aware(moment: datetime | None) -> datetime | None:
    """A stored moment at UTC: SQLite hands back naive UTC, PostgreSQL the session's zone."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utc(moment: datetime | None) -> datetime | None:
    """A moment to store or compare at UTC: SQLite keeps the wall clock and drops the offset."""
    return None if moment is None else moment.astimezone(UTC)


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def delete_case_rows(conn: Connection, case_ids: Sequence[str] | None = None) -> None:
    """Delete the deadline and handover rows of these cases (all when None)."""
    for table in (DEADLINES, HANDOVERS):
        statement = table.delete()
        if case_ids is not None:
            statement = statement.where(table.c.case_id.in_(case_ids))
        conn.execute(statement)


def _values(row: object, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: getattr(row, f) for f in fields}


def write_case_rows(conn: Connection, projections: Sequence[CaseProjection]) -> None:
    """Insert the deadline and handover rows of these projections."""
    deadlines = [
        {f: getattr(d, f) for f in _DEADLINE_FIELDS} for p in projections for d in p.deadlines
    ]
    handovers = [
        {**_values(h, _HANDOVER_FIELDS), "proposed_at": _utc(h.proposed_at)}
        for p in projections
        for h in p.handovers
    ]
    if deadlines:
        conn.execute(DEADLINES.insert(), deadlines)
    if handovers:
        conn.execute(HANDOVERS.insert(), handovers)


def with_case_rows(conn: Connection, projections: list[CaseProjection]) -> list[CaseProjection]:
    """The projections with their deadline and handover rows attached."""
    ids = [p.case_id for p in projections]
    if not ids:
        return projections
    deadlines: dict[str, list[DeadlineRow]] = {}
    for r in conn.execute(select(DEADLINES).where(DEADLINES.c.case_id.in_(ids))).mappings():
        row = DeadlineRow(**{**{k: r[k] for k in _DEADLINE_FIELDS}, "due": _day(r["due"])})
        deadlines.setdefault(row.case_id, []).append(row)
    handovers: dict[str, list[HandoverRow]] = {}
    for r in conn.execute(select(HANDOVERS).where(HANDOVERS.c.case_id.in_(ids))).mappings():
        handover = _handover(r)
        handovers.setdefault(handover.case_id, []).append(handover)
    return [
        replace(
            p,
            deadlines=tuple(sorted(deadlines.get(p.case_id, []), key=_deadline_order)),
            handovers=tuple(
                sorted(handovers.get(p.case_id, []), key=lambda h: int(h.handover_id[1:]))
            ),
        )
        for p in projections
    ]


def _deadline_order(row: DeadlineRow) -> tuple[Any, ...]:
    return (row.due, row.kind, row.ref)


def _handover(r: Any) -> HandoverRow:
    return HandoverRow(
        **{
            **{k: r[k] for k in _HANDOVER_FIELDS},
            "respond_by": _day(r["respond_by"]),
            "proposed_at": _aware(r["proposed_at"]),
        }
    )


def enqueue(conn: Connection, messages: Sequence[OutboxMessage]) -> None:
    """Insert messages and a pending delivery per active subscription of their recipients."""
    for message in messages:
        created_at = _utc(message.created_at)
        conn.execute(
            OUTBOX.insert(),
            {
                "message_id": message.message_id,
                "case_id": message.case_id,
                "event_type": message.event_type,
                "created_at": created_at,
                "recipients": " ".join(message.recipients),
                "body": message.body,
            },
        )
        subscribers = conn.execute(
            _ACTIVE_SUBSCRIBERS, {"recipients": list(message.recipients)}
        ).scalars()
        rows = [
            {
                "message_id": message.message_id,
                "subscription_id": sub,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": created_at,
                "leased_until": None,
                "last_status": None,
                "last_error": "",
                "delivered_at": None,
            }
            for sub in subscribers
        ]
        if rows:
            conn.execute(DELIVERIES.insert(), rows)


def _message(row: Any) -> OutboxMessage:
    created = _aware(row["created_at"])
    assert created is not None  # noqa: S101 - the column is NOT NULL
    return OutboxMessage(
        message_id=row["message_id"],
        case_id=row["case_id"],
        event_type=row["event_type"],
        created_at=created,
        recipients=tuple(row["recipients"].split()),
        body=bytes(row["body"]),
    )


def _subscription(row: Any) -> Subscription:
    values = {f: row[f] for f in _SUBSCRIPTION_FIELDS}
    values["wrapped_secret"] = bytes(values["wrapped_secret"])
    previous = values["wrapped_previous_secret"]
    values["wrapped_previous_secret"] = None if previous is None else bytes(previous)
    values["created_at"] = _aware(values["created_at"])
    values["previous_until"] = _aware(values["previous_until"])
    return Subscription(**values)


def _delivery(row: Any) -> Delivery:
    return Delivery(
        message_id=row["message_id"],
        subscription_id=row["subscription_id"],
        event_type=row["event_type"],
        case_id=row["case_id"],
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=_aware(row["next_attempt_at"]),
        last_status=row["last_status"],
        last_error=row["last_error"],
        delivered_at=_aware(row["delivered_at"]),
    )


_DELIVERY_VIEW = select(DELIVERIES, OUTBOX.c.event_type, OUTBOX.c.case_id, OUTBOX.c.position).join(
    OUTBOX, OUTBOX.c.message_id == DELIVERIES.c.message_id
)


class SqlNotifications:
    """Read models, subscriptions and deliveries over the store's SQLAlchemy engine."""

    _engine: Engine
    _write: Callable[[], AbstractContextManager[Connection]]

    def deadline_rows(self, deadline_filter: DeadlineFilter) -> list[DeadlineRow]:
        """Deadlines of all cases passing the filter, earliest first."""
        f = deadline_filter
        criteria = [
            column == value
            for column, value in (
                (DEADLINES.c.responsible, f.responsible),
                (DEADLINES.c.kind, f.kind),
            )
            if value is not None
        ]
        if f.due_before is not None:
            criteria.append(DEADLINES.c.due < f.due_before)
        order = (DEADLINES.c.due, DEADLINES.c.case_id, DEADLINES.c.kind, DEADLINES.c.ref)
        query = select(DEADLINES).where(*criteria).order_by(*order).limit(f.limit)
        with translated("reading notifications failed"), self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            DeadlineRow(**{**{k: r[k] for k in _DEADLINE_FIELDS}, "due": _day(r["due"])})
            for r in rows
        ]

    def handover_rows(self, handover_filter: HandoverFilter) -> list[HandoverRow]:
        """Handovers passing the filter, by response date."""
        f = handover_filter
        criteria = []
        if f.organisation is not None:
            criteria.append(
                or_(
                    HANDOVERS.c.from_organisation == f.organisation,
                    HANDOVERS.c.to_organisation == f.organisation,
                )
            )
        if f.status is not None:
            criteria.append(HANDOVERS.c.status == f.status)
        order = (HANDOVERS.c.respond_by, HANDOVERS.c.case_id, HANDOVERS.c.handover_id)
        query = select(HANDOVERS).where(*criteria).order_by(*order).limit(f.limit)
        with translated("reading notifications failed"), self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_handover(r) for r in rows]

    def add_subscription(self, subscription: Subscription) -> None:
        """Store a new subscription."""
        row = {
            **_values(subscription, _SUBSCRIPTION_FIELDS),
            "created_at": _utc(subscription.created_at),
            "previous_until": _utc(subscription.previous_until),
        }
        with translated("writing notifications failed"), self._write() as conn, conn.begin():
            conn.execute(SUBSCRIPTIONS.insert(), row)

    def subscriptions(self, *, organisation: str | None = None) -> list[Subscription]:
        """Subscriptions by creation time."""
        query = select(SUBSCRIPTIONS).order_by(
            SUBSCRIPTIONS.c.created_at, SUBSCRIPTIONS.c.subscription_id
        )
        if organisation is not None:
            query = query.where(SUBSCRIPTIONS.c.organisation == organisation)
        with translated("reading notifications failed"), self._engine.connect() as conn:
            return [_subscription(r) for r in conn.execute(query).mappings()]

    def rotate_subscription_secret(
        self,
        subscription_id: str,
        *,
        kek_id: str,
        wrapped_secret: bytes,
        previous_until: datetime,
    ) -> None:
        """The new secret becomes current; the current one is kept until ``previous_until``."""
        with translated("writing notifications failed"), self._write() as conn, conn.begin():
            conn.execute(
                update(SUBSCRIPTIONS)
                .where(SUBSCRIPTIONS.c.subscription_id == subscription_id)
                .values(
                    previous_kek_id=SUBSCRIPTIONS.c.kek_id,
                    wrapped_previous_secret=SUBSCRIPTIONS.c.wrapped_secret,
                    previous_until=_utc(previous_until),
                    kek_id=kek_id,
                    wrapped_secret=wrapped_secret,
                )
            )

    def deactivate_subscription(self, subscription_id: str) -> bool:
        """Stop deliveries to a subscription; its pending deliveries end dead."""
        with translated("writing notifications failed"), self._write() as conn, conn.begin():
            done = conn.execute(
                update(SUBSCRIPTIONS)
                .where(SUBSCRIPTIONS.c.subscription_id == subscription_id)
                .values(active=False)
            ).rowcount
            conn.execute(
                update(DELIVERIES)
                .where(
                    DELIVERIES.c.subscription_id == subscription_id,
                    DELIVERIES.c.status == "pending",
                )
                .values(status="dead", last_error="subscription deactivated", leased_until=None)
            )
        return bool(done)

    def claim_due(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[tuple[Delivery, OutboxMessage, Subscription]]:
        """Due pending deliveries, each leased by a conditional UPDATE (skipped if taken).

        Candidates come in one total order (due time, then key), so that two drainers on
        PostgreSQL lock rows in the same order and cannot deadlock.
        """
        now, lease_until = now.astimezone(UTC), lease_until.astimezone(UTC)
        due = and_(
            DELIVERIES.c.status == "pending",
            DELIVERIES.c.next_attempt_at <= now,
            or_(DELIVERIES.c.leased_until.is_(None), DELIVERIES.c.leased_until <= now),
        )
        candidates = (
            select(DELIVERIES.c.message_id, DELIVERIES.c.subscription_id)
            .where(due)
            .order_by(
                DELIVERIES.c.next_attempt_at,
                DELIVERIES.c.message_id,
                DELIVERIES.c.subscription_id,
            )
            .limit(limit)
        )
        claimed = []
        with translated("writing notifications failed"), self._write() as conn, conn.begin():
            for message_id, subscription_id in conn.execute(candidates).all():
                key = and_(
                    DELIVERIES.c.message_id == message_id,
                    DELIVERIES.c.subscription_id == subscription_id,
                )
                taken = conn.execute(
                    update(DELIVERIES).where(key, due).values(leased_until=lease_until)
                ).rowcount
                if taken:
                    claimed.append(self._claimed(conn, message_id, subscription_id))
        return claimed

    @staticmethod
    def _claimed(
        conn: Connection, message_id: str, subscription_id: str
    ) -> tuple[Delivery, OutboxMessage, Subscription]:
        delivery = (
            conn.execute(
                _DELIVERY_VIEW.where(
                    DELIVERIES.c.message_id == message_id,
                    DELIVERIES.c.subscription_id == subscription_id,
                )
            )
            .mappings()
            .one()
        )
        message = (
            conn.execute(select(OUTBOX).where(OUTBOX.c.message_id == message_id)).mappings().one()
        )
        sub = (
            conn.execute(
                select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.subscription_id == subscription_id)
            )
            .mappings()
            .one()
        )
        return _delivery(delivery), _message(message), _subscription(sub)

    def record_attempt(
        self,
        *,
        message_id: str,
        subscription_id: str,
        status: str,
        attempted_at: datetime,
        next_attempt_at: datetime | None,
        last_status: int | None,
        last_error: str,
    ) -> None:
        """Record one attempt's outcome and release the lease."""
        with translated("writing notifications failed"), self._write() as conn, conn.begin():
            conn.execute(
                update(DELIVERIES)
                .where(
                    DELIVERIES.c.message_id == message_id,
                    DELIVERIES.c.subscription_id == subscription_id,
                )
                .values(
                    status=status,
                    attempts=DELIVERIES.c.attempts + 1,
                    next_attempt_at=_utc(next_attempt_at),
                    leased_until=None,
                    last_status=last_status,
                    last_error=last_error[:200],
                    delivered_at=_utc(attempted_at) if status == "delivered" else None,
                )
            )

    def deliveries(
        self, *, status: str | None = None, case_id: str | None = None, limit: int | None = None
    ) -> list[Delivery]:
        """Deliveries, newest message first."""
        query = _DELIVERY_VIEW
        if status is not None:
            query = query.where(DELIVERIES.c.status == status)
        if case_id is not None:
            query = query.where(OUTBOX.c.case_id == case_id)
        query = query.order_by(OUTBOX.c.position.desc(), DELIVERIES.c.subscription_id).limit(limit)
        with translated("reading notifications failed"), self._engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(query).mappings()]

    def messages(self, *, case_id: str | None = None) -> list[OutboxMessage]:
        """Outbox messages in the order they were written."""
        query = select(OUTBOX).order_by(OUTBOX.c.position)
        if case_id is not None:
            query = query.where(OUTBOX.c.case_id == case_id)
        with translated("reading notifications failed"), self._engine.connect() as conn:
            return [_message(r) for r in conn.execute(query).mappings()]
