"""The domain decides: one function per command, turning a command into events or a refusal.

Each function reads the case and the decision context and returns the events to append; it
changes nothing. A refusal raises :class:`~phasedcare.errors.Refused` naming the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from phasedcare.domain import commands as cmd
from phasedcare.domain import events as ev
from phasedcare.domain.case import CaseState, Handover, Huisverbod
from phasedcare.domain.charts import fire
from phasedcare.domain.context import DecisionContext
from phasedcare.domain.deadlines import overdue
from phasedcare.domain.mda import criteria_met, stable_enough_since
from phasedcare.domain.policy import Organisation, OrganisationKind
from phasedcare.domain.safety import ConditionStatus, RiskAssessment
from phasedcare.errors import InvalidInput, NotFound, Refused

__all__ = ["DECISIONS", "classify_melding", "decide", "open_case"]

PAST_DIRECTE_VEILIGHEID = frozenset({"stabiele_veiligheid", "herstel"})


def _envelope(case: CaseState, ctx: DecisionContext) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "at": ctx.now,
        "actor": ctx.actor,
        "policy_version": ctx.policy.version,
    }


def open_case(case_id: str, command: cmd.OpenCase, ctx: DecisionContext) -> list[ev.DomainEvent]:
    """Open a case at Veilig Thuis; the opening organisation holds regie from the start."""
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
        )
    ]


def _refuse_when_closed(case: CaseState, what: str) -> None:
    if case.phase == "afgesloten":
        raise Refused(
            f"the case is closed: reopen it before {what}", case_id=case.case_id, rule="case_closed"
        )


def record_member(
    case: CaseState, command: cmd.RecordMember, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record a household member with the next member id (m1, m2, ...)."""
    _refuse_when_closed(case, "recording members")
    member_id = f"m{len(case.members) + 1}"
    return [
        ev.MemberRecorded(
            **_envelope(case, ctx),
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
    return [ev.SpecificGroupFlagged(**_envelope(case, ctx), flag=command.flag)]


def fire_event(
    case: CaseState, command: cmd.FireEvent, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Fire a chart event; the chart's validators refuse it with reasons when not allowed."""
    return [_transition(case, ctx, command.chart, command.event, command.reason)]


def agree_safety_plan(
    case: CaseState, command: cmd.AgreeSafetyPlan, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Agree a new version of the safety plan."""
    _refuse_when_closed(case, "agreeing a safety plan")
    version = case.safety_plan.version + 1 if case.safety_plan else 1
    return [
        ev.SafetyPlanAgreed(
            **_envelope(case, ctx),
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
    _refuse_when_closed(case, "adding safety conditions")
    ctx.policy.organisation(command.owner)
    return [
        ev.SafetyConditionAdded(
            **_envelope(case, ctx),
            condition_id=f"c{len(case.conditions) + 1}",
            statement=command.statement,
            owner=command.owner,
            check_every_days=command.check_every_days,
            check_method=command.check_method,
        )
    ]


def _terugval(case: CaseState, ctx: DecisionContext, reason: str) -> list[ev.DomainEvent]:
    """A terugval back to directe veiligheid when the case is past it, else nothing."""
    if case.phase not in PAST_DIRECTE_VEILIGHEID:
        return []
    return [_transition(case, ctx, "phase", "terugval", reason)]


def record_condition_status(
    case: CaseState, command: cmd.RecordConditionStatus, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record a check of a condition; a breach past directe veiligheid fires terugval."""
    _refuse_when_closed(case, "recording checks")
    if command.condition_id not in case.conditions:
        raise NotFound(
            f"case {case.case_id} has no safety condition {command.condition_id}",
            kind="safety condition",
            ident=command.condition_id,
        )
    recorded: list[ev.DomainEvent] = [
        ev.SafetyConditionStatusRecorded(
            **_envelope(case, ctx),
            condition_id=command.condition_id,
            status=command.status,
            observed_on=command.observed_on,
            evidence=command.evidence,
        )
    ]
    if command.status is ConditionStatus.breached:
        why = f"safety condition {command.condition_id} breached on {command.observed_on}"
        recorded += _terugval(case, ctx, why)
    return recorded


def record_risk_assessment(
    case: CaseState, command: cmd.RecordRiskAssessment, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record a risk assessment; revising one keeps its id and bumps its record version."""
    _refuse_when_closed(case, "recording risk assessments")
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
    return [ev.RiskAssessmentRecorded(**_envelope(case, ctx), assessment=assessment)]


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
    _refuse_when_closed(case, "recording incidents")
    if command.occurred_on > ctx.today:
        raise Refused(
            f"an incident cannot lie in the future ({command.occurred_on})",
            case_id=case.case_id,
            rule="incident_in_future",
        )
    recorded: list[ev.DomainEvent] = [
        ev.IncidentRecorded(
            **_envelope(case, ctx),
            occurred_on=command.occurred_on,
            description=command.description,
        )
    ]
    return recorded + _terugval(case, ctx, f"new incident on {command.occurred_on}")


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
            **_envelope(case, ctx),
            organisation=case.regie.organisation,
            casusregisseur=command.casusregisseur,
        )
    ]


def _receiver(case: CaseState, to_organisation: str, ctx: DecisionContext) -> Organisation:
    receiver = ctx.policy.organisation(to_organisation)
    if receiver.id == case.regie.organisation:
        raise Refused(
            f"{receiver.id} already holds regie", case_id=case.case_id, rule="handover_to_self"
        )
    if receiver.kind is OrganisationKind.partner:
        raise Refused(
            f"{receiver.id} is a partner organisation and cannot hold regie",
            case_id=case.case_id,
            rule="receiver_cannot_hold_regie",
        )
    if case.open_handovers:
        open_id = case.open_handovers[0].handover_id
        raise Refused(
            f"handover {open_id} is still open", case_id=case.case_id, rule="handover_open"
        )
    return receiver


def _shared_conditions(case: CaseState, condition_ids: list[str]) -> list[str]:
    unknown = [c for c in condition_ids if c not in case.conditions]
    if unknown:
        raise NotFound(
            f"case {case.case_id} has no safety condition {', '.join(unknown)}",
            kind="safety condition",
            ident=unknown[0],
        )
    return list(dict.fromkeys(condition_ids))


def _respond_by(case: CaseState, command: cmd.ProposeHandover, ctx: DecisionContext) -> date:
    if command.respond_by is None:
        days = ctx.policy.deadlines.handover_response_werkdagen
        return ctx.calendar.add_working_days(ctx.today, days)
    if command.respond_by <= ctx.today:
        raise Refused(
            f"the response date {command.respond_by} must lie after today ({ctx.today})",
            case_id=case.case_id,
            rule="respond_by_in_past",
        )
    return command.respond_by


def _purpose(case: CaseState, receiver: Organisation, ctx: DecisionContext) -> str:
    """regie, mda_triage (opschalen) or afschalen; refuses either when the policy says not yet."""
    if receiver.kind is OrganisationKind.mda:
        _require_mda_criteria(case, ctx)
        return "mda_triage"
    holder = ctx.policy.organisation(case.regie.organisation)
    if holder.kind is OrganisationKind.mda and receiver.kind is OrganisationKind.lokaal_team:
        _require_stable_long_enough(case, ctx)
        return "afschalen"
    return "regie"


def _require_mda_criteria(case: CaseState, ctx: DecisionContext) -> None:
    met = criteria_met(case, ctx.policy, ctx.today)
    needed = ctx.policy.mda.minimum_criteria_met
    if len(met) < needed:
        total = len(ctx.policy.mda.entry_criteria)
        listed = ", ".join(met) or "none"
        raise Refused(
            f"MDA++ triage needs {needed} of the {total} entry criteria; met: {listed}",
            case_id=case.case_id,
            rule="mda_criteria_not_met",
        )


def _require_stable_long_enough(case: CaseState, ctx: DecisionContext) -> None:
    months = ctx.policy.mda.afschalen_stable_months
    since = stable_enough_since(case, ctx.policy)
    if since is None:
        raise Refused(
            f"afschalen needs stable safety sustained for {months} months; the case is in "
            f"{case.phase}",
            case_id=case.case_id,
            rule="afschalen_premature",
        )
    if since > ctx.today:
        assert case.stable_since is not None  # noqa: S101 - since is derived from it
        raise Refused(
            f"afschalen is premature: stable safety since {case.stable_since.date()} lasts "
            f"{months} months on {since}",
            case_id=case.case_id,
            rule="afschalen_premature",
        )


def _plan_van_aanpak(case: CaseState, ctx: DecisionContext) -> ev.PlanVanAanpak:
    """The skeleton of one plan for the whole system: every member, one casusregisseur."""
    return ev.PlanVanAanpak(
        members=sorted(case.members),
        casusregisseur=case.regie.casusregisseur,
        goals_per_phase={
            "directe_veiligheid": ["veiligheidsvoorwaarden nageleefd"],
            "stabiele_veiligheid": ["risicofactoren aangepakt"],
            "herstel": ["traumascreening en -behandeling", "participatie en kwaliteit van leven"],
        },
        trauma_screening=True,
        criteria_met=criteria_met(case, ctx.policy, ctx.today),
    )


def propose_handover(
    case: CaseState, command: cmd.ProposeHandover, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Propose a handover of regie with its payload; one open at a time, never to oneself."""
    _refuse_when_closed(case, "handing it over")
    receiver = _receiver(case, command.to_organisation, ctx)
    purpose = _purpose(case, receiver, ctx)
    return [
        ev.HandoverProposed(
            **_envelope(case, ctx),
            handover_id=f"h{len(case.handovers) + 1}",
            from_organisation=case.regie.organisation,
            to_organisation=receiver.id,
            respond_by=_respond_by(case, command, ctx),
            note=command.note,
            purpose=purpose,
            safety_conditions=_shared_conditions(case, command.safety_conditions),
            monitoring_agreement=command.monitoring_agreement,
            risk_summary=command.risk_summary,
            legal_basis=command.legal_basis,
            household_informed=command.household_informed,
            household_not_informed_reason=command.household_not_informed_reason,
            plan_van_aanpak=_plan_van_aanpak(case, ctx) if purpose == "mda_triage" else None,
        )
    ]


def _handover(case: CaseState, handover_id: str, *, statuses: frozenset[str]) -> Handover:
    handover = case.handovers.get(handover_id)
    if handover is None:
        raise NotFound(
            f"case {case.case_id} has no handover {handover_id}", kind="handover", ident=handover_id
        )
    if handover.status not in statuses:
        raise Refused(
            f"handover {handover_id} is already {handover.status}",
            case_id=case.case_id,
            rule="handover_not_open",
        )
    return handover


_OPEN = frozenset({"proposed"})


def _open_handover(case: CaseState, handover_id: str) -> None:
    _handover(case, handover_id, statuses=_OPEN)


def accept_handover(
    case: CaseState, command: cmd.AcceptHandover, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Accept a handover: regie moves to the receiver in the same event."""
    _open_handover(case, command.handover_id)
    return [
        ev.HandoverAccepted(
            **_envelope(case, ctx),
            handover_id=command.handover_id,
            casusregisseur=command.casusregisseur,
        )
    ]


def reject_handover(
    case: CaseState, command: cmd.RejectHandover, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Reject a handover with a reason; regie stays where it was."""
    _open_handover(case, command.handover_id)
    return [
        ev.HandoverRejected(
            **_envelope(case, ctx), handover_id=command.handover_id, reason=command.reason
        )
    ]


def withdraw_handover(
    case: CaseState, command: cmd.WithdrawHandover, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Withdraw an open or an escalated handover; regie stays where it was."""
    _handover(case, command.handover_id, statuses=frozenset({"proposed", "escalated"}))
    return [
        ev.HandoverWithdrawn(
            **_envelope(case, ctx), handover_id=command.handover_id, reason=command.reason
        )
    ]


# -- expiry and escalation (the scheduled sweeps decide these as the system) ---------------


def _escalation_targets(ctx: DecisionContext, responsible: str) -> tuple[list[str], list[str]]:
    """The organisations told (the responsible one and Veilig Thuis) and their mailboxes."""
    notified = list(dict.fromkeys([responsible, ctx.policy.veilig_thuis.id]))
    contacts = [ctx.policy.organisation(o).contact for o in notified]
    contacts.append(ctx.policy.region_contact)
    return notified, [c for c in dict.fromkeys(contacts) if c]


def expire_handover(
    case: CaseState, command: cmd.ExpireHandover, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Expire a handover unanswered past its response date and escalate it at once."""
    handover = _handover(case, command.handover_id, statuses=_OPEN)
    if ctx.today <= handover.respond_by:
        raise Refused(
            f"handover {handover.handover_id} may be answered until {handover.respond_by}",
            case_id=case.case_id,
            rule="handover_not_due",
        )
    notified, contacts = _escalation_targets(ctx, handover.from_organisation)
    return [
        ev.HandoverExpired(**_envelope(case, ctx), handover_id=handover.handover_id),
        ev.HandoverEscalated(
            **_envelope(case, ctx),
            handover_id=handover.handover_id,
            notified=notified,
            contacts=contacts,
        ),
    ]


def escalate_deadline(
    case: CaseState, command: cmd.EscalateDeadline, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Escalate an overdue deadline once; it stays overdue until the case moves past it."""
    late = overdue(case, ctx.policy, ctx.calendar, ctx.today)
    found = next((d for d in late if (d.kind, d.ref) == (command.kind, command.ref)), None)
    if found is None:
        raise Refused(
            f"case {case.case_id} has no overdue {command.kind} {command.ref}",
            case_id=case.case_id,
            rule="not_overdue",
        )
    if found.escalated:
        raise Refused(
            f"{command.kind} {command.ref} was escalated already",
            case_id=case.case_id,
            rule="already_escalated",
        )
    notified, contacts = _escalation_targets(ctx, found.responsible)
    return [
        ev.DeadlineEscalated(
            **_envelope(case, ctx),
            kind=found.kind,
            ref=found.ref,
            due=found.due,
            responsible=found.responsible,
            notified=notified,
            contacts=contacts,
        )
    ]


# -- new meldingen, monitoring, tijdelijk huisverbod ---------------------------------------

_DURING_ASSESSMENT = frozenset({"melding", "veiligheidsbeoordeling"})


def classify_melding(case: CaseState) -> str:
    """How CBS counts a new melding about this known household."""
    if case.vt_stage in _DURING_ASSESSMENT:
        return "vervolgmelding_tijdens_veiligheidsbeoordeling"
    if case.vt_stage == "monitoring":
        return "vervolgmelding_tijdens_monitoring"
    if case.vt_stage == "afgesloten":
        return "hermelding"
    return "vervolgmelding_na_veiligheidsbeoordeling"


def _transition(
    case: CaseState, ctx: DecisionContext, chart: str, event: str, reason: str
) -> ev.DomainEvent:
    source, target = fire(chart, case, event, ctx, reason=reason)
    event_type = ev.PhaseTransitioned if chart == "phase" else ev.VtStageTransitioned
    return event_type(
        **_envelope(case, ctx), event=event, source=source, target=target, reason=reason
    )


def record_melding(
    case: CaseState, command: cmd.RecordMelding, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """A new melding about a known household: classify it, restart the track or fall back."""
    if case.vt_stage == "advies":
        raise Refused(
            "the case is an advies: convert it to a melding (omzetten_naar_melding) first",
            case_id=case.case_id,
            rule="case_is_advies",
        )
    classification = classify_melding(case)
    recorded: list[ev.DomainEvent] = [
        ev.MeldingReceived(
            **_envelope(case, ctx),
            classification=classification,
            melder_kind=command.melder_kind,
            melder_organisation=command.melder_organisation,
            acute=command.acute,
            summary=command.summary,
        )
    ]
    why = f"new melding ({classification}) on {ctx.today}"
    if classification == "hermelding":
        recorded.append(_transition(case, ctx, "vt", "nieuwe_melding", why))
        if case.phase == "afgesloten":
            recorded.append(_transition(case, ctx, "phase", "heropenen", why))
    return recorded + _terugval(case, ctx, why)


def record_monitoring_check(
    case: CaseState, command: cmd.RecordMonitoringCheck, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record a monitoring moment; an unsafe outcome past directe veiligheid fires terugval."""
    if case.vt_stage != "monitoring":
        raise Refused(
            f"the Veilig Thuis track is in {case.vt_stage}, not in monitoring",
            case_id=case.case_id,
            rule="not_monitoring",
        )
    _not_in_future(case, command.checked_on, ctx, "a monitoring check")
    recorded: list[ev.DomainEvent] = [
        ev.MonitoringCheckRecorded(
            **_envelope(case, ctx),
            checked_on=command.checked_on,
            outcome=command.outcome,
            note=command.note,
        )
    ]
    if command.outcome == "onveilig":
        recorded += _terugval(case, ctx, f"monitoring found it unsafe on {command.checked_on}")
    return recorded


def _not_in_future(case: CaseState, day: date, ctx: DecisionContext, what: str) -> None:
    if day > ctx.today:
        raise Refused(
            f"{what} cannot lie in the future ({day})", case_id=case.case_id, rule="in_future"
        )


def impose_huisverbod(
    case: CaseState, command: cmd.ImposeHuisverbod, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record a tijdelijk huisverbod; help must start within its days."""
    _refuse_when_closed(case, "recording a huisverbod")
    _not_in_future(case, command.imposed_on, ctx, "a huisverbod")
    verbod = case.huisverbod
    if verbod is not None and verbod.ends_on >= command.imposed_on:
        raise Refused(
            f"a tijdelijk huisverbod runs until {verbod.ends_on}: extend it instead",
            case_id=case.case_id,
            rule="huisverbod_running",
        )
    days = ctx.policy.deadlines.tijdelijk_huisverbod_dagen
    ends_on = command.imposed_on + timedelta(days=days)
    return [
        ev.HuisverbodImposed(**_envelope(case, ctx), imposed_on=command.imposed_on, ends_on=ends_on)
    ]


def extend_huisverbod(
    case: CaseState, command: cmd.ExtendHuisverbod, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Extend the tijdelijk huisverbod, never past the policy's maximum days."""
    verbod = _huisverbod(case)
    longest = verbod.imposed_on + timedelta(
        days=ctx.policy.deadlines.tijdelijk_huisverbod_max_dagen
    )
    if not verbod.ends_on < command.ends_on <= longest:
        raise Refused(
            f"the huisverbod of {verbod.imposed_on} can be extended from {verbod.ends_on} "
            f"to at most {longest}",
            case_id=case.case_id,
            rule="huisverbod_extension",
        )
    return [ev.HuisverbodExtended(**_envelope(case, ctx), ends_on=command.ends_on)]


def record_huisverbod_help(
    case: CaseState, command: cmd.RecordHuisverbodHelp, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record that help started during the tijdelijk huisverbod."""
    verbod = _huisverbod(case)
    _not_in_future(case, command.started_on, ctx, "the start of help")
    if verbod.help_started_on is not None or command.started_on < verbod.imposed_on:
        raise Refused(
            f"help during the huisverbod of {verbod.imposed_on} started already or cannot "
            f"start before it",
            case_id=case.case_id,
            rule="huisverbod_help",
        )
    return [ev.HuisverbodHelpStarted(**_envelope(case, ctx), started_on=command.started_on)]


def _huisverbod(case: CaseState) -> Huisverbod:
    if case.huisverbod is None:
        raise Refused(
            "no tijdelijk huisverbod is recorded", case_id=case.case_id, rule="no_huisverbod"
        )
    return case.huisverbod


# -- MDA++ -----------------------------------------------------------------------------------


def assess_mda_criteria(
    case: CaseState, command: cmd.AssessMdaCriteria, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Record which entry criteria a professional judges met (ids from the policy)."""
    known = [c.id for c in ctx.policy.mda.entry_criteria]
    unknown = [c for c in command.met if c not in known]
    if unknown:
        raise InvalidInput(
            f"unknown MDA++ criterion {', '.join(unknown)}; the policy has: {', '.join(known)}",
            field="met",
        )
    met = [c for c in known if c in command.met]
    return [ev.MdaCriteriaAssessed(**_envelope(case, ctx), met=met, note=command.note)]


def signal_mda(
    case: CaseState, command: cmd.SignalMda, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Tell the regiehouder the MDA++ entry criteria are met (once, while not at MDA++)."""
    _refuse_when_closed(case, "signalling MDA++")
    at_mda = ctx.policy.organisation(case.regie.organisation).kind is OrganisationKind.mda
    proposed = any(h.purpose == "mda_triage" for h in case.open_handovers)
    if case.mda_signalled_at is not None or at_mda or proposed:
        raise Refused(
            "MDA++ was signalled, proposed or holds regie already",
            case_id=case.case_id,
            rule="mda_already",
        )
    _require_mda_criteria(case, ctx)
    return [
        ev.MdaSignalled(**_envelope(case, ctx), criteria=criteria_met(case, ctx.policy, ctx.today))
    ]


def place_legal_hold(
    case: CaseState, command: cmd.PlaceLegalHold, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Place a legal hold; one at a time."""
    if case.legal_hold:
        raise Refused(
            "the case is already under a legal hold", case_id=case.case_id, rule="hold_exists"
        )
    return [ev.LegalHoldPlaced(**_envelope(case, ctx), reason=command.reason)]


def release_legal_hold(
    case: CaseState, command: cmd.ReleaseLegalHold, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Release the legal hold."""
    if not case.legal_hold:
        raise Refused("the case is under no legal hold", case_id=case.case_id, rule="no_hold")
    return [ev.LegalHoldReleased(**_envelope(case, ctx), reason=command.reason)]


Decision = Callable[[CaseState, Any, DecisionContext], list[ev.DomainEvent]]

DECISIONS: dict[type[cmd.CaseCommand], Decision] = {
    cmd.RecordMember: record_member,
    cmd.FlagSpecificGroup: flag_specific_group,
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
    cmd.ImposeHuisverbod: impose_huisverbod,
    cmd.ExtendHuisverbod: extend_huisverbod,
    cmd.RecordHuisverbodHelp: record_huisverbod_help,
    cmd.AssessMdaCriteria: assess_mda_criteria,
    cmd.SignalMda: signal_mda,
    cmd.PlaceLegalHold: place_legal_hold,
    cmd.ReleaseLegalHold: release_legal_hold,
}
"""The decision for each command about an existing case."""


def decide(case: CaseState, command: cmd.CaseCommand, ctx: DecisionContext) -> list[ev.DomainEvent]:
    """The events ``command`` produces on ``case``, or a refusal."""
    return DECISIONS[type(command)](case, command, ctx)
