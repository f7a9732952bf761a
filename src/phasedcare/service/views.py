"""What queries return: plain, serialisable models built from a case's state and events."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from phasedcare.domain.case import CaseState, Handover, MeldingAssessment
from phasedcare.domain.charts import TransitionOption
from phasedcare.domain.deadlines import Deadline, passed
from phasedcare.domain.events import AccessRecorded, DomainEvent, PlanVanAanpak
from phasedcare.domain.household import Member
from phasedcare.domain.obligations import Mark, Obligation
from phasedcare.domain.safety import RiskAssessment, SafetyCondition, SafetyPlan
from phasedcare.domain.vt_outcome import VtDecision, latest_conclusion
from phasedcare.service.ports import CaseProjection

__all__ = [
    "AccessView",
    "CaseView",
    "CommandResult",
    "DeadlineView",
    "HandoverPayloadView",
    "HandoverView",
    "HistoryEntry",
    "MeldingView",
    "ObligationView",
    "RegieView",
    "SharedConditionView",
    "TransitionView",
    "VtDecisionView",
    "ZichtView",
    "access_view",
    "case_view",
    "handover_payload_view",
    "history_entry",
    "obligation_view",
    "transition_view",
    "waiting_zicht",
]

_ENVELOPE = {"case_id", "at", "actor", "policy_version"}


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class CommandResult(_View):
    """What a command did: the case, its new sequence, the events appended, and the id it
    created (a member, condition, risk assessment or handover), if any."""

    case_id: str
    sequence: int
    events: list[str]
    created_id: str | None = None


class RegieView(_View):
    """One period of regie."""

    organisation: str
    casusregisseur: str
    since: datetime


class HandoverView(_View):
    """A handover and where it stands."""

    handover_id: str
    from_organisation: str
    to_organisation: str
    purpose: str
    respond_by: date
    status: str


class SharedConditionView(_View):
    """A safety condition as a handover shares it."""

    condition_id: str
    statement: str
    owner: str
    check_every_days: int
    status: str


class HandoverPayloadView(HandoverView):
    """One handover with its payload: all its receiver sees of the case."""

    case_id: str
    proposed_at: datetime
    safety_conditions: list[SharedConditionView]
    monitoring_agreement: str
    risk_summary: str
    legal_basis: str
    household_informed: bool
    household_not_informed_reason: str
    plan_van_aanpak: PlanVanAanpak | None


def _handover_view(h: Handover) -> HandoverView:
    return HandoverView(
        handover_id=h.handover_id,
        from_organisation=h.from_organisation,
        to_organisation=h.to_organisation,
        purpose=h.purpose,
        respond_by=h.respond_by,
        status=h.status,
    )


def handover_payload_view(case: CaseState, handover_id: str) -> HandoverPayloadView:
    """The handover's payload, with the statements of the conditions it shares."""
    h = case.handovers[handover_id]
    shared = [case.conditions[c] for c in h.safety_conditions]
    return HandoverPayloadView(
        **_handover_view(h).model_dump(),
        case_id=case.case_id,
        proposed_at=h.proposed_at,
        safety_conditions=[
            SharedConditionView(
                condition_id=c.condition_id,
                statement=c.statement,
                owner=c.owner,
                check_every_days=c.check_every_days,
                status=str(c.status),
            )
            for c in shared
        ],
        monitoring_agreement=h.monitoring_agreement,
        risk_summary=h.risk_summary,
        legal_basis=h.legal_basis,
        household_informed=h.household_informed,
        household_not_informed_reason=h.household_not_informed_reason,
        plan_van_aanpak=h.plan_van_aanpak,
    )


class DeadlineView(_View):
    """A deadline and whether it has passed."""

    kind: str
    ref: str
    due: date
    description: str
    responsible: str
    overdue: bool
    escalated: bool
    due_at: datetime | None = None


class EventMarkView(_View):
    """A recorded event an obligation points at: its sequence in the case, moment and type."""

    sequence: int
    at: datetime
    event: str


class ObligationView(_View):
    """An obligation: whose duty, by when, on what source, opened and ended by which event.

    ``moved_on`` is the event after which the case no longer listed its deadline although
    nothing fulfilled or waived it: the case moved on without it and it is still open.
    """

    case_id: str
    id: str
    kind: str
    ref: str
    description: str
    responsible: str
    due: date
    due_at: datetime | None = None
    source: str
    status: str = Field(description="open, escalated (still open), fulfilled or moot.")
    overdue: bool
    opened: EventMarkView
    moved_on: EventMarkView | None = None
    ended: EventMarkView | None = None
    ended_why: str = Field(default="", description="The fulfilling event, or the waiver's reason.")


def _mark_view(mark: Mark) -> EventMarkView:
    return EventMarkView(sequence=mark.sequence, at=mark.at, event=mark.event)


def obligation_view(case_id: str, o: Obligation, today: date, now: datetime) -> ObligationView:
    """An obligation of ``case_id`` as a view, judged overdue or not at ``now``."""
    return ObligationView(
        case_id=case_id,
        id=o.id,
        kind=o.kind,
        ref=o.ref,
        description=o.description,
        responsible=o.responsible,
        due=o.due,
        due_at=o.due_at,
        source=o.source,
        status=str(o.status),
        overdue=o.overdue_on(today, now),
        opened=_mark_view(o.opened),
        moved_on=None if o.moved_on is None else _mark_view(o.moved_on),
        ended=None if o.ended is None else _mark_view(o.ended),
        ended_why=o.ended_why,
    )


class VtDecisionView(_View):
    """A Veilig Thuis decision: the follow-up, and the veiligheidstaxatie when it concluded a
    veiligheidsbeoordeling. ``None`` reads as "not recorded" (decided before it was asked)."""

    event: str
    decided_in: str
    outcome: str
    follow_up: str
    decided_at: datetime
    acute_onveiligheid: bool | None
    structurele_onveiligheid: bool | None
    onderzoek_ground: str | None
    reason: str


def _vt_decision_view(d: VtDecision) -> VtDecisionView:
    return VtDecisionView(
        event=d.event,
        decided_in=d.source,
        outcome=d.target,
        follow_up=str(d.follow_up),
        decided_at=d.decided_at,
        acute_onveiligheid=d.acute_onveiligheid,
        structurele_onveiligheid=d.structurele_onveiligheid,
        onderzoek_ground=str(d.onderzoek_ground) if d.onderzoek_ground else None,
        reason=d.reason,
    )


class ZichtView(_View):
    """How zicht op veiligheid is kept while a melding waits: by which organisation, how,
    since when and until which day."""

    kept_by: str
    means: str
    since: datetime
    until: date
    note: str


class MeldingView(_View):
    """One melding and its own veiligheidsbeoordeling: received when, acute or not, and once
    concluded, the veiligheidstaxatie and the follow-up (``None``: not yet, or not recorded).

    While it waits: ``waiting_past_term`` once its veiligheidsbeoordeling is overdue, and
    ``zicht_organised`` whether zicht op veiligheid is arranged today (``zicht``: how; the
    IGJ's wachtlijst finding). Both are None and False once it was concluded.
    """

    melding_id: str
    classification: str
    received_at: datetime
    acute: bool
    concluded_at: datetime | None
    acute_onveiligheid: bool | None
    structurele_onveiligheid: bool | None
    follow_up: str | None
    waiting_past_term: bool = False
    zicht_organised: bool | None = None
    zicht: ZichtView | None = None


def _melding_view(
    m: MeldingAssessment, deadlines: list[Deadline], today: date, now: datetime | None
) -> MeldingView:
    term = next(
        (d for d in deadlines if d.kind == "veiligheidsbeoordeling" and d.ref == m.deadline_ref),
        None,
    )
    zicht = m.zicht if not m.concluded else None
    return MeldingView(
        melding_id=m.melding_id,
        classification=m.classification,
        received_at=m.received_at,
        acute=m.acute,
        concluded_at=m.concluded_at,
        acute_onveiligheid=m.acute_onveiligheid,
        structurele_onveiligheid=m.structurele_onveiligheid,
        follow_up=str(m.follow_up) if m.follow_up else None,
        waiting_past_term=not m.concluded and term is not None and term.overdue_on(today, now),
        zicht_organised=None if m.concluded else zicht is not None and zicht.until >= today,
        zicht=None if zicht is None else ZichtView(**asdict(zicht)),
    )


class CaseView(_View):
    """Everything about one case an authorised professional may see.

    ``veiligheidsbeoordeling`` is the decision that concluded the latest one, with its
    veiligheidstaxatie; ``vt_decisions`` every Veilig Thuis decision, in order; ``meldingen``
    every melding with its own veiligheidsbeoordeling.
    """

    case_id: str
    region: str
    opened_via: str
    acute: bool
    opened_at: datetime
    phase: str
    vt_stage: str
    regie: RegieView
    regie_history: list[RegieView]
    members: list[Member]
    flags: list[str]
    safety_plan: SafetyPlan | None
    conditions: list[SafetyCondition]
    risk_assessments: list[RiskAssessment]
    handovers: list[HandoverView]
    deadlines: list[DeadlineView]
    sequence: int
    policy_version: str
    veiligheidsbeoordeling: VtDecisionView | None = None
    vt_decisions: list[VtDecisionView] = Field(default_factory=list)
    meldingen: list[MeldingView] = Field(default_factory=list)


class HistoryEntry(_View):
    """One event in a case's history: when, who, under which policy, and what."""

    sequence: int
    at: datetime
    event_type: str
    actor: str
    policy_version: str
    details: dict[str, Any]


class AccessView(_View):
    """One entry of a case's access log (NEN 7513)."""

    sequence: int
    at: datetime
    actor: str
    action: str
    query: str
    outcome: str
    legal_basis: str
    access_point: str
    on_behalf_of: str
    detail: str


def access_view(sequence: int, event: DomainEvent) -> AccessView:
    """The view of one access-log entry."""
    assert isinstance(event, AccessRecorded)  # noqa: S101 - access streams hold nothing else
    return AccessView(
        sequence=sequence,
        at=event.at,
        actor=str(event.actor),
        action=event.action,
        query=event.query,
        outcome=event.outcome,
        legal_basis=event.legal_basis,
        access_point=event.access_point,
        on_behalf_of=event.on_behalf_of,
        detail=event.detail,
    )


class TransitionView(_View):
    """One chart event: may it fire now, and if not, why not."""

    chart: str
    event: str
    target: str | None
    allowed: bool
    needs_reason: bool
    reasons: list[str]
    needs_taxatie: bool = False
    needs_ground: bool = False
    from_here: bool = Field(
        default=True,
        description="False when the case's state never allows it (not merely blocked now).",
    )


def _regie(case: CaseState) -> list[RegieView]:
    return [
        RegieView(organisation=r.organisation, casusregisseur=r.casusregisseur, since=r.since)
        for r in case.regie_history
    ]


def case_view(
    case: CaseState, deadlines: list[Deadline], today: date, now: datetime | None = None
) -> CaseView:
    """The view of a case's state with its deadlines judged on ``today`` (and those due at a
    moment, at ``now``)."""
    assert case.opened_at is not None  # noqa: S101 - only opened cases are shown
    regie = _regie(case)
    conclusion = latest_conclusion(case.vt_decisions)
    return CaseView(
        case_id=case.case_id,
        region=case.region,
        opened_via=case.opened_via,
        acute=case.acute,
        opened_at=case.opened_at,
        phase=case.phase,
        vt_stage=case.vt_stage,
        regie=regie[-1],
        regie_history=regie,
        members=list(case.members.values()),
        flags=sorted(case.flags),
        safety_plan=case.safety_plan,
        conditions=list(case.conditions.values()),
        risk_assessments=list(case.risk_assessments),
        handovers=[_handover_view(h) for h in case.handovers.values()],
        deadlines=[
            DeadlineView(
                kind=d.kind,
                ref=d.ref,
                due=d.due,
                description=d.description,
                responsible=d.responsible,
                overdue=d.overdue_on(today, now),
                due_at=d.due_at,
                escalated=d.escalated,
            )
            for d in deadlines
        ],
        sequence=case.sequence,
        policy_version=case.policy_version,
        veiligheidsbeoordeling=_vt_decision_view(conclusion) if conclusion else None,
        vt_decisions=[_vt_decision_view(d) for d in case.vt_decisions],
        meldingen=[_melding_view(m, deadlines, today, now) for m in case.assessments],
    )


def history_entry(sequence: int, event: DomainEvent) -> HistoryEntry:
    """One history line for an event."""
    return HistoryEntry(
        sequence=sequence,
        at=event.at,
        event_type=type(event).__name__,
        actor=str(event.actor),
        policy_version=event.policy_version,
        details=event.model_dump(mode="json", exclude=_ENVELOPE),
    )


def transition_view(option: TransitionOption) -> TransitionView:
    """The view of one chart option."""
    return TransitionView(
        chart=option.chart,
        event=option.event,
        target=option.target,
        allowed=option.allowed,
        needs_reason=option.needs_reason,
        reasons=[reason for _, reason in option.reasons],
        needs_taxatie=option.needs_taxatie,
        needs_ground=option.needs_ground,
        from_here=all(rule != "not_from_state" for rule, _ in option.reasons),
    )


def waiting_zicht(row: CaseProjection, today: date, now: datetime) -> str | None:
    """For the caseload: None when no melding of the case waits past its term; else until
    when zicht op veiligheid is arranged for them (``until 2026-03-25``), or ``none``."""
    waiting = any(
        d.kind == "veiligheidsbeoordeling" and passed(d.due, d.due_at, today, now)
        for d in row.deadlines
    )
    if not waiting:
        return None
    if row.zicht_until is not None and row.zicht_until >= today:
        return f"until {row.zicht_until}"
    return "none"
