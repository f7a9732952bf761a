"""The in-memory half of the notification store: subscriptions, outbox and deliveries.

Mixed into :class:`~phasedcare.store.memory.InMemoryEventStore`, whose lock and append it
shares, so that messages enter in the same atomic step as the records that caused them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from phasedcare.errors import StoreError
from phasedcare.service.ports import Delivery, DeliveryCursor, OutboxMessage, Subscription

__all__ = ["InMemoryNotifications"]

_ERROR_LENGTH = 200  # the SQL column's size: both stores keep the same text


class InMemoryNotifications:
    """Subscriptions, outbox messages and deliveries held in dictionaries."""

    _lock: threading.Lock

    def __init__(self) -> None:
        self._subscriptions: dict[str, Subscription] = {}
        self._messages: dict[str, OutboxMessage] = {}
        self._deliveries: dict[tuple[str, str], Delivery] = {}
        self._leases: dict[tuple[str, str], datetime] = {}

    def _check_new(self, case_id: str, messages: Sequence[OutboxMessage]) -> None:
        """Refuse message ids already stored or repeated, as the SQL unique key does."""
        ids = [m.message_id for m in messages]
        if len(set(ids)) != len(ids) or any(i in self._messages for i in ids):
            detail = "outbox message id already exists"
            raise StoreError(f"append to case {case_id} failed", detail=detail)

    def _enqueue(self, messages: Sequence[OutboxMessage]) -> None:
        """Store messages and one pending delivery per active subscription (lock held)."""
        for message in messages:
            self._messages[message.message_id] = message
            for sub in self._subscriptions.values():
                if sub.active and sub.organisation in message.recipients:
                    self._deliveries[message.message_id, sub.subscription_id] = Delivery(
                        message_id=message.message_id,
                        subscription_id=sub.subscription_id,
                        event_type=message.event_type,
                        case_id=message.case_id,
                        status="pending",
                        attempts=0,
                        next_attempt_at=message.created_at,
                        last_status=None,
                        last_error="",
                        delivered_at=None,
                    )

    def add_subscription(self, subscription: Subscription) -> None:
        """Store a new subscription."""
        with self._lock:
            self._subscriptions[subscription.subscription_id] = subscription

    def subscriptions(self, *, organisation: str | None = None) -> list[Subscription]:
        """Subscriptions by creation time (then id, as the SQL store orders them)."""
        with self._lock:
            found = sorted(self._subscriptions.values(), key=_created)
        return [s for s in found if organisation is None or s.organisation == organisation]

    def rotate_subscription_secret(
        self,
        subscription_id: str,
        *,
        kek_id: str,
        wrapped_secret: bytes,
        previous_until: datetime,
    ) -> None:
        """The new secret becomes current; the current one is kept until ``previous_until``."""
        with self._lock:
            sub = self._subscriptions[subscription_id]
            self._subscriptions[subscription_id] = replace(
                sub,
                previous_kek_id=sub.kek_id,
                wrapped_previous_secret=sub.wrapped_secret,
                previous_until=previous_until,
                kek_id=kek_id,
                wrapped_secret=wrapped_secret,
            )

    def deactivate_subscription(self, subscription_id: str) -> bool:
        """Stop deliveries to a subscription; its pending deliveries end dead."""
        with self._lock:
            sub = self._subscriptions.get(subscription_id)
            if sub is None:
                return False
            self._subscriptions[subscription_id] = replace(sub, active=False)
            for key, delivery in self._deliveries.items():
                if key[1] == subscription_id and delivery.status == "pending":
                    gone = "subscription deactivated"
                    self._deliveries[key] = replace(delivery, status="dead", last_error=gone)
            return True

    def claim_due(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[tuple[Delivery, OutboxMessage, Subscription]]:
        """Due pending deliveries, by due time then key, leased to the caller."""
        with self._lock:
            due = sorted(
                (_due(delivery), key)
                for key, delivery in self._deliveries.items()
                if delivery.status == "pending"
                and _due(delivery) <= now
                and self._leases.get(key, now) <= now
            )
            for _, key in due[:limit]:
                self._leases[key] = lease_until
            return [
                (self._deliveries[key], self._messages[key[0]], self._subscriptions[key[1]])
                for _, key in due[:limit]
            ]

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
        key = (message_id, subscription_id)
        with self._lock:
            delivery = self._deliveries[key]
            self._deliveries[key] = replace(
                delivery,
                status=status,
                attempts=delivery.attempts + 1,
                next_attempt_at=next_attempt_at,
                last_status=last_status,
                last_error=last_error[:_ERROR_LENGTH],
                delivered_at=attempted_at if status == "delivered" else None,
            )
            self._leases.pop(key, None)

    def deliveries(
        self,
        *,
        status: str | None = None,
        case_id: str | None = None,
        limit: int | None = None,
        subscriptions: Sequence[str] | None = None,
        after: DeliveryCursor | None = None,
    ) -> list[Delivery]:
        """Deliveries, newest message first, then by subscription; after the cursor."""
        with self._lock:
            order = {m: i for i, m in enumerate(self._messages)}
            found = [
                d
                for d in self._deliveries.values()
                if (status is None or d.status == status)
                and (case_id is None or d.case_id == case_id)
                and (subscriptions is None or d.subscription_id in subscriptions)
            ]

        def newest_first(delivery: Delivery) -> tuple[int, str]:
            return -order[delivery.message_id], delivery.subscription_id

        found.sort(key=newest_first)
        if after is not None:
            start = (-order.get(after[0], -1), after[1])  # an unknown cursor: nothing follows
            found = [d for d in found if newest_first(d) > start]
        return found[:limit] if limit is not None else found

    def messages(
        self,
        *,
        case_id: str | None = None,
        event_type: str | None = None,
        recipient: str | None = None,
    ) -> list[OutboxMessage]:
        """Outbox messages in the order they were written, of one type or to one recipient."""
        with self._lock:
            found = list(self._messages.values())
        return [
            m
            for m in found
            if (case_id is None or m.case_id == case_id)
            and (event_type is None or m.event_type == event_type)
            and (recipient is None or recipient in m.recipients)
        ]


def _due(delivery: Delivery) -> datetime:
    """When a pending delivery is next due (pending ones always have a time)."""
    assert delivery.next_attempt_at is not None  # noqa: S101 - called for pending ones only
    return delivery.next_attempt_at


def _created(subscription: Subscription) -> tuple[datetime, str]:
    return subscription.created_at, subscription.subscription_id
