"""The case aggregate's state and how events fold into it.

``apply`` is the only place state changes. It applies facts and never re-decides them, so a
replay under a newer policy or code still reaches the state the live engine had.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from phasedcare.domain import events as ev
from phasedcare.domain.household import Member, SpecificGroup
from phasedcare.domain.safety import RiskAssessment, SafetyCondition, SafetyPlan

__all__ = ["CaseState", "Handover", "RegieAssignment", "apply", "fold"]


@dataclass(frozen=True, slots=True)
class RegieAssignment:
    """Who held regie from when: one organisation and one casusregisseur."""

    organisation: str
    casusregisseur: str
    since: datetime


@dataclass(slots=True)
class Handover:
    """An open or settled handover of regie between two organisations."""

    handover_id: str
    from_organisation: str
    to_organisation: str
    respond_by: date
    proposed_at: datetime
    status: str = "proposed"


@dataclass(slots=True)
class CaseState:
    """Everything the domain knows about one case, rebuilt by folding its events."""

    case_id: str
    region: str = ""
    opened_via: str = ""
    acute: bool = False
    melder_kind: str = ""
    opened_at: datetime | None = None
    phase: str = "aanmelding"
    phase_since: datetime | None = None
    vt_stage: str = "melding"
    vt_stage_since: datetime | None = None
    melding_received_at: datetime | None = None
    members: dict[str, Member] = field(default_factory=dict)
    flags: set[SpecificGroup] = field(default_factory=set)
    safety_plan: SafetyPlan | None = None
    conditions: dict[str, SafetyCondition] = field(default_factory=dict)
    risk_assessments: list[RiskAssessment] = field(default_factory=list)
    incidents: list[date] = field(default_factory=list)
    regie_history: list[RegieAssignment] = field(default_factory=list)
    handovers: dict[str, Handover] = field(default_factory=dict)
    legal_hold: bool = False
    policy_version: str = ""
    sequence: int = 0
    updated_at: datetime | None = None

    @property
    def regie(self) -> RegieAssignment:
        """The current regie; every opened case has exactly one."""
        return self.regie_history[-1]

    @property
    def open_handovers(self) -> list[Handover]:
        """Handovers still waiting for an answer."""
        return [h for h in self.handovers.values() if h.status == "proposed"]

    @property
    def last_incident(self) -> date | None:
        """The date of the most recent incident, if any."""
        return max(self.incidents, default=None)

    @property
    def latest_risk_assessment(self) -> RiskAssessment | None:
        """The risk assessment recorded last, if any."""
        return self.risk_assessments[-1] if self.risk_assessments else None


def _opened(state: CaseState, e: ev.CaseOpened) -> None:
    state.region, state.opened_via, state.acute = e.region, e.via, e.acute
    state.melder_kind, state.opened_at = e.melder_kind, e.at
    state.phase, state.phase_since = "aanmelding", e.at
    state.vt_stage, state.vt_stage_since = e.via, e.at
    state.melding_received_at = e.at if e.via == "melding" else None
    state.regie_history.append(RegieAssignment(e.regie_organisation, e.casusregisseur, e.at))


def _member(state: CaseState, e: ev.MemberRecorded) -> None:
    state.members[e.member_id] = Member(
        member_id=e.member_id, role=e.role, name=e.name, date_of_birth=e.date_of_birth
    )


def _phase(state: CaseState, e: ev.PhaseTransitioned) -> None:
    state.phase, state.phase_since = e.target, e.at


def _vt_stage(state: CaseState, e: ev.VtStageTransitioned) -> None:
    state.vt_stage, state.vt_stage_since = e.target, e.at
    if e.target == "melding":
        state.melding_received_at = e.at


def _plan(state: CaseState, e: ev.SafetyPlanAgreed) -> None:
    state.safety_plan = SafetyPlan(
        version=e.version,
        agreed_on=e.agreed_on,
        summary=e.summary,
        agreed_with_household=e.agreed_with_household,
    )


def _condition(state: CaseState, e: ev.SafetyConditionAdded) -> None:
    state.conditions[e.condition_id] = SafetyCondition(
        condition_id=e.condition_id,
        statement=e.statement,
        owner=e.owner,
        check_every_days=e.check_every_days,
        check_method=e.check_method,
    )


def _condition_status(state: CaseState, e: ev.SafetyConditionStatusRecorded) -> None:
    condition = state.conditions[e.condition_id]
    condition.status, condition.status_on, condition.evidence = e.status, e.observed_on, e.evidence


def _risk(state: CaseState, e: ev.RiskAssessmentRecorded) -> None:
    state.risk_assessments.append(e.assessment)


def _incident(state: CaseState, e: ev.IncidentRecorded) -> None:
    state.incidents.append(e.occurred_on)


def _casusregisseur(state: CaseState, e: ev.CasusregisseurAssigned) -> None:
    state.regie_history.append(RegieAssignment(e.organisation, e.casusregisseur, e.at))


def _handover_proposed(state: CaseState, e: ev.HandoverProposed) -> None:
    state.handovers[e.handover_id] = Handover(
        e.handover_id, e.from_organisation, e.to_organisation, e.respond_by, e.at
    )


def _handover_accepted(state: CaseState, e: ev.HandoverAccepted) -> None:
    handover = state.handovers[e.handover_id]
    handover.status = "accepted"
    state.regie_history.append(RegieAssignment(handover.to_organisation, e.casusregisseur, e.at))


def _handover_rejected(state: CaseState, e: ev.HandoverRejected) -> None:
    state.handovers[e.handover_id].status = "rejected"


def _handover_withdrawn(state: CaseState, e: ev.HandoverWithdrawn) -> None:
    state.handovers[e.handover_id].status = "withdrawn"


def _flag(state: CaseState, e: ev.SpecificGroupFlagged) -> None:
    state.flags.add(e.flag)


def _hold(state: CaseState, e: ev.LegalHoldPlaced | ev.LegalHoldReleased) -> None:
    state.legal_hold = isinstance(e, ev.LegalHoldPlaced)


_APPLIERS: dict[type[ev.DomainEvent], Callable[[CaseState, Any], None]] = {
    ev.LegalHoldPlaced: _hold,
    ev.LegalHoldReleased: _hold,
    ev.CaseOpened: _opened,
    ev.MemberRecorded: _member,
    ev.SpecificGroupFlagged: _flag,
    ev.PhaseTransitioned: _phase,
    ev.VtStageTransitioned: _vt_stage,
    ev.SafetyPlanAgreed: _plan,
    ev.SafetyConditionAdded: _condition,
    ev.SafetyConditionStatusRecorded: _condition_status,
    ev.RiskAssessmentRecorded: _risk,
    ev.IncidentRecorded: _incident,
    ev.CasusregisseurAssigned: _casusregisseur,
    ev.HandoverProposed: _handover_proposed,
    ev.HandoverAccepted: _handover_accepted,
    ev.HandoverRejected: _handover_rejected,
    ev.HandoverWithdrawn: _handover_withdrawn,
}


def apply(state: CaseState, event: ev.DomainEvent) -> CaseState:
    """Apply one event to ``state`` in place and return it."""
    _APPLIERS[type(event)](state, event)
    state.sequence += 1
    state.policy_version = event.policy_version
    state.updated_at = event.at
    return state


def fold(case_id: str, events: Iterable[ev.DomainEvent]) -> CaseState:
    """Rebuild a case's state from its events, in order."""
    state = CaseState(case_id=case_id)
    for event in events:
        apply(state, event)
    return state
