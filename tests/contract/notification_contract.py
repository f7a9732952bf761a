"""One contract suite for the notification half of every EventStore, and its read models.

Mix ``NotificationStoreContract`` into a class that provides the ``store`` and ``make_store``
fixtures (``EventStoreContract`` does); ``SqlNotificationStoreContract`` adds what only a
database shows and needs ``database_url`` too. Ids are synthetic, bodies opaque bytes.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from store_contract import T0, MakeStore, projection, record

from phasedcare.errors import ConcurrencyConflict, StoreError
from phasedcare.ledger.keys import WrappedKey
from phasedcare.service.ports import (
    CaseFilter,
    DeadlineFilter,
    DeadlineRow,
    Delivery,
    EventStore,
    HandoverFilter,
    HandoverRow,
    OutboxMessage,
    Subscription,
    deadline_cursor,
    handover_cursor,
)
from phasedcare.store import SqlEventStore

EVERY_BYTE = bytes(range(256)) + b"\x00\x00"  # NUL, high bytes and a trailing NUL
PLUS_TWO = timezone(timedelta(hours=2))
MINUTE = timedelta(minutes=1)
CLAIMS = 4  # the limit of each claim in the races

Key = tuple[str, str]
Claimed = list[tuple[Delivery, OutboxMessage, Subscription]]


def subscription(
    subscription_id: str, organisation: str, *, active: bool = True, created_at: datetime = T0
) -> Subscription:
    """A synthetic webhook subscription whose wrapped secret holds every byte value."""
    return Subscription(
        subscription_id=subscription_id,
        organisation=organisation,
        url=f"https://hooks.example.test/{subscription_id}",
        kek_id="kek-1",
        wrapped_secret=EVERY_BYTE,
        active=active,
        created_at=created_at,
    )


def message(
    message_id: str, case_id: str, *recipients: str, created_at: datetime = T0
) -> OutboxMessage:
    """A synthetic outbox message for ``recipients``; its body is opaque bytes."""
    return OutboxMessage(
        message_id=message_id,
        case_id=case_id,
        event_type="HandoverProposed",
        created_at=created_at,
        recipients=recipients,
        body=b'{"id":"' + message_id.encode() + b'"}' + EVERY_BYTE,
    )


def publish(store: EventStore, *messages: OutboxMessage, case_id: str = "c-a") -> None:
    """Append one record to the case, after its head, with ``messages`` in the outbox."""
    head = store.head(case_id)
    expected = head[0] if head else 0
    store.append(
        case_id=case_id,
        expected_sequence=expected,
        records=[record(case_id, expected + 1)],
        projection=projection(case_id, expected + 1),
        outbox=messages,
    )


def pending(outbox: OutboxMessage, subscription_id: str) -> Delivery:
    """The delivery a fresh fan-out creates: pending, due when the message was written."""
    return Delivery(
        message_id=outbox.message_id,
        subscription_id=subscription_id,
        event_type=outbox.event_type,
        case_id=outbox.case_id,
        status="pending",
        attempts=0,
        next_attempt_at=outbox.created_at,
        last_status=None,
        last_error="",
        delivered_at=None,
    )


def keys(deliveries: list[Delivery]) -> list[Key]:
    """(message id, subscription id) of each delivery, in the order given."""
    return [(d.message_id, d.subscription_id) for d in deliveries]


def claim(
    store: EventStore, now: datetime, *, lease: timedelta = MINUTE, limit: int = 10
) -> Claimed:
    """Claim the deliveries due at ``now`` for ``lease``."""
    return store.claim_due(now=now, lease_until=now + lease, limit=limit)


def claimed_keys(claimed: Claimed) -> list[Key]:
    """The keys of claimed deliveries, in claim order."""
    return keys([delivery for delivery, _, _ in claimed])


def attempt(
    store: EventStore,
    key: Key,
    status: str,
    at: datetime,
    *,
    next_at: datetime | None = None,
    http: int | None = 200,
    error: str = "",
) -> None:
    """Record one attempt at the delivery ``key``."""
    store.record_attempt(
        message_id=key[0],
        subscription_id=key[1],
        status=status,
        attempted_at=at,
        next_attempt_at=next_at,
        last_status=http,
        last_error=error,
    )


def racing_fixture(store: EventStore) -> list[Key]:
    """Ten messages, a minute apart, to three subscriptions each: 30 keys, due order."""
    for sub in ("s-1", "s-2", "s-3"):
        store.add_subscription(subscription(sub, "org-a"))
    outbox = [message(f"m-{n:02d}", "c-a", "org-a", created_at=T0 + n * MINUTE) for n in range(10)]
    publish(store, *outbox)
    return [(m.message_id, s) for m in outbox for s in ("s-1", "s-2", "s-3")]


def claim_rounds(store: EventStore, rounds: int, barrier: Any) -> list[Key]:
    """Claim (and keep) up to CLAIMS deliveries per round, in step with the other drainers."""
    now = T0 + timedelta(hours=1)
    got: list[Key] = []
    for _ in range(rounds):
        barrier.wait(timeout=60)
        got += claimed_keys(claim(store, now, lease=timedelta(hours=1), limit=CLAIMS))
    return got


def claim_in_process(url: str, rounds: int, barrier: Any, results: Any) -> None:
    """In a spawned process: claim_rounds on a store of its own, the keys sent back."""
    store = SqlEventStore(url)
    try:
        results.put(claim_rounds(store, rounds, barrier))
    except Exception as exc:  # the parent reports the failure as a value
        results.put(f"error: {type(exc).__name__}: {exc}")
    finally:
        store.close()


def three_messages_to_two_subscriptions(store: EventStore) -> None:
    """Subscriptions s-a1 (org-a) and s-b1 (org-b); m-3 to both, then m-1 to org-a, m-2 to
    org-b (created earliest, written last)."""
    for sub, organisation in (("s-b1", "org-b"), ("s-a1", "org-a")):
        store.add_subscription(subscription(sub, organisation))
    publish(store, message("m-3", "c-a", "org-a", "org-b"), case_id="c-a")
    publish(store, message("m-1", "c-b", "org-a"), case_id="c-b")
    publish(store, message("m-2", "c-a", "org-b", created_at=T0 - MINUTE), case_id="c-a")


def deadline(due: date, case_id: str, kind: str, ref: str, responsible: str) -> DeadlineRow:
    """A deadline row; escalated when it is a plan."""
    return DeadlineRow(due, case_id, kind, ref, responsible, escalated=kind == "plan")


def handover(
    case_id: str, number: int, parties: tuple[str, str], status: str, respond_by: date
) -> HandoverRow:
    """A handover row of ``case_id`` between two organisations."""
    return HandoverRow(
        case_id=case_id,
        handover_id=f"h{number}",
        from_organisation=parties[0],
        to_organisation=parties[1],
        purpose="regie",
        status=status,
        respond_by=respond_by,
        proposed_at=T0 + number * MINUTE,
    )


VT, WIJK, GGD = "vt-ijsselland", "wijkteam-zwolle", "ggd-ijsselland"
ROWS_A = {
    "deadlines": (
        deadline(date(2026, 3, 9), "c-a", "veiligheidsbeoordeling", "", VT),
        deadline(date(2026, 3, 16), "c-a", "handover", "h1", WIJK),
    ),
    "handovers": (handover("c-a", 1, (VT, WIJK), "proposed", date(2026, 3, 16)),),
}
ROWS_B = {
    "deadlines": (
        deadline(date(2026, 3, 4), "c-b", "plan", "", WIJK),
        deadline(date(2026, 3, 9), "c-b", "handover", "h2", VT),
    ),
    "handovers": (
        handover("c-b", 1, (WIJK, VT), "accepted", date(2026, 3, 5)),
        handover("c-b", 2, (VT, GGD), "proposed", date(2026, 3, 9)),
    ),
}


ROWS_C = {  # ties with ROWS_A and ROWS_B on due date and response date
    "deadlines": (
        deadline(date(2026, 3, 9), "c-c", "handover", "h1", WIJK),
        deadline(date(2026, 3, 9), "c-c", "plan", "", WIJK),
        deadline(date(2026, 3, 9), "c-c", "plan", "p2", WIJK),
    ),
    "handovers": (
        handover("c-c", 1, (GGD, WIJK), "proposed", date(2026, 3, 9)),
        handover("c-c", 2, (WIJK, VT), "proposed", date(2026, 3, 5)),
    ),
}


def open_cases(store: EventStore, *cases: tuple[str, dict[str, Any]]) -> None:
    """Open each case with one record and a projection carrying the given rows."""
    for case_id, rows in cases:
        store.append(
            case_id=case_id,
            expected_sequence=0,
            records=[record(case_id, 1)],
            projection=projection(case_id, 1, **rows),
        )


def pages(read: Callable[[Any], list[Any]], cursor_of: Callable[[Any], Any]) -> list[list[Any]]:
    """Every page of a list, each read after the cursor of the previous page's last row."""
    found, after = [], None
    while page := read(after):
        found.append(page)
        assert len(found) < 50, "the cursor does not move on"
        after = cursor_of(page[-1])
    return found


def flat(found: list[list[Any]]) -> list[Any]:
    """The rows of all pages, in page order."""
    return [row for page in found for row in page]


@contextmanager
def read_model_writes(store: EventStore) -> Iterator[list[str]]:
    """The INSERT and DELETE statements on the deadline and handover rows while inside."""
    assert isinstance(store, SqlEventStore)
    engine = store._engine  # the statements of the store's own connections
    written: list[str] = []

    def seen(*args: Any) -> None:
        statement = " ".join(str(args[2]).split()).upper()
        if statement.startswith(("INSERT", "DELETE")) and (
            "CASE_DEADLINES" in statement or "CASE_HANDOVERS" in statement
        ):
            written.append(statement.split(" WHERE ")[0].split(" (")[0])

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield written
    finally:
        event.remove(engine, "before_cursor_execute", seen)


class NotificationStoreContract:
    """What every store does with subscriptions, the outbox, deliveries and read models."""

    def test_rotating_a_secret_keeps_the_old_one_beside_the_new_until_a_time(
        self, store: EventStore
    ) -> None:
        """The current secret moves to previous (with its KEK) and the new one is current."""
        store.add_subscription(subscription("s-a1", "org-a"))
        until = T0 + timedelta(hours=24)
        store.rotate_subscription_secret(
            "s-a1", kek_id="kek-2", wrapped_secret=b"new\x00secret", previous_until=until
        )
        [rotated] = store.subscriptions()
        assert (rotated.kek_id, rotated.wrapped_secret) == ("kek-2", b"new\x00secret")
        assert (rotated.previous_kek_id, rotated.wrapped_previous_secret) == ("kek-1", EVERY_BYTE)
        assert rotated.previous_until == until
        assert rotated.previous_until.tzinfo is not None

    def test_a_message_fans_out_to_the_active_subscriptions_of_its_recipients_only(
        self, store: EventStore
    ) -> None:
        """One pending delivery per active subscription of a recipient; none for the others."""
        store.add_subscription(subscription("s-a1", "org-a"))
        store.add_subscription(subscription("s-a2", "org-a", active=False))
        store.add_subscription(subscription("s-b1", "org-b"))
        store.add_subscription(subscription("s-c1", "org-c"))
        sent, unheard = message("m-1", "c-a", "org-a", "org-b"), message("m-2", "c-a", "org-x")
        publish(store, sent, unheard)
        assert store.deliveries() == [pending(sent, "s-a1"), pending(sent, "s-b1")]
        assert store.messages() == [sent, unheard]

    def test_a_subscription_made_later_gets_only_later_messages(self, store: EventStore) -> None:
        """Fan-out happens at append time: a new subscription does not receive older messages."""
        store.add_subscription(subscription("s-a1", "org-a"))
        first = message("m-1", "c-a", "org-a")
        publish(store, first)
        store.add_subscription(subscription("s-a2", "org-a", created_at=T0 + MINUTE))
        second = message("m-2", "c-a", "org-a")
        publish(store, second)
        assert keys(store.deliveries()) == [("m-2", "s-a1"), ("m-2", "s-a2"), ("m-1", "s-a1")]

    def test_a_conflicting_append_writes_no_message_and_no_delivery(
        self, store: EventStore
    ) -> None:
        """An append at a stale sequence raises ConcurrencyConflict and leaves the outbox empty."""
        store.add_subscription(subscription("s-a1", "org-a"))
        publish(store)
        with pytest.raises(ConcurrencyConflict):
            store.append(
                case_id="c-a",
                expected_sequence=0,
                records=[record("c-a", 1)],
                projection=projection("c-a", 1),
                outbox=[message("m-1", "c-a", "org-a")],
            )
        assert (store.messages(), store.deliveries()) == ([], [])
        assert claim(store, T0 + timedelta(days=1)) == []

    def test_subscriptions_list_by_creation_time_and_filter_by_organisation(
        self, store: EventStore
    ) -> None:
        """Subscriptions come back whole (secret bytes exact), oldest first, per organisation."""
        late = subscription("s-late", "org-a", created_at=T0 + timedelta(hours=1))
        early = subscription("s-early", "org-b", created_at=T0)
        middle = subscription("s-middle", "org-a", active=False, created_at=T0 + MINUTE)
        for sub in (late, early, middle):
            store.add_subscription(sub)
        assert store.subscriptions() == [early, middle, late]
        assert store.subscriptions(organisation="org-a") == [middle, late]
        assert store.subscriptions(organisation="org-x") == []

    def test_claim_due_returns_due_pending_deliveries_in_due_order_up_to_the_limit(
        self, store: EventStore
    ) -> None:
        """Only pending deliveries due at ``now`` (inclusive), earliest first, at most ``limit``."""
        sub = subscription("s-a1", "org-a")
        store.add_subscription(sub)
        now = T0 + 5 * MINUTE
        minutes = {"m-3": 3, "m-1": 1, "m-now": 5, "m-later": 6, "m-done": 0, "m-dead": 0}
        outbox = [
            message(m, "c-a", "org-a", created_at=T0 + n * MINUTE) for m, n in minutes.items()
        ]
        publish(store, *outbox)
        attempt(store, ("m-done", "s-a1"), "delivered", T0)
        attempt(store, ("m-dead", "s-a1"), "dead", T0, http=410, error="gone")
        hour = timedelta(hours=1)
        first = claim(store, now, lease=hour, limit=2)
        by_id = {m.message_id: m for m in outbox}
        assert first == [(pending(by_id[m], "s-a1"), by_id[m], sub) for m in ("m-1", "m-3")]
        assert claimed_keys(claim(store, now, lease=hour, limit=2)) == [("m-now", "s-a1")]
        assert claim(store, now) == []
        assert claimed_keys(claim(store, now + MINUTE)) == [("m-later", "s-a1")]

    def test_claims_break_ties_by_message_then_subscription(self, store: EventStore) -> None:
        """Deliveries due at the same moment are claimed by message id, then subscription id."""
        for sub in ("s-2", "s-1"):
            store.add_subscription(subscription(sub, "org-a"))
        publish(store, message("m-b", "c-a", "org-a"), message("m-a", "c-a", "org-a"))
        assert claimed_keys(claim(store, T0, limit=3)) == [
            ("m-a", "s-1"),
            ("m-a", "s-2"),
            ("m-b", "s-1"),
        ]

    def test_a_leased_delivery_is_claimed_again_only_when_its_lease_ends(
        self, store: EventStore
    ) -> None:
        """A claim leases until ``lease_until``: skipped before, claimable again from then on."""
        store.add_subscription(subscription("s-a1", "org-a"))
        publish(store, message("m-1", "c-a", "org-a"))
        assert claimed_keys(claim(store, T0, lease=MINUTE)) == [("m-1", "s-a1")]
        tick = timedelta(microseconds=1)
        assert claim(store, T0 + MINUTE - tick) == []
        again = claim(store, T0 + MINUTE)
        assert claimed_keys(again) == [("m-1", "s-a1")]
        assert again[0][0].attempts == 0  # claiming is not attempting
        assert store.deliveries(status="pending") == [again[0][0]]

    def test_recording_an_attempt_releases_the_lease(self, store: EventStore) -> None:
        """A retry recorded as pending is claimable at its next time, even inside the old lease."""
        store.add_subscription(subscription("s-a1", "org-a"))
        publish(store, message("m-1", "c-a", "org-a"))
        claim(store, T0, lease=timedelta(hours=1))
        attempt(store, ("m-1", "s-a1"), "pending", T0, next_at=T0 + MINUTE, http=503, error="busy")
        assert claim(store, T0 + MINUTE - timedelta(microseconds=1)) == []
        assert claimed_keys(claim(store, T0 + MINUTE)) == [("m-1", "s-a1")]

    def test_attempts_count_and_a_delivery_ends_delivered_or_dead(self, store: EventStore) -> None:
        """Each attempt adds one; delivered keeps its time, dead and delivered are never claimed."""
        store.add_subscription(subscription("s-a1", "org-a"))
        store.add_subscription(subscription("s-b1", "org-b"))
        sent = message("m-1", "c-a", "org-a", "org-b")
        publish(store, sent)
        claim(store, T0)
        attempt(store, ("m-1", "s-a1"), "pending", T0, next_at=T0 + MINUTE, http=503, error="busy")
        attempt(store, ("m-1", "s-b1"), "dead", T0, http=410, error="gone")
        retry = replace(
            pending(sent, "s-a1"),
            attempts=1,
            next_attempt_at=T0 + MINUTE,
            last_status=503,
            last_error="busy",
        )
        assert claim(store, T0 + MINUTE) == [(retry, sent, subscription("s-a1", "org-a"))]
        attempt(store, ("m-1", "s-a1"), "delivered", T0 + 2 * MINUTE)
        assert store.deliveries() == [
            replace(
                retry,
                status="delivered",
                attempts=2,
                next_attempt_at=None,
                last_status=200,
                last_error="",
                delivered_at=T0 + 2 * MINUTE,
            ),
            replace(
                pending(sent, "s-b1"),
                status="dead",
                attempts=1,
                next_attempt_at=None,
                last_status=410,
                last_error="gone",
            ),
        ]
        assert claim(store, T0 + timedelta(days=1)) == []

    def test_a_long_error_is_kept_to_its_first_200_characters(self, store: EventStore) -> None:
        """last_error holds at most 200 characters (the column's size) on every backend."""
        store.add_subscription(subscription("s-a1", "org-a"))
        publish(store, message("m-1", "c-a", "org-a"))
        error = "".join(f"{n:04d}" for n in range(100))
        attempt(store, ("m-1", "s-a1"), "pending", T0, next_at=T0 + MINUTE, http=500, error=error)
        assert [d.last_error for d in store.deliveries()] == [error[:200]]

    def test_deactivating_a_subscription_kills_its_pending_deliveries_and_stops_fan_out(
        self, store: EventStore
    ) -> None:
        """Pending deliveries end dead, delivered ones stay; new messages skip the subscription."""
        store.add_subscription(subscription("s-a1", "org-a"))
        store.add_subscription(subscription("s-a2", "org-a"))
        first, second = message("m-1", "c-a", "org-a"), message("m-2", "c-a", "org-a")
        publish(store, first)
        attempt(store, ("m-1", "s-a1"), "delivered", T0)
        publish(store, second)
        claim(store, T0)  # a lease does not protect a delivery from deactivation
        assert store.deactivate_subscription("s-a1") is True
        assert store.deactivate_subscription("s-unknown") is False
        assert [s.active for s in store.subscriptions()] == [False, True]
        gone = replace(
            pending(second, "s-a1"), status="dead", last_error="subscription deactivated"
        )
        assert store.deliveries(status="dead") == [gone]
        assert keys(store.deliveries(status="delivered")) == [("m-1", "s-a1")]
        publish(store, message("m-3", "c-a", "org-a"))
        assert keys(store.deliveries(status="pending")) == [
            ("m-3", "s-a2"),
            ("m-2", "s-a2"),
            ("m-1", "s-a2"),
        ]
        assert claimed_keys(claim(store, T0 + timedelta(hours=1))) == [
            ("m-1", "s-a2"),
            ("m-2", "s-a2"),
            ("m-3", "s-a2"),
        ]

    def test_deliveries_list_newest_message_first_and_filter_by_status_case_and_limit(
        self, store: EventStore
    ) -> None:
        """Newest message first, then subscription id; status, case and limit narrow the list."""
        three_messages_to_two_subscriptions(store)
        attempt(store, ("m-3", "s-a1"), "delivered", T0)
        assert keys(store.deliveries()) == [
            ("m-2", "s-b1"),
            ("m-1", "s-a1"),
            ("m-3", "s-a1"),
            ("m-3", "s-b1"),
        ]
        assert keys(store.deliveries(case_id="c-a")) == [
            ("m-2", "s-b1"),
            ("m-3", "s-a1"),
            ("m-3", "s-b1"),
        ]
        assert keys(store.deliveries(status="pending", case_id="c-a")) == [
            ("m-2", "s-b1"),
            ("m-3", "s-b1"),
        ]
        assert keys(store.deliveries(status="delivered")) == [("m-3", "s-a1")]
        assert keys(store.deliveries(limit=2)) == [("m-2", "s-b1"), ("m-1", "s-a1")]
        assert store.deliveries(case_id="c-z") == []

    def test_messages_list_in_write_order_and_filter_by_case(self, store: EventStore) -> None:
        """Messages come back whole (body bytes exact) in write order, not by creation time."""
        outbox = [
            message("m-z", "c-a", "org-a", created_at=T0 + MINUTE),
            message("m-y", "c-b", "org-a"),
            message("m-x", "c-a", created_at=T0 - MINUTE),
        ]
        publish(store, outbox[0], case_id="c-a")
        publish(store, outbox[1], case_id="c-b")
        publish(store, outbox[2], case_id="c-a")
        assert store.messages() == outbox
        assert store.messages(case_id="c-a") == [outbox[0], outbox[2]]
        assert store.messages(case_id="c-z") == []
        assert [m.body for m in store.messages()] == [m.body for m in outbox]

    def test_times_come_back_aware_in_utc(self, store: EventStore) -> None:
        """Every stored moment returns aware with a zero UTC offset."""
        store.add_subscription(subscription("s-a1", "org-a"))
        publish(store, message("m-1", "c-a", "org-a"))
        open_cases(store, ("c-b", ROWS_B))
        claimed = claim(store, T0)
        attempt(store, ("m-1", "s-a1"), "delivered", T0 + MINUTE)
        moments = [
            store.subscriptions()[0].created_at,
            store.messages()[0].created_at,
            claimed[0][0].next_attempt_at,
            claimed[0][1].created_at,
            claimed[0][2].created_at,
            store.deliveries()[0].delivered_at,
            *(h.proposed_at for h in store.handover_rows(HandoverFilter())),
        ]
        assert len(moments) == 8
        assert [m.utcoffset() if m else None for m in moments] == [timedelta(0)] * 8

    def test_times_given_at_another_offset_keep_their_instant(self, store: EventStore) -> None:
        """A moment given at UTC+2 is stored as the same instant, and claims compare instants."""
        created = T0.astimezone(PLUS_TWO)
        sub = subscription("s-a1", "org-a", created_at=created)
        store.add_subscription(sub)
        sent = message("m-1", "c-a", "org-a", created_at=created)
        publish(store, sent)
        early = (T0 - 30 * MINUTE).astimezone(PLUS_TWO)  # 10:30 at UTC+2 is 08:30 UTC
        assert claim(store, early) == []
        later = (T0 + MINUTE).astimezone(PLUS_TWO)
        assert claim(store, T0.astimezone(PLUS_TWO), lease=MINUTE) == [
            (pending(sent, "s-a1"), sent, sub)
        ]
        assert claim(store, later - timedelta(microseconds=1)) == []
        attempt(store, ("m-1", "s-a1"), "pending", later, next_at=later + MINUTE, http=500)
        attempt(store, ("m-1", "s-a1"), "delivered", later + MINUTE)
        delivered = store.deliveries()[0]
        assert (delivered.delivered_at, store.subscriptions()) == (T0 + 2 * MINUTE, [sub])
        assert store.messages()[0].created_at == T0

    def test_case_pages_follow_the_cursor_to_the_end_in_case_order(self, store: EventStore) -> None:
        """after_case_id and limit give consecutive pages of the filtered, ordered list."""
        open_cases(store, ("c-c", ROWS_C), ("c-a", ROWS_A), ("c-b", ROWS_B))

        def ids(**criteria: Any) -> list[list[str]]:
            def read(after: str | None) -> list[str]:
                found = store.projections(CaseFilter(after_case_id=after, limit=2, **criteria))
                return [p.case_id for p in found]

            return pages(read, lambda case_id: case_id)

        assert ids() == [["c-a", "c-b"], ["c-c"]]
        assert ids(organisation="vt-ijsselland", phase="aanmelding") == [["c-a", "c-b"], ["c-c"]]
        assert ids(organisation="wijkteam-zwolle") == []
        found = store.projections(CaseFilter(after_case_id="c-a", limit=1))
        assert found == [projection("c-b", 1, **ROWS_B)]  # with its rows attached

    def test_deadline_pages_follow_the_cursor_through_ties_on_the_due_date(
        self, store: EventStore
    ) -> None:
        """Pages after a row's (due, case, kind, ref) add up to the whole list, filters kept."""
        open_cases(store, ("c-a", ROWS_A), ("c-b", ROWS_B), ("c-c", ROWS_C))
        for criteria in (
            {},
            {"responsible": WIJK},
            {"kind": "plan"},
            {"responsible": WIJK, "due_before": date(2026, 3, 16)},
        ):
            whole = store.deadline_rows(DeadlineFilter(**criteria))
            for limit in (1, 2, 3):

                def read(after: Any, limit: int = limit, criteria: Any = criteria) -> list[Any]:
                    found = DeadlineFilter(after=after, limit=limit, **criteria)
                    return store.deadline_rows(found)

                found = pages(read, deadline_cursor)
                assert flat(found) == whole
                assert [len(page) for page in found[:-1]] == [limit] * (len(found) - 1)
        assert len(store.deadline_rows(DeadlineFilter(responsible=WIJK))) == 5

    def test_handover_pages_merge_sent_and_received_in_response_date_order(
        self, store: EventStore
    ) -> None:
        """An organisation's pages hold what it sent and received, in order, each row once."""
        open_cases(store, ("c-a", ROWS_A), ("c-b", ROWS_B), ("c-c", ROWS_C))
        (a_h1,) = ROWS_A["handovers"]
        b_h1, b_h2 = ROWS_B["handovers"]
        c_h1, c_h2 = ROWS_C["handovers"]
        assert store.handover_rows(HandoverFilter(organisation=WIJK)) == [b_h1, c_h2, c_h1, a_h1]
        for criteria in ({}, {"organisation": WIJK}, {"organisation": VT, "status": "proposed"}):
            whole = store.handover_rows(HandoverFilter(**criteria))
            for limit in (1, 2):

                def read(after: Any, limit: int = limit, criteria: Any = criteria) -> list[Any]:
                    found = HandoverFilter(after=after, limit=limit, **criteria)
                    return store.handover_rows(found)

                assert flat(pages(read, handover_cursor)) == whole
        after_b_h1 = HandoverFilter(organisation=WIJK, after=handover_cursor(b_h1), limit=2)
        assert store.handover_rows(after_b_h1) == [c_h2, c_h1]
        assert store.handover_rows(HandoverFilter(organisation=VT, status="proposed")) == [
            c_h2,
            b_h2,
            a_h1,
        ]

    def test_an_append_rewrites_changed_rows_drops_gone_ones_and_adds_new_ones(
        self, store: EventStore
    ) -> None:
        """A row whose values change under the same key is replaced; the rest stay equal."""
        open_cases(store, ("c-b", ROWS_B), ("c-a", ROWS_A))
        b_plan, b_h2 = ROWS_B["deadlines"]
        b_h1, b_ho2 = ROWS_B["handovers"]
        moved = replace(b_plan, due=date(2026, 3, 20), escalated=False)
        added = deadline(date(2026, 3, 3), "c-b", "review", "r1", GGD)
        accepted = replace(b_ho2, status="accepted", proposed_at=T0.astimezone(PLUS_TWO))
        later = projection("c-b", 2, deadlines=(added, b_h2, moved), handovers=(b_h1, accepted))
        store.append(
            case_id="c-b", expected_sequence=1, records=[record("c-b", 2)], projection=later
        )
        a_vb, a_h1 = ROWS_A["deadlines"]
        assert store.deadline_rows(DeadlineFilter()) == [added, a_vb, b_h2, a_h1, moved]
        assert store.handover_rows(HandoverFilter()) == [b_h1, accepted, *ROWS_A["handovers"]]
        assert store.projection("c-b") == later
        assert store.projection("c-a") == projection("c-a", 1, **ROWS_A)

    def test_deliveries_page_after_a_cursor_and_keep_to_the_given_subscriptions(
        self, store: EventStore
    ) -> None:
        """A page starts after (message, subscription) in newest-first order; unknown: none."""
        three_messages_to_two_subscriptions(store)
        whole = store.deliveries()
        assert keys(store.deliveries(after=("m-1", "s-a1"))) == [("m-3", "s-a1"), ("m-3", "s-b1")]
        assert keys(store.deliveries(after=("m-3", "s-a1"))) == [("m-3", "s-b1")]
        assert store.deliveries(after=("m-unknown", "s-a1")) == []
        assert keys(store.deliveries(subscriptions=["s-a1"])) == [
            ("m-1", "s-a1"),
            ("m-3", "s-a1"),
        ]
        assert store.deliveries(subscriptions=[]) == []

        def read(after: Any) -> list[Delivery]:
            return store.deliveries(after=after, limit=1)

        assert flat(pages(read, lambda d: (d.message_id, d.subscription_id))) == whole
        by_b = store.deliveries(subscriptions=["s-b1"], status="pending", after=("m-2", "s-b1"))
        assert keys(by_b) == [("m-3", "s-b1")]

    def test_messages_filter_by_type_and_by_one_recipient_exactly(self, store: EventStore) -> None:
        """A recipient matches one of the ids, never a longer id or a LIKE pattern."""
        feedback = "nl.phasedcare.melder.feedback"
        outbox = [
            replace(message("m-1", "c-a", "org-a", "org_b"), event_type=feedback),
            message("m-2", "c-a", "org-a"),
            replace(message("m-3", "c-a", "org-ab", "orgxb"), event_type=feedback),
            replace(message("m-4", "c-a", "org%", "org-a"), event_type=feedback),
        ]
        publish(store, *outbox)
        assert store.messages(event_type=feedback, recipient="org-a") == [outbox[0], outbox[3]]
        assert store.messages(recipient="org-a") == [outbox[0], outbox[1], outbox[3]]
        assert store.messages(recipient="org_b") == [outbox[0]]
        assert store.messages(recipient="org%") == [outbox[3]]
        assert store.messages(recipient="org") == []
        assert store.messages(event_type="HandoverProposed") == [outbox[1]]

    def test_deadline_rows_filter_by_responsible_due_date_kind_and_limit(
        self, store: EventStore
    ) -> None:
        """Deadlines of every case, earliest first (then case, kind, ref), narrowed by filter."""
        open_cases(store, ("c-b", ROWS_B), ("c-a", ROWS_A))
        a_vb, a_h1 = ROWS_A["deadlines"]
        b_plan, b_h2 = ROWS_B["deadlines"]
        assert store.deadline_rows(DeadlineFilter()) == [b_plan, a_vb, b_h2, a_h1]
        assert store.deadline_rows(DeadlineFilter(responsible=VT)) == [a_vb, b_h2]
        assert store.deadline_rows(DeadlineFilter(due_before=date(2026, 3, 9))) == [b_plan]
        assert store.deadline_rows(DeadlineFilter(kind="handover")) == [b_h2, a_h1]
        assert store.deadline_rows(DeadlineFilter(kind="handover", responsible=WIJK)) == [a_h1]
        assert store.deadline_rows(DeadlineFilter(limit=2)) == [b_plan, a_vb]
        assert store.deadline_rows(DeadlineFilter(responsible="org-x")) == []

    def test_handover_rows_filter_by_either_party_status_and_limit(self, store: EventStore) -> None:
        """Handovers by response date; an organisation matches as sender or as receiver."""
        open_cases(store, ("c-a", ROWS_A), ("c-b", ROWS_B))
        (a_h1,) = ROWS_A["handovers"]
        b_h1, b_h2 = ROWS_B["handovers"]
        assert store.handover_rows(HandoverFilter()) == [b_h1, b_h2, a_h1]
        assert store.handover_rows(HandoverFilter(organisation=WIJK)) == [b_h1, a_h1]
        assert store.handover_rows(HandoverFilter(organisation=GGD)) == [b_h2]
        assert store.handover_rows(HandoverFilter(status="proposed")) == [b_h2, a_h1]
        assert store.handover_rows(HandoverFilter(organisation=VT, status="accepted")) == [b_h1]
        assert store.handover_rows(HandoverFilter(limit=1)) == [b_h1]

    def test_projections_carry_their_deadline_and_handover_rows(self, store: EventStore) -> None:
        """projection() and projections() return the rows attached as they were appended."""
        written = {"c-a": projection("c-a", 1, **ROWS_A), "c-b": projection("c-b", 1, **ROWS_B)}
        for case_id, row in written.items():
            store.append(
                case_id=case_id, expected_sequence=0, records=[record(case_id, 1)], projection=row
            )
        assert store.projection("c-b") == written["c-b"]
        assert store.projections(CaseFilter()) == [written["c-a"], written["c-b"]]

    def test_an_append_replaces_its_cases_rows_and_one_without_a_projection_keeps_them(
        self, store: EventStore
    ) -> None:
        """A new projection brings the case's new rows only; a projection-less append none."""
        open_cases(store, ("c-b", ROWS_B))
        store.append(
            case_id="c-b", expected_sequence=1, records=[record("c-b", 2)], projection=None
        )
        assert len(store.deadline_rows(DeadlineFilter())) == 2
        b_plan, _ = ROWS_B["deadlines"]
        b_h1, _ = ROWS_B["handovers"]
        store.append(
            case_id="c-b",
            expected_sequence=2,
            records=[record("c-b", 3)],
            projection=projection("c-b", 3, deadlines=(b_plan,), handovers=(b_h1,)),
        )
        assert store.deadline_rows(DeadlineFilter()) == [b_plan]
        assert store.handover_rows(HandoverFilter()) == [b_h1]

    def test_replace_projections_rebuilds_the_deadline_and_handover_rows(
        self, store: EventStore
    ) -> None:
        """Rebuilding from the same projections gives equal rows; a smaller set drops the rest."""
        open_cases(store, ("c-a", ROWS_A), ("c-b", ROWS_B))
        before = (store.deadline_rows(DeadlineFilter()), store.handover_rows(HandoverFilter()))
        assert store.replace_projections(store.projections(CaseFilter())) == 2
        after = (store.deadline_rows(DeadlineFilter()), store.handover_rows(HandoverFilter()))
        assert (len(before[0]), len(before[1])) == (4, 3)
        assert after == before
        assert store.replace_projections([projection("c-a", 1, **ROWS_A)]) == 1
        assert store.deadline_rows(DeadlineFilter()) == list(ROWS_A["deadlines"])
        assert store.handover_rows(HandoverFilter()) == list(ROWS_A["handovers"])
        assert store.replace_projections([]) == 0
        assert (store.deadline_rows(DeadlineFilter()), store.handover_rows(HandoverFilter())) == (
            [],
            [],
        )

    def test_erasing_a_case_drops_its_deadline_and_handover_rows(self, store: EventStore) -> None:
        """destroy_case_key removes the case's read-model rows with its projection."""
        open_cases(store, ("c-a", ROWS_A), ("c-b", ROWS_B))
        store.add_case_keys([WrappedKey(case_id="c-b", version=1, kek_id="k1", wrapped=EVERY_BYTE)])
        assert store.destroy_case_key("c-b") is True
        assert store.deadline_rows(DeadlineFilter()) == list(ROWS_A["deadlines"])
        assert store.handover_rows(HandoverFilter()) == list(ROWS_A["handovers"])

    @pytest.mark.parametrize("drainers", ["one shared store", "a store each"])
    def test_two_threads_claiming_at_once_never_get_the_same_delivery(
        self, store: EventStore, make_store: MakeStore, drainers: str
    ) -> None:
        """Two drainers in threads, claiming in step: every delivery is claimed exactly once."""
        expected = racing_fixture(store)
        second = store if drainers == "one shared store" else make_store()
        barrier = threading.Barrier(2)
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                runs = [pool.submit(claim_rounds, s, 8, barrier) for s in (store, second)]
                claimed = [key for run in runs for key in run.result(timeout=60)]
        finally:
            if second is not store:
                second.close()
        assert sorted(claimed) == sorted(expected)

    def test_a_taken_message_id_fails_the_whole_append(self, store: EventStore) -> None:
        """A second message with a stored id raises StoreError; the append's records are gone."""
        store.add_subscription(subscription("s-a1", "org-a"))
        first = message("m-1", "c-a", "org-a")
        publish(store, first)
        with pytest.raises(StoreError, match="append to case c-b failed"):
            publish(store, message("m-2", "c-b", "org-a"), first, case_id="c-b")
        assert (store.messages(), keys(store.deliveries())) == ([first], [("m-1", "s-a1")])
        assert store.load("c-b") == []


class SqlNotificationStoreContract(NotificationStoreContract):
    """What only a database shows; mix in with ``database_url``, ``store`` and ``make_store``."""

    def test_a_driver_failure_mid_append_writes_no_record_message_or_delivery(
        self, store: EventStore, database_url: str
    ) -> None:
        """Deliveries cannot be written: the append raises StoreError and nothing stays."""
        store.add_subscription(subscription("s-a1", "org-a"))
        admin = create_engine(database_url)
        with admin.begin() as conn:
            conn.execute(text("DROP TABLE webhook_deliveries"))
        admin.dispose()
        with pytest.raises(StoreError, match="append to case c-a failed"):
            publish(store, message("m-1", "c-a", "org-a"))
        assert (store.messages(), store.load("c-a"), store.projection("c-a")) == ([], [], None)

    def test_an_append_writes_only_the_read_model_rows_that_changed(
        self, store: EventStore
    ) -> None:
        """Unchanged deadline and handover rows are not deleted and written again."""
        open_cases(store, ("c-b", ROWS_B))
        b_plan, b_h2 = ROWS_B["deadlines"]
        with read_model_writes(store) as same:
            store.append(
                case_id="c-b",
                expected_sequence=1,
                records=[record("c-b", 2)],
                projection=projection("c-b", 2, **ROWS_B),
            )
        moved = replace(b_plan, due=date(2026, 3, 20))
        with read_model_writes(store) as one:
            store.append(
                case_id="c-b",
                expected_sequence=2,
                records=[record("c-b", 3)],
                projection=projection(
                    "c-b", 3, deadlines=(moved, b_h2), handovers=ROWS_B["handovers"]
                ),
            )
        assert same == []
        assert one == ["DELETE FROM CASE_DEADLINES", "INSERT INTO CASE_DEADLINES"]
        assert store.deadline_rows(DeadlineFilter()) == [b_h2, moved]

    def test_two_processes_claiming_at_once_never_get_the_same_delivery(
        self, store: EventStore, database_url: str
    ) -> None:
        """Two drainer processes, claiming in step: every delivery is claimed exactly once."""
        expected = racing_fixture(store)
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(2)
        results = context.Queue()
        workers = [
            context.Process(target=claim_in_process, args=(database_url, 8, barrier, results))
            for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        per_process = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
            worker.close()
        results.close()
        results.join_thread()
        assert [p for p in per_process if isinstance(p, str)] == []
        assert sorted(key for keys_ in per_process for key in keys_) == sorted(expected)


class PostgresNotificationStoreContract(SqlNotificationStoreContract):
    """What only PostgreSQL shows: a session in another time zone."""

    @pytest.fixture
    def amsterdam_url(self, database_url: str) -> str:
        """The database URL with the session time zone set to Europe/Amsterdam."""
        assert "options=" in database_url  # the fixture's schema option; add one more
        return database_url + "%20-cTimeZone%3DEurope/Amsterdam"

    def test_times_come_back_in_utc_whatever_the_session_time_zone(
        self, store: EventStore, amsterdam_url: str
    ) -> None:
        """A session at Europe/Amsterdam still reads every notification moment at UTC."""
        store.add_subscription(subscription("s-a1", "org-a"))
        publish(store, message("m-1", "c-a", "org-a"))
        open_cases(store, ("c-b", ROWS_B))
        amsterdam = SqlEventStore(amsterdam_url)
        try:
            ((delivery, sent, sub),) = claim(amsterdam, T0)
            attempt(amsterdam, ("m-1", "s-a1"), "delivered", T0 + MINUTE)
            moments = [
                delivery.next_attempt_at,
                sent.created_at,
                sub.created_at,
                amsterdam.deliveries()[0].delivered_at,
                *(h.proposed_at for h in amsterdam.handover_rows(HandoverFilter())),
            ]
        finally:
            amsterdam.close()
        assert [m.utcoffset() if m else None for m in moments] == [timedelta(0)] * 6
        assert moments == [T0, T0, T0, T0 + MINUTE, T0 + MINUTE, T0 + 2 * MINUTE]
