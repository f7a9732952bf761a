"""Which notifications a command's events cause, as outbox messages: ids only, never a name.

Each message is a CloudEvent (``nl.phasedcare.<kind>``) whose data holds case, handover and
condition ids, organisation ids, dates, functional mailboxes and a link back to phasedcare;
the receiver fetches anything else through the API, where it is authorised and logged.
The messages are written in the same transaction as the events (the outbox), and delivered
later by the drain.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from phasedcare.domain import events as ev
from phasedcare.domain.case import CaseState
from phasedcare.domain.household import MemberRole
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.service.ports import OutboxMessage
from phasedcare.service.webhooks import cloud_event, encode_event

__all__ = ["FEEDBACK_MOMENTS", "TYPE_PREFIX", "Notifier"]

TYPE_PREFIX = "nl.phasedcare."
"""Every CloudEvent type phasedcare sends starts with this."""

FEEDBACK_MOMENTS = {
    "veiligheidsbeoordeling": "na_veiligheidsbeoordeling",
    "onderzoek": "na_onderzoek",
}
"""The stages whose end gives a professional melder feedback (domain.md), and the moment."""

_FOLLOW_UP = frozenset(
    {"overdracht", "voorwaarden_en_vervolg", "onderzoek", "verzoek_rvdk", "monitoring"}
)

Draft = tuple[str, tuple[str, ...], dict[str, Any]]  # kind, recipients, data

_HANDOVER_EVENTS = (
    ev.HandoverProposed,
    ev.HandoverAccepted,
    ev.HandoverRejected,
    ev.HandoverWithdrawn,
    ev.HandoverEscalated,
)


def _new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class Notifier:
    """Turns events into outbox messages for one region."""

    def __init__(
        self,
        *,
        policy: RegionalPolicy,
        base_url: str,
        new_id: Callable[[], str] = _new_message_id,
    ) -> None:
        self._policy = policy
        self._base_url = base_url.rstrip("/")
        self._new_id = new_id
        self._vt = policy.veilig_thuis.id

    def messages(self, case: CaseState, events: list[ev.DomainEvent]) -> list[OutboxMessage]:
        """The messages ``events`` cause on ``case`` (its state after the events)."""
        return [
            self._message(case, event, kind, recipients, data)
            for event in events
            for kind, recipients, data in self._drafts(case, event)
        ]

    def _message(
        self,
        case: CaseState,
        event: ev.DomainEvent,
        kind: str,
        recipients: tuple[str, ...],
        data: Mapping[str, Any],
    ) -> OutboxMessage:
        message_id = self._new_id()
        link = f"{self._base_url}/cases/{case.case_id}"
        body = cloud_event(
            event_id=message_id,
            event_type=TYPE_PREFIX + kind,
            source=f"/phasedcare/{self._policy.region}",
            subject=case.case_id,
            time=event.at,
            data={"case_id": case.case_id, **data, "link": link},
        )
        return OutboxMessage(
            message_id=message_id,
            case_id=case.case_id,
            event_type=TYPE_PREFIX + kind,
            created_at=event.at,
            recipients=tuple(dict.fromkeys(recipients)),
            body=encode_event(body),
        )

    def _drafts(self, case: CaseState, event: ev.DomainEvent) -> Iterator[Draft]:
        data: dict[str, Any]
        if isinstance(event, _HANDOVER_EVENTS):
            yield from self._handover(case, event)
        elif isinstance(event, ev.DeadlineEscalated):
            yield self._deadline(event)
        elif isinstance(event, ev.VtStageTransitioned):
            yield from self._feedback(case, event)
        elif isinstance(event, ev.PhaseTransitioned) and event.event == "terugval":
            data = {"reason_kind": "terugval", "phase": event.target}
            yield "case.terugval", (case.regie.organisation, self._vt), data
        elif isinstance(event, ev.MeldingReceived):
            data = {"classification": event.classification}
            yield "melding.received", (case.regie.organisation, self._vt), data
        elif isinstance(event, ev.HuisverbodImposed):
            yield self._huisverbod(case, event)
        elif isinstance(event, ev.MdaSignalled):
            mda = [o.id for o in self._policy.organisations if o.kind == "mda"]
            data = {"criteria": list(event.criteria)}
            yield "mda.criteria_met", (case.regie.organisation, *mda), data

    def _huisverbod(self, case: CaseState, event: ev.HuisverbodImposed) -> Draft:
        """The regiehouder is told of a tijdelijk huisverbod; Veilig Thuis too when children
        are involved (Wth art. 2 lid 3: for kindermishandeling Veilig Thuis is consulted)."""
        children = any(m.role is MemberRole.kind for m in case.members.values())
        data = {
            "imposed_on": event.imposed_on.isoformat(),
            "ends_on": event.ends_on.isoformat(),
            "children": children,
        }
        recipients = (case.regie.organisation, self._vt) if children else (case.regie.organisation,)
        return "huisverbod.imposed", recipients, data

    def _handover(self, case: CaseState, event: Any) -> Iterator[Draft]:
        handover = case.handovers[event.handover_id]
        data: dict[str, Any] = {
            "handover_id": handover.handover_id,
            "from_organisation": handover.from_organisation,
            "to_organisation": handover.to_organisation,
            "purpose": handover.purpose,
            "respond_by": handover.respond_by.isoformat(),
        }
        if isinstance(event, ev.HandoverProposed):
            yield "handover.proposed", (handover.to_organisation,), data
        elif isinstance(event, ev.HandoverAccepted):
            parties = (handover.from_organisation, handover.to_organisation)
            yield "handover.accepted", parties, data
        elif isinstance(event, ev.HandoverRejected):
            yield "handover.rejected", (handover.from_organisation,), data
        elif isinstance(event, ev.HandoverWithdrawn):
            yield "handover.withdrawn", (handover.to_organisation,), data
        else:
            escalated = {**data, "escalate_to": list(event.contacts)}
            yield "handover.escalated", tuple(event.notified), escalated

    def _deadline(self, event: ev.DeadlineEscalated) -> Draft:
        data = {
            "kind": event.kind,
            "ref": event.ref,
            "due": event.due.isoformat(),
            "responsible": event.responsible,
            "escalate_to": list(event.contacts),
        }
        return "deadline.escalated", tuple(event.notified), data

    def _feedback(self, case: CaseState, event: ev.VtStageTransitioned) -> Iterator[Draft]:
        """Feedback to the professional melders of the meldingen this track assesses, when the
        assessment or the onderzoek ends: the melder of an earlier track's melding is told
        nothing of a later one (AVG doelbinding; domain review 2.15)."""
        moment = FEEDBACK_MOMENTS.get(event.source)
        melders = list(
            dict.fromkeys(
                m.melder_organisation for m in case.track_meldingen if m.melder_organisation
            )
        )
        if moment is None or not melders or event.target == "veiligheidsbeoordeling":
            return
        receiving = [case.regie.organisation] + [h.to_organisation for h in case.open_handovers]
        for melder in melders:
            owned = [c.condition_id for c in case.conditions.values() if c.owner == melder]
            data = {
                "moment": moment,
                "outcome": event.target,
                "follow_up": event.target in _FOLLOW_UP,
                "receiving_parties": list(dict.fromkeys(receiving)),
                "safety_conditions": owned,
            }
            yield "melder.feedback", (melder,), data
