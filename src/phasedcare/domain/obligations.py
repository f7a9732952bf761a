"""Obligations (verplichtingen): the duties a case runs against, and how each one ended.

A deadline (:mod:`phasedcare.domain.deadlines`) says what the case runs against *now*; it
leaves the list when the state moves on, met or not. An obligation remembers it. It is
opened by the event after which its deadline first appears, follows that deadline while it
is listed (a changed due date or responsible organisation updates it), and ends only by

- a recorded fulfilment: its deadline leaves the list on an event of ``FULFILLED_BY[kind]``;
- a recorded decision with a reason that makes it moot (:class:`ObligationWaived`).

Any other event that takes its deadline away (a closure, a phase change) leaves it open: the
case moved on without it, and it is overdue after its due date as before. An escalation keeps
it open and marks it escalated. The obligations are a pure function of (events, policy,
calendar), computed by folding the events one by one, so a rebuild gives the live answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from phasedcare.domain import events as ev
from phasedcare.domain.calendar import WorkingDayCalendar
from phasedcare.domain.case import CaseState, apply
from phasedcare.domain.deadlines import FULFILLED_BY, Deadline, deadlines, passed
from phasedcare.domain.policy import RegionalPolicy

__all__ = [
    "SOURCES",
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


def _by_due(obligation: Obligation) -> tuple[date, str]:
    return (obligation.due, obligation.id)


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
    return replace(
        obligation,
        description=deadline.description,
        responsible=deadline.responsible,
        due=deadline.due,
        due_at=deadline.due_at,
        escalated=obligation.escalated or deadline.escalated,
        status=_open_status(obligation.escalated or deadline.escalated),
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


def _left(book: ObligationBook, key: _Key, mark: Mark) -> None:
    """Its deadline left the list on ``mark``: fulfilled by a fulfilling event, else open."""
    if mark.event in FULFILLED_BY.get(key[0], frozenset()):
        _end(book, key, ObligationStatus.fulfilled, mark, f"fulfilled by {mark.event}")
        return
    obligation = book.all[book.open_ids[key]]
    if obligation.moved_on is None:
        book.all[obligation.id] = replace(obligation, moved_on=mark)


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
    for key, deadline in listed.items():
        if key in book.open_ids:
            obligation_id = book.open_ids[key]
            book.all[obligation_id] = _follow(book.all[obligation_id], deadline)
        elif key not in book.listed:  # a waived duty whose deadline stays listed stays ended
            _opened(book, deadline, mark)
    for key in book.listed - listed.keys():
        if key in book.open_ids:
            _left(book, key, mark)
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
