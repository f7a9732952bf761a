"""Obligations (verplichtingen): the duties a case runs against, and how each one ended.

A deadline (:mod:`phasedcare.domain.deadlines`) says what the case runs against *now*; it
leaves the list when the state moves on, met or not. An obligation remembers it. It is
opened by the event after which its deadline first appears, follows that deadline while it
is listed (a changed due date or responsible organisation updates it), and ends only by

- a recorded fulfilment: its deadline leaves the list on an event of ``FULFILLED_BY[kind]``,
  or, for a duty that recurs (a condition's check, the plan's review), that event moves it
  to a later due date: this one is fulfilled and the next one opens;
- a recorded decision that makes it moot: a waiver with a reason (:class:`ObligationWaived`),
  an unanswered handover that expired (the sender keeps regie, ``MOOTED_BY``), or a recorded
  decision that took the duty away before it fell due (a scale-up ends monitoring, a closure
  ends a condition's next check);

An event that takes away a duty already past its due date (a closure, a phase change) leaves
it open: the case moved on without it, it stays overdue, the sweep escalates it, and only a
fulfilment or a waiver ends it. An escalation keeps it open and marks it escalated. The
obligations are a pure function of (events, policy, calendar), computed by folding the events
one by one, so a rebuild gives the live answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum

from phasedcare.domain import events as ev
from phasedcare.domain.calendar import WorkingDayCalendar
from phasedcare.domain.case import CaseState, apply
from phasedcare.domain.deadlines import FULFILLED_BY, Deadline, deadlines, passed
from phasedcare.domain.policy import RegionalPolicy

__all__ = [
    "MOOTED_BY",
    "NOT_WAIVED",
    "SOURCES",
    "STANDING",
    "UNSOURCED",
    "Mark",
    "Obligation",
    "ObligationBook",
    "ObligationStatus",
    "obligations",
    "record",
    "source_of",
    "track",
]

SOURCES: dict[str, str] = {
    "veiligheidsbeoordeling": (
        "Uitvoeringsbesluit Wmo 2015 art. 4.1.7 / Handelingsprotocol Veilig Thuis: every "
        "melding gets a veiligheidsbeoordeling within 5 werkdagen; an acute melding at once "
        "(LNVT: acuut gevaar altijd onmiddellijk)"
    ),
    "onderzoek": "Handelingsprotocol Veilig Thuis: an onderzoek is completed within 10 weken",
    "monitoring": (
        "Handelingsprotocol Veilig Thuis (radarfunctie): monitoring after the overdracht, "
        "whether safety is reached and lasts; moments by regional policy (3 and 12 months)"
    ),
    "safety_plan_review": (
        "visie gefaseerde ketenzorg, regional policy (safety_plan_review_werkdagen): the "
        "regiehouder reviews the safety plan while safety is built"
    ),
    "handover_response": (
        "warme overdracht (Handelingsprotocol Veilig Thuis): the receiver answers; until it "
        "accepts, the sender keeps zicht op veiligheid"
    ),
    "condition_check": (
        "Handelingsprotocol Veilig Thuis, overdracht: de veiligheidsvoorwaarden vormen de basis "
        "van de monitor; the organisation that owns a safety condition checks it at its cadence"
    ),
    "huisverbod_hulp": (
        "Wet tijdelijk huisverbod: help starts within the 10 days of the tijdelijk huisverbod"
    ),
    "break_glass_review": (
        "NEN 7513 / AVG art. 5(2) accountability: Veilig Thuis reviews every break-glass use "
        "within 5 werkdagen"
    ),
}
"""The legal or policy source of each kind of obligation: the one table of them."""

MOOTED_BY: dict[str, dict[str, str]] = {
    "handover_response": {
        "HandoverExpired": "expired unanswered: the sender keeps regie and zicht op veiligheid",
        "HandoverProposed": "the sender followed the expired handover with a new one",
    },
}
"""Per kind, the recorded decisions other than a waiver that end its obligation as moot, and
why (the sweep records an unanswered handover's expiry, which keeps regie with the sender; the
sender's decision on an expired one ends when it proposes a new one)."""

NOT_WAIVED: dict[str, str] = {
    "handover_response": (
        "a handover is answered, not waived: the receiver accepts or rejects it, the sender "
        "withdraws it, or the sweep expires it"
    ),
    "break_glass_review": (
        "a break-glass use is reviewed, not waived: Veilig Thuis records its review (NEN 7513)"
    ),
}
"""Kinds a waiver may not end, and what ends them instead: the sweep expires an unanswered
handover from its obligation, and every break-glass use is accounted for."""

STANDING = frozenset({"condition_check", "safety_plan_review"})
"""Duties that recur while the case is in a state (a condition's next check, the plan's next
review): one not yet due does not hold a closure back, the closure ends it as moot."""

UNSOURCED = "regional policy (no source recorded for this kind of obligation)"
"""What a kind without an entry in :data:`SOURCES` cites (a test keeps the table complete)."""


def source_of(kind: str) -> str:
    """The legal or policy source of obligations of ``kind``."""
    return SOURCES.get(kind, UNSOURCED)


class ObligationStatus(StrEnum):
    """Where an obligation stands: open, escalated (and still open), fulfilled or moot."""

    open = "open"
    escalated = "escalated"
    fulfilled = "fulfilled"
    moot = "moot"


@dataclass(frozen=True, slots=True)
class Mark:
    """One recorded event an obligation points at: its sequence, moment and type."""

    sequence: int
    at: datetime
    event: str


@dataclass(frozen=True, slots=True)
class Obligation:
    """One duty of one organisation, from the event that opened it to the one that ended it.

    ``moved_on`` is the event after which the case no longer listed its deadline although it
    was neither fulfilled nor waived: the case moved on without it, and it stays open.
    """

    id: str
    kind: str
    ref: str
    description: str
    responsible: str
    due: date
    source: str
    opened: Mark
    status: ObligationStatus = ObligationStatus.open
    due_at: datetime | None = None
    escalated: bool = False
    moved_on: Mark | None = None
    ended: Mark | None = None
    ended_why: str = ""

    @property
    def is_open(self) -> bool:
        """True until a fulfilment or a waiver ended it (escalated ones are open)."""
        return self.ended is None

    def overdue_on(self, day: date, now: datetime | None = None) -> bool:
        """Open and past its due date on ``day`` (an acute one past its moment at ``now``)."""
        return self.is_open and passed(self.due, self.due_at, day, now)

    def as_deadline(self) -> Deadline:
        """The deadline it is owed by, as the case lists it."""
        return Deadline(
            self.due,
            self.kind,
            self.ref,
            self.description,
            self.responsible,
            self.escalated,
            self.due_at,
        )


_Key = tuple[str, str]


@dataclass(slots=True)
class ObligationBook:
    """The obligations of one case so far, and the deadlines its last event left listed."""

    all: dict[str, Obligation] = field(default_factory=dict)
    open_ids: dict[_Key, str] = field(default_factory=dict)
    listed: frozenset[_Key] = frozenset()

    @property
    def open(self) -> list[Obligation]:
        """The open obligations (escalated ones too), earliest due first."""
        return sorted((self.all[i] for i in self.open_ids.values()), key=_by_due)

    @property
    def obligations(self) -> list[Obligation]:
        """Every obligation ever opened, in the order they were opened."""
        return list(self.all.values())


def _by_due(obligation: Obligation) -> tuple[date, datetime, str]:
    """Earliest day first; within a day, a duty due at a moment (acute) before the rest."""
    return (obligation.due, obligation.due_at or _END_OF_TIME, obligation.id)


_END_OF_TIME = datetime.max.replace(tzinfo=UTC)


def _new_id(book: ObligationBook, kind: str, ref: str) -> str:
    """``kind:ref``; a duty of the same kind and ref opened again later gets ``:2``, ``:3``."""
    base = f"{kind}:{ref}"
    if base not in book.all:
        return base
    n = 2
    while f"{base}:{n}" in book.all:
        n += 1
    return f"{base}:{n}"


def _follow(obligation: Obligation, deadline: Deadline) -> Obligation:
    """The obligation as its listed deadline now says (due date, responsible, escalation)."""
    escalated = obligation.escalated or deadline.escalated
    return replace(
        obligation,
        description=deadline.description,
        responsible=deadline.responsible,
        due=deadline.due,
        due_at=deadline.due_at,
        escalated=escalated,
        status=_open_status(escalated),
        moved_on=None,
    )


def _open_status(escalated: bool) -> ObligationStatus:
    return ObligationStatus.escalated if escalated else ObligationStatus.open


def _opened(book: ObligationBook, deadline: Deadline, mark: Mark) -> None:
    obligation = Obligation(
        id=_new_id(book, deadline.kind, deadline.ref),
        kind=deadline.kind,
        ref=deadline.ref,
        description=deadline.description,
        responsible=deadline.responsible,
        due=deadline.due,
        due_at=deadline.due_at,
        source=source_of(deadline.kind),
        opened=mark,
        escalated=deadline.escalated,
        status=_open_status(deadline.escalated),
    )
    book.all[obligation.id] = obligation
    book.open_ids[(deadline.kind, deadline.ref)] = obligation.id


def _end(book: ObligationBook, key: _Key, status: ObligationStatus, mark: Mark, why: str) -> None:
    obligation_id = book.open_ids.pop(key)
    ended = replace(book.all[obligation_id], status=status, ended=mark, ended_why=why)
    book.all[obligation_id] = ended


def _fulfils(kind: str, mark: Mark) -> bool:
    return mark.event in FULFILLED_BY.get(kind, frozenset())


def _left(book: ObligationBook, key: _Key, mark: Mark, policy: RegionalPolicy) -> None:
    """Its deadline left the list on ``mark``: fulfilled by a fulfilling event, moot by a
    decision that ends it or came before it fell due, else still open (moved on)."""
    obligation = book.all[book.open_ids[key]]
    if _fulfils(key[0], mark):
        _end(book, key, ObligationStatus.fulfilled, mark, f"fulfilled by {mark.event}")
    elif mark.event in MOOTED_BY.get(key[0], {}):
        _end(book, key, ObligationStatus.moot, mark, MOOTED_BY[key[0]][mark.event])
    elif not obligation.overdue_on(policy.local_date(mark.at), mark.at):
        why = f"no longer owed after {mark.event}, before it fell due"
        _end(book, key, ObligationStatus.moot, mark, why)
    elif obligation.moved_on is None:
        book.all[obligation.id] = replace(obligation, moved_on=mark)


def _renewed(obligation: Obligation, deadline: Deadline, mark: Mark) -> bool:
    """A recurring duty met: a fulfilling event moved its listed deadline to a later date."""
    return _fulfils(deadline.kind, mark) and (deadline.due, deadline.due_at) != (
        obligation.due,
        obligation.due_at,
    )


def _waived(book: ObligationBook, event: ev.ObligationWaived, mark: Mark) -> None:
    key = next((k for k, i in book.open_ids.items() if i == event.obligation_id), None)
    if key is not None:  # the decision checked it was open: a replay finds it so too
        _end(book, key, ObligationStatus.moot, mark, event.reason)


def _escalated(book: ObligationBook, event: ev.DeadlineEscalated) -> None:
    obligation_id = book.open_ids.get((event.kind, event.ref))
    if obligation_id is not None:
        obligation = book.all[obligation_id]
        book.all[obligation_id] = replace(
            obligation, escalated=True, status=ObligationStatus.escalated
        )


def record(
    book: ObligationBook,
    case: CaseState,
    event: ev.DomainEvent,
    policy: RegionalPolicy,
    calendar: WorkingDayCalendar,
) -> None:
    """Fold one event, already applied to ``case``, into ``book``: compare the deadlines it
    left listed with those listed before it."""
    mark = Mark(case.sequence, event.at, type(event).__name__)
    if isinstance(event, ev.ObligationWaived):
        _waived(book, event, mark)
    elif isinstance(event, ev.DeadlineEscalated):
        _escalated(book, event)
    listed = {(d.kind, d.ref): d for d in deadlines(case, policy, calendar)}
    for key in book.listed - listed.keys():
        if key in book.open_ids:
            _left(book, key, mark, policy)
    for key, deadline in listed.items():
        obligation_id = book.open_ids.get(key)
        if obligation_id is not None and _renewed(book.all[obligation_id], deadline, mark):
            _end(book, key, ObligationStatus.fulfilled, mark, f"fulfilled by {mark.event}")
            _opened(book, deadline, mark)
        elif obligation_id is not None:
            book.all[obligation_id] = _follow(book.all[obligation_id], deadline)
        elif key not in book.listed:  # a waived duty whose deadline stays listed stays ended
            _opened(book, deadline, mark)
    book.listed = frozenset(listed)


def track(
    case_id: str,
    events: Iterable[ev.DomainEvent],
    policy: RegionalPolicy,
    calendar: WorkingDayCalendar,
) -> tuple[CaseState, ObligationBook]:
    """Fold a case's events into its state and its obligations, in order."""
    state, book = CaseState(case_id=case_id), ObligationBook()
    for event in events:
        apply(state, event)
        record(book, state, event, policy, calendar)
    return state, book


def obligations(
    case_id: str,
    events: Iterable[ev.DomainEvent],
    policy: RegionalPolicy,
    calendar: WorkingDayCalendar,
) -> list[Obligation]:
    """Every obligation the case's events opened, in the order they were opened."""
    return track(case_id, events, policy, calendar)[1].obligations
