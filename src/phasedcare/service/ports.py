"""The ports the service layer needs from the outside world, as Protocols.

Every port has a real in-memory implementation (``phasedcare.store.memory``) that tests and
docs use, and a SQL implementation (``phasedcare.store.sql``) for SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from phasedcare.ledger.keys import CaseKeyStore
from phasedcare.ledger.records import StoredEvent

__all__ = [
    "AcuteFirstCursor",
    "ApiKey",
    "ApiKeyStore",
    "Append",
    "CaseFilter",
    "CaseProjection",
    "DeadlineCursor",
    "DeadlineFilter",
    "DeadlineRow",
    "Delivery",
    "DeliveryCursor",
    "EventStore",
    "HandoverCursor",
    "HandoverFilter",
    "HandoverRow",
    "IdempotencyRecord",
    "IdempotencyStore",
    "NotificationStore",
    "OutboxMessage",
    "Subscription",
    "TreeEntry",
    "TreeNode",
    "acute_first_cursor",
    "deadline_cursor",
    "handover_cursor",
]

TreeEntry = tuple[str, int, bytes]
"""An integrated record as the tree and the map of heads see it: case, sequence, leaf hash."""

TreeNode = tuple[int, int, bytes]
"""A stored perfect subtree root: level, index at that level, hash."""


@dataclass(frozen=True, slots=True, order=True)
class DeadlineRow:
    """One deadline of a case in the read model: what, by when, who, and whether escalated;
    ``due_at``, the precise moment of one counted in hours (an acute melding's)."""

    due: date
    case_id: str
    kind: str
    ref: str
    responsible: str
    escalated: bool
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HandoverRow:
    """One handover of a case in the read model (its payload stays sealed in the ledger)."""

    case_id: str
    handover_id: str
    from_organisation: str
    to_organisation: str
    purpose: str
    status: str
    respond_by: date
    proposed_at: datetime


@dataclass(frozen=True, slots=True)
class CaseProjection:
    """The read model of one case: ids, phases, dates and organisations, never a name.

    Rebuilt from the events at any time; equal to the live row (a test proves it).
    """

    case_id: str
    region: str
    opened_via: str
    acute: bool
    phase: str
    vt_stage: str
    regie_organisation: str
    casusregisseur: str
    opened_at: datetime
    updated_at: datetime
    sequence: int
    next_deadline: date | None
    next_deadline_kind: str | None
    next_obligation: str | None = None
    zicht_until: date | None = None
    deadlines: tuple[DeadlineRow, ...] = ()
    handovers: tuple[HandoverRow, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Which projections to list; ``None`` means any. Results are ordered by case id.

    ``after_case_id`` is a page's cursor: only cases whose id sorts after it. ``acute``: only
    the acute cases (True) or only the others (False), for lists that put acute ones first.
    """

    organisation: str | None = None
    phase: str | None = None
    region: str | None = None
    deadline_before: date | None = None
    limit: int | None = None
    after_case_id: str | None = None
    acute: bool | None = None


DeadlineCursor = tuple[date, str, str, str]
"""Where a page of deadlines ends: the last row's (due, case id, kind, ref), its sort key."""

AcuteFirstCursor = tuple[bool, date, str, str, str]
"""Where a page of an acute-first deadline list ends: whether the last row was acute (due at a
moment), then its sort key within that part of the list."""

HandoverCursor = tuple[date, str, str]
"""Where a page of handovers ends: the last row's (respond_by, case id, handover id)."""

DeliveryCursor = tuple[str, str]
"""Where a page of deliveries ends: the last one's (message id, subscription id)."""


def deadline_cursor(row: DeadlineRow) -> DeadlineCursor:
    """The sort key of a deadline row, which a page after it starts from."""
    return (row.due, row.case_id, row.kind, row.ref)


def acute_first_cursor(row: DeadlineRow) -> AcuteFirstCursor:
    """Where an acute-first page of deadlines that ends with ``row`` continues."""
    return (row.due_at is not None, *deadline_cursor(row))


def handover_cursor(row: HandoverRow) -> HandoverCursor:
    """The sort key of a handover row, which a page after it starts from."""
    return (row.respond_by, row.case_id, row.handover_id)


@dataclass(frozen=True, slots=True)
class DeadlineFilter:
    """Which deadlines to list, earliest first; ``None`` means any.

    Overdue is ``due_before`` (today) with ``due_at_before`` (now): a deadline due before
    today, or one due at a moment before now, passes either.

    ``after`` is a page's cursor: only rows whose sort key follows it. ``acute``: only the
    deadlines due at a moment (an acute melding's, True) or only the others (False).
    """

    responsible: str | None = None
    due_before: date | None = None
    due_at_before: datetime | None = None
    kind: str | None = None
    limit: int | None = None
    after: DeadlineCursor | None = None
    acute: bool | None = None


@dataclass(frozen=True, slots=True)
class HandoverFilter:
    """Which handovers to list: an organisation as sender or receiver, a status.

    ``after`` is a page's cursor: only rows whose sort key follows it.
    """

    organisation: str | None = None
    status: str | None = None
    limit: int | None = None
    after: HandoverCursor | None = None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A notification written with the command that caused it: ids only, never a name.

    ``body`` is the CloudEvent as sent (signed per delivery); ``recipients`` are the
    organisations whose webhook subscriptions receive it.
    """

    message_id: str
    case_id: str
    event_type: str
    created_at: datetime
    recipients: tuple[str, ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Append:
    """One case's new records and what is written with them: see :meth:`EventStore.append`.

    The engine turns each decided command into one; a bulk import appends many at once
    (:meth:`EventStore.append_batch`).
    """

    case_id: str
    expected_sequence: int
    records: Sequence[StoredEvent]
    projection: CaseProjection | None
    index: Sequence[bytes] = ()
    outbox: Sequence[OutboxMessage] = ()
    idempotency: IdempotencyRecord | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """An organisation's webhook endpoint; its signing secret is wrapped by a KEK."""

    subscription_id: str
    organisation: str
    url: str
    kek_id: str
    wrapped_secret: bytes
    active: bool
    created_at: datetime
    previous_kek_id: str | None = None
    wrapped_previous_secret: bytes | None = None
    previous_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to one subscription: its state, attempts and when it is next tried."""

    message_id: str
    subscription_id: str
    event_type: str
    case_id: str
    status: str  # pending, delivered, dead
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str
    delivered_at: datetime | None


class NotificationStore(Protocol):
    """Webhook subscriptions and the deliveries of outbox messages to them.

    Messages enter with :meth:`EventStore.append` (same transaction as their events), which
    also creates one pending delivery per active subscription of each recipient.
    """

    def add_subscription(self, subscription: Subscription) -> None:
        """Store a new subscription."""
        ...

    def subscriptions(self, *, organisation: str | None = None) -> list[Subscription]:
        """Subscriptions, active or not, by creation time."""
        ...

    def rotate_subscription_secret(
        self,
        subscription_id: str,
        *,
        kek_id: str,
        wrapped_secret: bytes,
        previous_until: datetime,
    ) -> None:
        """Make a new secret current; the old one stays valid (signed too) until
        ``previous_until``, so receivers can switch without missing a delivery."""
        ...

    def deactivate_subscription(self, subscription_id: str) -> bool:
        """Stop deliveries to a subscription (pending ones end dead); False when unknown."""
        ...

    def claim_due(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[tuple[Delivery, OutboxMessage, Subscription]]:
        """Pending deliveries due at ``now``, leased until ``lease_until`` so that another
        drainer skips them; each with its message and subscription."""
        ...

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
        """Record the outcome of one attempt and release the lease."""
        ...

    def deliveries(
        self,
        *,
        status: str | None = None,
        case_id: str | None = None,
        limit: int | None = None,
        subscriptions: Sequence[str] | None = None,
        after: DeliveryCursor | None = None,
    ) -> list[Delivery]:
        """Deliveries, newest message first (then by subscription id).

        ``subscriptions`` keeps those to these subscriptions only; ``after`` is a page's
        cursor: only deliveries that follow it in that order.
        """
        ...

    def messages(
        self,
        *,
        case_id: str | None = None,
        event_type: str | None = None,
        recipient: str | None = None,
    ) -> list[OutboxMessage]:
        """Outbox messages in the order they were written, of one type or to one recipient."""
        ...


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key: the actor it acts as and a keyed digest of its token (never the token).

    ``actor`` is ``user@organisation:role``; a key is revoked once ``revoked_at`` is set.
    """

    key_id: str
    actor: str
    label: str
    token_hash: bytes
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """The stored outcome of a request made with an ``Idempotency-Key``, replayed on a retry.

    One per (actor, key): ``request_hash``, a keyed digest of the request, tells a retry from
    another request reusing the key. ``case_id`` names the case the command wrote to, so the
    record is erased with it (None for records stored before schema 0007).
    """

    key: str
    actor: str
    method: str
    path: str
    request_hash: str
    status: int
    response_body: bytes
    created_at: datetime
    case_id: str | None = None


class ApiKeyStore(Protocol):
    """API keys, stored hashed; a key is revoked, never deleted."""

    def add_api_key(self, key: ApiKey) -> None:
        """Store a new key."""
        ...

    def api_key(self, key_id: str) -> ApiKey | None:
        """One key, or None when unknown."""
        ...

    def api_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, by creation time (then id)."""
        ...

    def revoke_api_key(self, key_id: str, *, revoked_at: datetime) -> ApiKey | None:
        """Revoke a key (a second revocation keeps the first time); None when unknown."""
        ...


class IdempotencyStore(Protocol):
    """The outcomes of requests made with an idempotency key, one per (actor, key).

    ``destroy_case_key`` deletes a case's records with its key (crypto-shredding).
    """

    def idempotency_get(self, actor: str, key: str) -> IdempotencyRecord | None:
        """The record stored for this actor's key, or None."""
        ...

    def idempotency_put(self, record: IdempotencyRecord) -> IdempotencyRecord:
        """Store the record, or return the one another request stored first for its
        (actor, key): never an error for a race, the first writer wins."""
        ...

    def idempotency_expire(self, before: datetime) -> int:
        """Delete the records created before ``before``; returns how many."""
        ...


class EventStore(CaseKeyStore, NotificationStore, ApiKeyStore, IdempotencyStore, Protocol):
    """Append-only storage of sealed event records, with projections kept in step.

    It also keeps the cases' wrapped data keys (:class:`CaseKeyStore`).

    ``append`` is atomic: the records and the new projection row are written in one
    transaction, or nothing is written.
    """

    def append(
        self,
        *,
        case_id: str,
        expected_sequence: int,
        records: Sequence[StoredEvent],
        projection: CaseProjection | None,
        index: Sequence[bytes] = (),
        outbox: Sequence[OutboxMessage] = (),
        idempotency: IdempotencyRecord | None = None,
    ) -> None:
        """Append records numbered ``expected_sequence + 1 ...`` and upsert the projection.

        Streams that are not cases (access logs, ``<case>~access``) pass no projection.
        ``index`` holds blind-index tokens that point at this case, ``outbox`` the
        notifications the records cause, ``idempotency`` the result of the request that made
        them (all in the same transaction: a retry finds the result exactly when the records
        were written).

        Raises:
            ConcurrencyConflict: the case's last sequence is not ``expected_sequence``
                (another writer got there first), or the idempotency record's (actor, key)
                is taken; nothing is written.
            StoreError: the backend failed; nothing is written.
        """
        ...

    def append_batch(self, appends: Sequence[Append]) -> None:
        """Make every append, each as :meth:`append` would, in one transaction: all or none.

        Each case appears at most once. On PostgreSQL the cases' locks are taken in sorted
        case order, so two batches (or a batch and single appends) never deadlock.

        Raises:
            ValueError: a case appears twice, or an append's records are misnumbered.
            ConcurrencyConflict: some case's last sequence is not its ``expected_sequence``;
                nothing is written.
            StoreError: the backend failed; nothing is written.
        """
        ...

    def load(self, case_id: str, *, up_to: int | None = None) -> list[StoredEvent]:
        """The case's records in sequence order, optionally only those with sequence <= up_to."""
        ...

    def case_ids(self) -> list[str]:
        """Every case id that has records, sorted (streams with a ``~`` are not cases)."""
        ...

    def head(self, case_id: str) -> tuple[int, bytes] | None:
        """The last sequence number and leaf hash of a stream, or None when it is empty."""
        ...

    def read_all(self, *, after_position: int = 0, batch_size: int = 1000) -> Iterator[StoredEvent]:
        """Every record in global position order, starting after ``after_position``."""
        ...

    def projection(self, case_id: str) -> CaseProjection | None:
        """The live projection of one case, or None when the case is unknown."""
        ...

    def projections(self, case_filter: CaseFilter) -> list[CaseProjection]:
        """Live projections matching the filter, ordered by case id."""
        ...

    def deadline_rows(self, deadline_filter: DeadlineFilter) -> list[DeadlineRow]:
        """Deadlines of all cases passing the filter, earliest first."""
        ...

    def handover_rows(self, handover_filter: HandoverFilter) -> list[HandoverRow]:
        """Handovers of all cases passing the filter, by response date."""
        ...

    def replace_projections(
        self,
        projections: Iterable[CaseProjection],
        *,
        policy: str | None = None,
        unless_current: bool = False,
    ) -> int | None:
        """Replace every projection row in one transaction; returns how many were written.

        ``policy`` (a :attr:`RegionalPolicy.fingerprint`) is recorded in that transaction as
        the policy the rows were built under. With ``unless_current`` nothing is replaced
        (None) when the rows are under ``policy`` already: another process got there first.
        """
        ...

    def projections_policy(self) -> str | None:
        """The policy fingerprint the projection rows were last rebuilt under (None: never)."""
        ...

    def find_by_token(self, token: bytes) -> list[str]:
        """The cases a blind-index token points at, sorted."""
        ...

    def integrate(self, *, accept: Callable[[StoredEvent], bool] | None = None) -> int:
        """Give each waiting record ``accept`` takes the next Merkle tree index (in position
        order); one it refuses keeps none and waits (verify reports it).

        One integrator at a time (a lock), so indexes are gapless; returns the tree size.
        Costs O(new records), whatever the tree's size.
        """
        ...

    def tree_leaves(self, *, start: int = 0, stop: int | None = None) -> list[bytes]:
        """The leaf hashes of the integrated records with ``start <= tree index < stop``."""
        ...

    def tree_entries(self, *, start: int = 0, stop: int | None = None) -> list[TreeEntry]:
        """(case, sequence, leaf) of the integrated records with ``start <= index < stop``."""
        ...

    def heads_at(self, size: int) -> list[TreeEntry]:
        """Each stream's last record among the first ``size`` leaves of the tree."""
        ...

    def tree_node(self, level: int, index: int) -> bytes | None:
        """The stored root of the perfect subtree ``index`` at ``level`` (leaves
        ``[index * 2**level, (index + 1) * 2**level)``), if a checkpoint kept it."""
        ...

    def add_checkpoint(
        self, *, size: int, note: str, frontier: bytes = b"", nodes: Sequence[TreeNode] = ()
    ) -> None:
        """Keep a signed checkpoint note and the tree's frontier at its size (one per tree
        size; a repeat is ignored), and the subtree roots it completed, in one transaction."""
        ...

    def latest_checkpoint(self) -> tuple[int, str, bytes] | None:
        """The largest checkpoint kept with a frontier: its size, note and frontier."""
        ...

    def checkpoints(self) -> list[str]:
        """Every stored checkpoint note, by tree size."""
        ...

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...
