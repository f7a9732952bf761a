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
from phasedcare.domain.vt_outcome import FOLLOW_UP_OF_TARGET, FollowUp, VtDecision

__all__ = [
    "STARTS_TRACK",
    "BreakGlassUse",
    "CaseState",
    "Handover",
    "Huisverbod",
    "MeldingAssessment",
    "RegieAssignment",
    "Share",
    "ZichtArrangement",
    "apply",
    "fold",
]

_STABLE = frozenset({"stabiele_veiligheid", "herstel"})

STARTS_TRACK = frozenset({"melding", "hermelding", "omgezet_advies"})
"""The classifications of a melding that starts a Veilig Thuis track (the rest are taken in)."""


@dataclass(frozen=True, slots=True)
class RegieAssignment:
    """Who held regie from when: one organisation and one casusregisseur."""

    organisation: str
    casusregisseur: str
    since: datetime


@dataclass(slots=True)
class Handover:
    """A handover of regie between two organisations, modelled on the FHIR Task states.

    ``status`` is proposed, then accepted, rejected, withdrawn or expired; an expired
    handover is escalated at once. The payload fields are what the receiver may see.
    """

    handover_id: str
    from_organisation: str
    to_organisation: str
    respond_by: date
    proposed_at: datetime
    purpose: str = "regie"
    safety_conditions: tuple[str, ...] = ()
    monitoring_agreement: str = ""
    risk_summary: str = ""
    legal_basis: str = ""
    household_informed: bool = False
    household_not_informed_reason: str = ""
    plan_van_aanpak: ev.PlanVanAanpak | None = None
    status: str = "proposed"
    settled_at: datetime | None = None


@dataclass(slots=True)
class Huisverbod:
    """A tijdelijk huisverbod: from when, until when, and when help started."""

    imposed_on: date
    ends_on: date
    help_started_on: date | None = None
    against: str | None = None


@dataclass(slots=True)
class Share:
    """Read access granted to another organisation until ``expires_on`` (inclusive)."""

    share_id: str
    from_organisation: str
    to_organisation: str
    legal_basis: str
    granted_at: datetime
    expires_on: date
    revoked_at: datetime | None = None

    def active_on(self, day: date) -> bool:
        """True when the share is neither revoked nor expired on ``day``."""
        return self.revoked_at is None and day <= self.expires_on


@dataclass(slots=True)
class BreakGlassUse:
    """A break-glass read, by whom and when, and its review (the reason stays sealed)."""

    review_id: str
    used_by: str
    organisation: str
    used_at: datetime
    outcome: str | None = None
    reviewed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ZichtArrangement:
    """How zicht op veiligheid is kept while a melding waits: by whom, how, from when, until."""

    kept_by: str
    means: str
    since: datetime
    until: date
    note: str = ""


@dataclass(slots=True)
class MeldingAssessment:
    """One melding and its own veiligheidsbeoordeling: when it was received, whether it was
    reported acute, and, once concluded, the veiligheidstaxatie and the follow-up decided.

    The melding that starts the Veilig Thuis track (the first, a hermelding, an advies
    turned into a melding) is concluded by the chart's decision from the
    veiligheidsbeoordeling, with every melding received during it; a vervolgmelding after
    it is concluded on its own (:class:`~phasedcare.domain.events.VeiligheidsbeoordelingConcluded`).
    A taxatie of ``None`` reads as "not recorded" (decided before it was asked).
    """

    melding_id: str
    received_at: datetime
    acute: bool = False
    classification: str = "melding"
    concluded_at: datetime | None = None
    acute_onveiligheid: bool | None = None
    structurele_onveiligheid: bool | None = None
    follow_up: FollowUp | None = None
    reason: str = ""
    zicht: ZichtArrangement | None = None
    melder_organisation: str = ""

    @property
    def deadline_ref(self) -> str:
        """The ref of its deadline: ``vb`` for the case's first melding (as before meldingen
        had their own), ``vb-<melding id>`` for every later one."""
        return "vb" if self.melding_id == "m1" else f"vb-{self.melding_id}"

    @property
    def concluded(self) -> bool:
        """True once its veiligheidsbeoordeling was concluded."""
        return self.concluded_at is not None


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
    last_melding: tuple[datetime, datetime] | None = None  # (registered, received)
    members: dict[str, Member] = field(default_factory=dict)
    flags: set[SpecificGroup] = field(default_factory=set)
    safety_plan: SafetyPlan | None = None
    conditions: dict[str, SafetyCondition] = field(default_factory=dict)
    risk_assessments: list[RiskAssessment] = field(default_factory=list)
    incidents: list[date] = field(default_factory=list)
    regie_history: list[RegieAssignment] = field(default_factory=list)
    handovers: dict[str, Handover] = field(default_factory=dict)
    melders: list[str] = field(default_factory=list)
    meldingen: list[tuple[datetime, str]] = field(default_factory=list)
    assessments: list[MeldingAssessment] = field(default_factory=list)
    monitoring_checks: list[date] = field(default_factory=list)
    vt_decisions: list[VtDecision] = field(default_factory=list)
    huisverbod: Huisverbod | None = None
    stable_since: datetime | None = None
    terugvallen: int = 0
    escalations: set[tuple[str, str, date]] = field(default_factory=set)
    mda_assessed: tuple[str, ...] = ()
    mda_signalled_at: datetime | None = None
    legal_hold: bool = False
    shares: dict[str, Share] = field(default_factory=dict)
    break_glass: dict[str, BreakGlassUse] = field(default_factory=dict)
    waived_obligations: dict[str, str] = field(default_factory=dict)  # obligation id: reason
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
    def unresolved_handovers(self) -> list[Handover]:
        """Escalated handovers the sender has not yet withdrawn or followed with a new one."""
        ordered = list(self.handovers.values())
        return [
            h
            for i, h in enumerate(ordered)
            if h.status == "escalated" and not any(later for later in ordered[i + 1 :])
        ]

    @property
    def unreviewed_break_glass(self) -> list[BreakGlassUse]:
        """Break-glass uses Veilig Thuis has not yet reviewed."""
        return [b for b in self.break_glass.values() if b.outcome is None]

    @property
    def open_assessments(self) -> list[MeldingAssessment]:
        """Meldingen whose veiligheidsbeoordeling is not concluded yet."""
        return [a for a in self.assessments if not a.concluded]

    @property
    def track_meldingen(self) -> list[MeldingAssessment]:
        """The meldingen of the Veilig Thuis track now running: the one that started it and
        those received after (a closed track's meldingen belong to that track)."""
        starts = [i for i, a in enumerate(self.assessments) if a.classification in STARTS_TRACK]
        return self.assessments[starts[-1] :] if starts else list(self.assessments)

    def assessment(self, melding_id: str) -> MeldingAssessment | None:
        """The melding with this id, if the case has it."""
        return next((a for a in self.assessments if a.melding_id == melding_id), None)

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
    state.melding_received_at = (e.received_at or e.at) if e.via == "melding" else None
    if e.via == "melding":
        _assess(
            state,
            e.received_at or e.at,
            acute=e.acute,
            classification="melding",
            melder=e.melder_organisation,
        )
    state.regie_history.append(RegieAssignment(e.regie_organisation, e.casusregisseur, e.at))
    if e.melder_organisation:
        state.melders.append(e.melder_organisation)


def _member(state: CaseState, e: ev.MemberRecorded) -> None:
    state.members[e.member_id] = Member(
        member_id=e.member_id, role=e.role, name=e.name, date_of_birth=e.date_of_birth
    )


def _phase(state: CaseState, e: ev.PhaseTransitioned) -> None:
    if e.target in _STABLE and state.phase not in _STABLE:
        state.stable_since = e.at
    elif e.target not in _STABLE:
        state.stable_since = None
    if e.event == "terugval":
        state.terugvallen += 1
    state.phase, state.phase_since = e.target, e.at


def _vt_stage(state: CaseState, e: ev.VtStageTransitioned) -> None:
    state.vt_stage, state.vt_stage_since = e.target, e.at
    if e.target == "melding":
        state.melding_received_at = _received_with(state, e.at)
        if e.event == "omzetten_naar_melding":
            adviesvrager = state.melders[0] if state.melders else ""
            _assess(
                state,
                e.at,
                acute=state.acute,
                classification="omgezet_advies",
                melder=adviesvrager,
            )
    if e.source == "veiligheidsbeoordeling" and e.target in FOLLOW_UP_OF_TARGET:
        for assessment in state.open_assessments:
            _conclude(assessment, e, FOLLOW_UP_OF_TARGET[e.target])
    if e.target != "monitoring":
        state.monitoring_checks = []  # a new period (or none) begins; start_monitoring keeps it
    if e.target in FOLLOW_UP_OF_TARGET:
        state.vt_decisions.append(
            VtDecision(
                event=e.event,
                source=e.source,
                target=e.target,
                decided_at=e.at,
                acute_onveiligheid=e.acute_onveiligheid,
                structurele_onveiligheid=e.structurele_onveiligheid,
                onderzoek_ground=e.onderzoek_ground,
                reason=e.reason,
            )
        )


def _assess(
    state: CaseState, received_at: datetime, *, acute: bool, classification: str, melder: str
) -> None:
    """A melding's own veiligheidsbeoordeling begins: m1, m2, ... in the order received."""
    melding_id = f"m{len(state.assessments) + 1}"
    state.assessments.append(
        MeldingAssessment(
            melding_id, received_at, acute, classification, melder_organisation=melder
        )
    )


def _conclude(
    assessment: MeldingAssessment,
    e: ev.VtStageTransitioned | ev.VeiligheidsbeoordelingConcluded,
    follow_up: FollowUp,
) -> None:
    assessment.concluded_at = e.at
    assessment.acute_onveiligheid = e.acute_onveiligheid
    assessment.structurele_onveiligheid = e.structurele_onveiligheid
    assessment.follow_up, assessment.reason = follow_up, e.reason


def _vb_concluded(state: CaseState, e: ev.VeiligheidsbeoordelingConcluded) -> None:
    assessment = state.assessment(e.melding_id)
    if assessment is not None:
        _conclude(assessment, e, e.follow_up)


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
        added_at=e.at,
    )


def _condition_status(state: CaseState, e: ev.SafetyConditionStatusRecorded) -> None:
    condition = state.conditions[e.condition_id]
    condition.status, condition.status_on, condition.evidence = e.status, e.observed_on, e.evidence


def _risk(state: CaseState, e: ev.RiskAssessmentRecorded) -> None:
    state.risk_assessments.append(e.assessment)


def _incident(state: CaseState, e: ev.IncidentRecorded) -> None:
    state.incidents.append(e.occurred_on)


def _casusregisseur(state: CaseState, e: ev.CasusregisseurAssigned | ev.RegieReturned) -> None:
    state.regie_history.append(RegieAssignment(e.organisation, e.casusregisseur, e.at))


def _handover_proposed(state: CaseState, e: ev.HandoverProposed) -> None:
    state.handovers[e.handover_id] = Handover(
        handover_id=e.handover_id,
        from_organisation=e.from_organisation,
        to_organisation=e.to_organisation,
        respond_by=e.respond_by,
        proposed_at=e.at,
        purpose=e.purpose,
        safety_conditions=tuple(e.safety_conditions),
        monitoring_agreement=e.monitoring_agreement,
        risk_summary=e.risk_summary,
        legal_basis=e.legal_basis,
        household_informed=e.household_informed,
        household_not_informed_reason=e.household_not_informed_reason,
        plan_van_aanpak=e.plan_van_aanpak,
    )


def _settle(state: CaseState, handover_id: str, status: str, at: datetime) -> Handover:
    handover = state.handovers[handover_id]
    handover.status, handover.settled_at = status, at
    return handover


def _handover_accepted(state: CaseState, e: ev.HandoverAccepted) -> None:
    handover = _settle(state, e.handover_id, "accepted", e.at)
    state.regie_history.append(RegieAssignment(handover.to_organisation, e.casusregisseur, e.at))


def _handover_rejected(state: CaseState, e: ev.HandoverRejected) -> None:
    _settle(state, e.handover_id, "rejected", e.at)


def _handover_withdrawn(state: CaseState, e: ev.HandoverWithdrawn) -> None:
    _settle(state, e.handover_id, "withdrawn", e.at)


def _handover_expired(state: CaseState, e: ev.HandoverExpired) -> None:
    _settle(state, e.handover_id, "expired", e.at)


def _handover_escalated(state: CaseState, e: ev.HandoverEscalated) -> None:
    handover = state.handovers[e.handover_id]
    handover.status = "escalated"
    state.escalations.add(("handover_response", e.handover_id, handover.respond_by))


def _deadline_escalated(state: CaseState, e: ev.DeadlineEscalated) -> None:
    state.escalations.add((e.kind, e.ref, e.due))


def _received_with(state: CaseState, at: datetime) -> datetime:
    """When the melding that (re)starts the Veilig Thuis track at ``at`` was received: the
    one registered in the same command (a hermelding), else ``at`` (omzetten naar melding)."""
    if state.last_melding is not None and state.last_melding[0] == at:
        return state.last_melding[1]
    return at


def _melding(state: CaseState, e: ev.MeldingReceived) -> None:
    state.meldingen.append((e.at, e.classification))
    state.last_melding = (e.at, e.received_at or e.at)
    if e.melder_organisation and e.melder_organisation not in state.melders:
        state.melders.append(e.melder_organisation)
    if e.acute:
        state.acute = True
    _assess(
        state,
        e.received_at or e.at,
        acute=e.acute,
        classification=e.classification,
        melder=e.melder_organisation,
    )


def _monitoring_check(state: CaseState, e: ev.MonitoringCheckRecorded) -> None:
    state.monitoring_checks.append(e.checked_on)


def _huisverbod(state: CaseState, e: ev.HuisverbodImposed) -> None:
    state.huisverbod = Huisverbod(imposed_on=e.imposed_on, ends_on=e.ends_on, against=e.against)
    state.incidents.append(e.imposed_on)  # ernstig en onmiddellijk gevaar: an incident


def _huisverbod_extended(state: CaseState, e: ev.HuisverbodExtended) -> None:
    if state.huisverbod is not None:
        state.huisverbod.ends_on = e.ends_on


def _huisverbod_help(state: CaseState, e: ev.HuisverbodHelpStarted) -> None:
    if state.huisverbod is not None:
        state.huisverbod.help_started_on = e.started_on


def _mda_assessed(state: CaseState, e: ev.MdaCriteriaAssessed) -> None:
    state.mda_assessed = tuple(e.met)


def _mda_signalled(state: CaseState, e: ev.MdaSignalled) -> None:
    state.mda_signalled_at = e.at


def _flag(state: CaseState, e: ev.SpecificGroupFlagged) -> None:
    state.flags.add(e.flag)


def _flag_ended(state: CaseState, e: ev.SpecificGroupEnded) -> None:
    state.flags.discard(e.flag)


def _hold(state: CaseState, e: ev.LegalHoldPlaced | ev.LegalHoldReleased) -> None:
    state.legal_hold = isinstance(e, ev.LegalHoldPlaced)


def _share_granted(state: CaseState, e: ev.ShareGranted) -> None:
    state.shares[e.share_id] = Share(
        share_id=e.share_id,
        from_organisation=e.from_organisation,
        to_organisation=e.to_organisation,
        legal_basis=e.legal_basis,
        granted_at=e.at,
        expires_on=e.expires_on,
    )


def _share_revoked(state: CaseState, e: ev.ShareRevoked) -> None:
    state.shares[e.share_id].revoked_at = e.at


def _break_glass_used(state: CaseState, e: ev.BreakGlassUsed) -> None:
    state.break_glass[e.review_id] = BreakGlassUse(
        review_id=e.review_id,
        used_by=str(e.actor),
        organisation=e.actor.organisation,
        used_at=e.at,
    )


def _break_glass_reviewed(state: CaseState, e: ev.BreakGlassReviewed) -> None:
    use = state.break_glass[e.review_id]
    use.outcome, use.reviewed_at = e.outcome, e.at


def _zicht_organised(state: CaseState, e: ev.ZichtOrganised) -> None:
    assessment = state.assessment(e.melding_id)
    if assessment is not None:
        assessment.zicht = ZichtArrangement(e.kept_by, str(e.means), e.at, e.until, e.note)


def _obligation_waived(state: CaseState, e: ev.ObligationWaived) -> None:
    state.waived_obligations[e.obligation_id] = e.reason


_APPLIERS: dict[type[ev.DomainEvent], Callable[[CaseState, Any], None]] = {
    ev.LegalHoldPlaced: _hold,
    ev.LegalHoldReleased: _hold,
    ev.CaseOpened: _opened,
    ev.MemberRecorded: _member,
    ev.SpecificGroupFlagged: _flag,
    ev.SpecificGroupEnded: _flag_ended,
    ev.PhaseTransitioned: _phase,
    ev.VtStageTransitioned: _vt_stage,
    ev.SafetyPlanAgreed: _plan,
    ev.SafetyConditionAdded: _condition,
    ev.SafetyConditionStatusRecorded: _condition_status,
    ev.RiskAssessmentRecorded: _risk,
    ev.IncidentRecorded: _incident,
    ev.CasusregisseurAssigned: _casusregisseur,
    ev.RegieReturned: _casusregisseur,
    ev.HandoverProposed: _handover_proposed,
    ev.HandoverAccepted: _handover_accepted,
    ev.HandoverRejected: _handover_rejected,
    ev.HandoverWithdrawn: _handover_withdrawn,
    ev.HandoverExpired: _handover_expired,
    ev.HandoverEscalated: _handover_escalated,
    ev.DeadlineEscalated: _deadline_escalated,
    ev.MeldingReceived: _melding,
    ev.VeiligheidsbeoordelingConcluded: _vb_concluded,
    ev.MonitoringCheckRecorded: _monitoring_check,
    ev.ObligationWaived: _obligation_waived,
    ev.ZichtOrganised: _zicht_organised,
    ev.HuisverbodImposed: _huisverbod,
    ev.HuisverbodExtended: _huisverbod_extended,
    ev.HuisverbodHelpStarted: _huisverbod_help,
    ev.MdaCriteriaAssessed: _mda_assessed,
    ev.MdaSignalled: _mda_signalled,
    ev.ShareGranted: _share_granted,
    ev.ShareRevoked: _share_revoked,
    ev.BreakGlassUsed: _break_glass_used,
    ev.BreakGlassReviewed: _break_glass_reviewed,
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
