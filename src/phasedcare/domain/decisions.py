"""The domain decides: one function per command, turning a command into events or a refusal.

Each function reads the case and the decision context and returns the events to append; it
changes nothing. A refusal raises :class:`~phasedcare.errors.Refused` naming the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from phasedcare.domain import commands as cmd
from phasedcare.domain import events as ev
from phasedcare.domain.case import CaseState
from phasedcare.domain.charts import Taxatie
from phasedcare.domain.context import DecisionContext
from phasedcare.domain.deciding import (
    envelope,
    refuse_when_closed,
    terugval,
    transition,
)
from phasedcare.domain.followup_decisions import (
    check_melder_organisation,
    conclude_veiligheidsbeoordeling,
    extend_huisverbod,
    impose_huisverbod,
    organise_zicht,
    received_moment,
    record_huisverbod_help,
    record_melding,
    record_monitoring_check,
)
from phasedcare.domain.handover_decisions import (
    accept_handover,
    assess_mda_criteria,
    escalate_deadline,
    expire_handover,
    propose_handover,
    reject_handover,
    signal_mda,
    withdraw_handover,
)
from phasedcare.domain.obligations import NOT_WAIVED
from phasedcare.domain.safety import ConditionStatus, RiskAssessment
from phasedcare.domain.share_decisions import (
    grant_share,
    real_reason,
    review_break_glass,
    revoke_share,
)
from phasedcare.errors import NotFound, Refused

__all__ = ["DECISIONS", "decide", "open_case"]


def open_case(case_id: str, command: cmd.OpenCase, ctx: DecisionContext) -> list[ev.DomainEvent]:
    """Open a case at Veilig Thuis; the opening organisation holds regie from the start.

    The melding's deadlines count from ``received_at`` (when Veilig Thuis received it), the
    event's ``at`` records when it was registered.
    """
    check_melder_organisation(command.melder_organisation, ctx, case_id)
    received_at = received_moment(command.received_at, ctx, case_id)
    return [
        ev.CaseOpened(
            case_id=case_id,
            at=ctx.now,
            actor=ctx.actor,
            policy_version=ctx.policy.version,
            region=ctx.policy.region,
            via=command.via,
            acute=command.acute,
            melder_kind=command.melder_kind,
            melder_organisation=command.melder_organisation,
            summary=command.summary,
            regie_organisation=ctx.actor.organisation,
            casusregisseur=ctx.actor.user,
            received_at=received_at,
        )
    ]


def record_member(
    case: CaseState, command: cmd.RecordMember, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record a household member with the next member id (m1, m2, ...)."""
    refuse_when_closed(case, "recording members")
    member_id = f"m{len(case.members) + 1}"
    return [
        ev.MemberRecorded(
            **envelope(case, ctx),
            member_id=member_id,
            role=command.role,
            name=command.name,
            date_of_birth=command.date_of_birth,
        )
    ]


def flag_specific_group(
    case: CaseState, command: cmd.FlagSpecificGroup, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Flag the case for a specific group; flagging twice is refused as a no-op."""
    if command.flag in case.flags:
        raise Refused(
            f"the case is already flagged {command.flag}",
            case_id=case.case_id,
            rule="already_flagged",
        )
    return [ev.SpecificGroupFlagged(**envelope(case, ctx), flag=command.flag)]


def end_specific_group(
    case: CaseState, command: cmd.EndSpecificGroup, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """End a flag the case carries, with a reason a reader can judge."""
    if command.flag not in case.flags:
        raise Refused(
            f"the case is not flagged {command.flag}",
            case_id=case.case_id,
            rule="not_flagged",
        )
    hint = "say why the specific group no longer applies"
    reason = real_reason(command.reason, "the reason to end a flag", hint)
    return [ev.SpecificGroupEnded(**envelope(case, ctx), flag=command.flag, reason=reason)]


def fire_event(
    case: CaseState, command: cmd.FireEvent, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Fire a chart event; the chart's validators refuse it with reasons when not allowed.

    A Veilig Thuis decision records the veiligheidstaxatie and an onderzoek its ground.
    """
    taxatie = Taxatie(command.acute_onveiligheid, command.structurele_onveiligheid)
    return [
        transition(
            case,
            ctx,
            command.chart,
            command.event,
            command.reason,
            taxatie=taxatie,
            ground=command.onderzoek_ground,
        )
    ]


def agree_safety_plan(
    case: CaseState, command: cmd.AgreeSafetyPlan, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Agree a new version of the safety plan."""
    refuse_when_closed(case, "agreeing a safety plan")
    version = case.safety_plan.version + 1 if case.safety_plan else 1
    return [
        ev.SafetyPlanAgreed(
            **envelope(case, ctx),
            version=version,
            agreed_on=command.agreed_on,
            summary=command.summary,
            agreed_with_household=command.agreed_with_household,
        )
    ]


def add_safety_condition(
    case: CaseState, command: cmd.AddSafetyCondition, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Add a safety condition checked by a known organisation."""
    refuse_when_closed(case, "adding safety conditions")
    ctx.policy.organisation(command.owner)
    return [
        ev.SafetyConditionAdded(
            **envelope(case, ctx),
            condition_id=f"c{len(case.conditions) + 1}",
            statement=command.statement,
            owner=command.owner,
            check_every_days=command.check_every_days,
            check_method=command.check_method,
        )
    ]


def record_condition_status(
    case: CaseState, command: cmd.RecordConditionStatus, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record a check of a condition; a breach past directe veiligheid fires terugval."""
    refuse_when_closed(case, "recording checks")
    if command.condition_id not in case.conditions:
        raise NotFound(
            f"case {case.case_id} has no safety condition {command.condition_id}",
            kind="safety condition",
            ident=command.condition_id,
        )
    recorded: list[ev.DomainEvent] = [
        ev.SafetyConditionStatusRecorded(
            **envelope(case, ctx),
            condition_id=command.condition_id,
            status=command.status,
            observed_on=command.observed_on,
            evidence=command.evidence,
        )
    ]
    if command.status is ConditionStatus.breached:
        why = f"safety condition {command.condition_id} breached on {command.observed_on}"
        recorded += terugval(case, ctx, why)
    return recorded


def record_risk_assessment(
    case: CaseState, command: cmd.RecordRiskAssessment, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record a risk assessment; revising one keeps its id and bumps its record version."""
    refuse_when_closed(case, "recording risk assessments")
    assessment_id, version = _next_assessment_version(case, command.assessment_id)
    assessment = RiskAssessment(
        assessment_id=assessment_id,
        record_version=version,
        instrument=command.instrument,
        instrument_version=command.instrument_version,
        items=command.items,
        level=command.level,
        assessor=ctx.actor.user,
        assessed_on=command.assessed_on,
    )
    return [ev.RiskAssessmentRecorded(**envelope(case, ctx), assessment=assessment)]


def _next_assessment_version(case: CaseState, assessment_id: str | None) -> tuple[str, int]:
    if assessment_id is None:
        ids = {a.assessment_id for a in case.risk_assessments}
        return f"r{len(ids) + 1}", 1
    versions = [a.record_version for a in case.risk_assessments if a.assessment_id == assessment_id]
    if not versions:
        raise NotFound(
            f"case {case.case_id} has no risk assessment {assessment_id}",
            kind="risk assessment",
            ident=assessment_id,
        )
    return assessment_id, max(versions) + 1


def record_incident(
    case: CaseState, command: cmd.RecordIncident, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record an incident; past directe veiligheid it fires terugval."""
    refuse_when_closed(case, "recording incidents")
    if command.occurred_on > ctx.today:
        raise Refused(
            f"an incident cannot lie in the future ({command.occurred_on})",
            case_id=case.case_id,
            rule="incident_in_future",
        )
    recorded: list[ev.DomainEvent] = [
        ev.IncidentRecorded(
            **envelope(case, ctx),
            occurred_on=command.occurred_on,
            description=command.description,
        )
    ]
    return recorded + terugval(case, ctx, f"new incident on {command.occurred_on}")


def assign_casusregisseur(
    case: CaseState, command: cmd.AssignCasusregisseur, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Another casusregisseur of the organisation holding regie takes over."""
    if command.casusregisseur == case.regie.casusregisseur:
        raise Refused(
            f"{command.casusregisseur} is already the casusregisseur",
            case_id=case.case_id,
            rule="already_casusregisseur",
        )
    return [
        ev.CasusregisseurAssigned(
            **envelope(case, ctx),
            organisation=case.regie.organisation,
            casusregisseur=command.casusregisseur,
        )
    ]


def place_legal_hold(
    case: CaseState, command: cmd.PlaceLegalHold, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Place a legal hold; one at a time."""
    if case.legal_hold:
        raise Refused(
            "the case is already under a legal hold", case_id=case.case_id, rule="hold_exists"
        )
    return [ev.LegalHoldPlaced(**envelope(case, ctx), reason=command.reason)]


def release_legal_hold(
    case: CaseState, command: cmd.ReleaseLegalHold, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Release the legal hold."""
    if not case.legal_hold:
        raise Refused("the case is under no legal hold", case_id=case.case_id, rule="no_hold")
    return [ev.LegalHoldReleased(**envelope(case, ctx), reason=command.reason)]


def waive_obligation(
    case: CaseState, command: cmd.WaiveObligation, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Make one open obligation moot, with a reason a reader can judge; it ends recorded."""
    found = next((o for o in ctx.open_obligations if o.id == command.obligation_id), None)
    if found is None:
        raise Refused(
            f"case {case.case_id} has no open obligation {command.obligation_id}",
            case_id=case.case_id,
            rule="no_such_open_obligation",
        )
    if found.kind in NOT_WAIVED:
        raise Refused(
            f"obligation {found.id}: {NOT_WAIVED[found.kind]}",
            case_id=case.case_id,
            rule="not_waived",
        )
    hint = "say why the obligation no longer applies"
    reason = real_reason(command.reason, "a waiver's reason", hint)
    return [ev.ObligationWaived(**envelope(case, ctx), obligation_id=found.id, reason=reason)]


Decision = Callable[[CaseState, Any, DecisionContext], list[ev.DomainEvent]]

DECISIONS: dict[type[cmd.CaseCommand], Decision] = {
    cmd.RecordMember: record_member,
    cmd.FlagSpecificGroup: flag_specific_group,
    cmd.EndSpecificGroup: end_specific_group,
    cmd.FireEvent: fire_event,
    cmd.AgreeSafetyPlan: agree_safety_plan,
    cmd.AddSafetyCondition: add_safety_condition,
    cmd.RecordConditionStatus: record_condition_status,
    cmd.RecordRiskAssessment: record_risk_assessment,
    cmd.RecordIncident: record_incident,
    cmd.AssignCasusregisseur: assign_casusregisseur,
    cmd.ProposeHandover: propose_handover,
    cmd.AcceptHandover: accept_handover,
    cmd.RejectHandover: reject_handover,
    cmd.WithdrawHandover: withdraw_handover,
    cmd.ExpireHandover: expire_handover,
    cmd.EscalateDeadline: escalate_deadline,
    cmd.RecordMelding: record_melding,
    cmd.RecordMonitoringCheck: record_monitoring_check,
    cmd.WaiveObligation: waive_obligation,
    cmd.ConcludeVeiligheidsbeoordeling: conclude_veiligheidsbeoordeling,
    cmd.OrganiseZicht: organise_zicht,
    cmd.ImposeHuisverbod: impose_huisverbod,
    cmd.ExtendHuisverbod: extend_huisverbod,
    cmd.RecordHuisverbodHelp: record_huisverbod_help,
    cmd.AssessMdaCriteria: assess_mda_criteria,
    cmd.SignalMda: signal_mda,
    cmd.PlaceLegalHold: place_legal_hold,
    cmd.ReleaseLegalHold: release_legal_hold,
    cmd.GrantShare: grant_share,
    cmd.RevokeShare: revoke_share,
    cmd.ReviewBreakGlass: review_break_glass,
}
"""The decision for each command about an existing case."""


def decide(case: CaseState, command: cmd.CaseCommand, ctx: DecisionContext) -> list[ev.DomainEvent]:
    """The events ``command`` produces on ``case``, or a refusal."""
    return DECISIONS[type(command)](case, command, ctx)
