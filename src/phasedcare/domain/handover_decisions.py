"""Decisions about handovers: propose (opschalen to MDA++ and afschalen included), answer,
expire and escalate; escalation of overdue deadlines; MDA++ criteria and signals."""

from __future__ import annotations

from datetime import date

from phasedcare.domain import commands as cmd
from phasedcare.domain import events as ev
from phasedcare.domain.case import CaseState, Handover
from phasedcare.domain.context import DecisionContext
from phasedcare.domain.deciding import (
    envelope,
    refuse_when_closed,
)
from phasedcare.domain.mda import criteria_met, signal_due, stable_enough_since
from phasedcare.domain.policy import Organisation, OrganisationKind
from phasedcare.errors import InvalidInput, NotFound, Refused

__all__ = [
    "accept_handover",
    "assess_mda_criteria",
    "escalate_deadline",
    "expire_handover",
    "propose_handover",
    "reject_handover",
    "signal_mda",
    "withdraw_handover",
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
        stable_on = ctx.policy.local_date(case.stable_since)
        raise Refused(
            f"afschalen is premature: stable safety since {stable_on} lasts "
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
    refuse_when_closed(case, "handing it over")
    receiver = _receiver(case, command.to_organisation, ctx)
    purpose = _purpose(case, receiver, ctx)
    return [
        ev.HandoverProposed(
            **envelope(case, ctx),
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
            **envelope(case, ctx),
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
            **envelope(case, ctx), handover_id=command.handover_id, reason=command.reason
        )
    ]


def withdraw_handover(
    case: CaseState, command: cmd.WithdrawHandover, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Withdraw an open or an escalated handover; regie stays where it was."""
    _handover(case, command.handover_id, statuses=frozenset({"proposed", "escalated"}))
    return [
        ev.HandoverWithdrawn(
            **envelope(case, ctx), handover_id=command.handover_id, reason=command.reason
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
        ev.HandoverExpired(**envelope(case, ctx), handover_id=handover.handover_id),
        ev.HandoverEscalated(
            **envelope(case, ctx),
            handover_id=handover.handover_id,
            notified=notified,
            contacts=contacts,
        ),
    ]


def escalate_deadline(
    case: CaseState, command: cmd.EscalateDeadline, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Escalate an overdue obligation once; it stays open and overdue until it is fulfilled
    or waived, also when the case moved on without it (``ctx.open_obligations``)."""
    found = next(
        (
            o
            for o in ctx.open_obligations
            if (o.kind, o.ref) == (command.kind, command.ref) and o.overdue_on(ctx.today, ctx.now)
        ),
        None,
    )
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
            **envelope(case, ctx),
            kind=found.kind,
            ref=found.ref,
            due=found.due,
            responsible=found.responsible,
            notified=notified,
            contacts=contacts,
        )
    ]


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
    return [ev.MdaCriteriaAssessed(**envelope(case, ctx), met=met, note=command.note)]


def signal_mda(
    case: CaseState, command: cmd.SignalMda, ctx: DecisionContext
) -> list[ev.DomainEvent]:
    """Tell the regiehouder the MDA++ entry criteria are met (once, while not at MDA++)."""
    refuse_when_closed(case, "signalling MDA++")
    _require_mda_criteria(case, ctx)
    if not signal_due(case, ctx.policy, ctx.today):
        raise Refused(
            "MDA++ was signalled, proposed or holds regie already",
            case_id=case.case_id,
            rule="mda_already",
        )
    return [
        ev.MdaSignalled(**envelope(case, ctx), criteria=criteria_met(case, ctx.policy, ctx.today))
    ]
