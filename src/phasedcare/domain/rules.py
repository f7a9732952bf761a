"""The rules that guard the statecharts, each with a reason a professional understands.

A rule returns ``None`` when it holds and a sentence when it fails. The charts run them as
validators, and ``allowed transitions`` runs the same rules to explain what is possible now.
"""

from __future__ import annotations

from collections.abc import Callable

from phasedcare.domain.calendar import add_months
from phasedcare.domain.case import CaseState
from phasedcare.domain.context import DecisionContext
from phasedcare.domain.deadlines import monitoring_moments
from phasedcare.domain.household import MemberRole
from phasedcare.domain.obligations import STANDING, Obligation
from phasedcare.domain.safety import ConditionStatus
from phasedcare.domain.vt_outcome import ended_involvement

__all__ = [
    "CLOSURE_GUARDS",
    "EARLY_CLOSURE_PHASES",
    "PHASE_RULES",
    "VT_RULES",
    "Rule",
    "failures",
    "label",
]

Rule = Callable[[CaseState, DecisionContext], str | None]

_LABELS = {
    "directe_veiligheid": "directe veiligheid",
    "stabiele_veiligheid": "stabiele veiligheid",
    "voorwaarden_en_vervolg": "voorwaarden en vervolg",
    "verzoek_rvdk": "verzoek aan de Raad voor de Kinderbescherming",
    "omgezet_naar_advies": "omgezet naar advies",
    "einde_bemoeienis": "einde bemoeienis",
}


def label(state_value: str) -> str:
    """The words a professional uses for a state value."""
    return _LABELS.get(state_value, state_value)


def is_melding(case: CaseState, ctx: DecisionContext) -> str | None:
    """An advies registers no household, so it cannot enter the phases."""
    if case.opened_via == "advies" and case.vt_stage in ("advies", "afgesloten"):
        return "the case is an advies: convert it to a melding before the phases start"
    return None


def has_members(case: CaseState, ctx: DecisionContext) -> str | None:
    """The persons concerned must be registered first."""
    return None if case.members else "no household members recorded"


def has_agreed_plan(case: CaseState, ctx: DecisionContext) -> str | None:
    """Stable safety needs an agreed safety plan."""
    return None if case.safety_plan is not None else "no agreed safety plan"


def has_condition(case: CaseState, ctx: DecisionContext) -> str | None:
    """A plan or a decision needs at least one safety condition."""
    return None if case.conditions else "no safety condition agreed"


def has_risk_assessment(case: CaseState, ctx: DecisionContext) -> str | None:
    """Stable safety needs a risk assessment when the policy asks for one."""
    if not ctx.policy.stable_safety.risk_assessment_required or case.risk_assessments:
        return None
    return "no risk assessment recorded"


def has_regiehouder(case: CaseState, ctx: DecisionContext) -> str | None:
    """Somebody must hold regie to keep sight of safety."""
    if case.regie_history and case.regie.casusregisseur:
        return None
    return "no regiehouder assigned"


def conditions_checked_and_met(case: CaseState, ctx: DecisionContext) -> str | None:
    """Stable safety needs every safety condition checked and found met, not merely listed:
    one never checked or last found breached is named."""
    open_ = [c for c in case.conditions.values() if c.status is not ConditionStatus.met]
    if not open_:
        return None
    listed = ", ".join(
        f"{c.condition_id} (never checked)"
        if c.status_on is None
        else f"{c.condition_id} ({c.status} on {c.status_on})"
        for c in open_
    )
    return f"safety conditions not checked and met: {listed}"


def all_conditions_met(case: CaseState, ctx: DecisionContext) -> str | None:
    """Herstel needs every safety condition met, when the policy says so."""
    if not ctx.policy.stable_safety.all_conditions_met:
        return None
    if not case.conditions:
        return "no safety condition agreed"
    open_ = [c for c in case.conditions.values() if c.status is not ConditionStatus.met]
    if not open_:
        return None
    listed = ", ".join(f"{c.condition_id} ({c.status})" for c in open_)
    return f"safety conditions not met: {listed}"


def stable_period_lasted(case: CaseState, ctx: DecisionContext) -> str | None:
    """Herstel needs stable safety without incident for the policy's period."""
    months = ctx.policy.stable_safety.incident_free_months
    since = ctx.policy.local_date(case.phase_since) if case.phase_since else ctx.today
    if case.last_incident and case.last_incident > since:
        since = case.last_incident
    ready_on = add_months(since, months)
    if ctx.today >= ready_on:
        return None
    lasted = (ctx.today - since).days
    return (
        f"stable safety has lasted {lasted} days without incident; the policy asks "
        f"{months} months (possible from {ready_on})"
    )


def no_open_handover(case: CaseState, ctx: DecisionContext) -> str | None:
    """A case cannot close while a handover waits for an answer."""
    waiting = case.open_handovers
    if not waiting:
        return None
    return f"handover {waiting[0].handover_id} to {waiting[0].to_organisation} is still open"


def vt_track_closed(case: CaseState, ctx: DecisionContext) -> str | None:
    """A case closes only after Veilig Thuis has closed its track."""
    if case.vt_stage == "afgesloten":
        return None
    return f"Veilig Thuis is still involved (stage: {label(case.vt_stage)})"


EARLY_CLOSURE_PHASES = frozenset({"directe_veiligheid", "stabiele_veiligheid"})
"""Phases a case closes from only when Veilig Thuis ended its involvement or holds regie."""


def closes_from_this_phase(case: CaseState, ctx: DecisionContext) -> str | None:
    """A case closes from herstel; earlier only once Veilig Thuis has ended its involvement
    (einde bemoeienis, omzetten naar advies) or while Veilig Thuis holds regie and decides so."""
    if case.phase not in EARLY_CLOSURE_PHASES:
        return None
    vt_holds_regie = case.regie.organisation == ctx.policy.veilig_thuis.id
    if vt_holds_regie or ended_involvement(case.vt_decisions):
        return None
    return (
        f"the case is in {label(case.phase)}: it closes from herstel, or earlier only when "
        "Veilig Thuis ended its involvement (einde bemoeienis, omzetten naar advies) or "
        "holds regie"
    )


def has_child(case: CaseState, ctx: DecisionContext) -> str | None:
    """A request to the Raad voor de Kinderbescherming concerns a child."""
    if any(m.role is MemberRole.kind for m in case.members.values()):
        return None
    return "no child recorded in the household"


def monitoring_has_begun(case: CaseState, ctx: DecisionContext) -> str | None:
    """Veilig Thuis monitors a household another organisation holds regie over: after an
    overdracht (or a verzoek aan de Raad) not while it holds regie itself without a handover.
    Voorwaarden en vervolg began monitoring with the decision, whoever holds regie."""
    if case.vt_stage == "voorwaarden_en_vervolg":
        return None
    if case.regie.organisation != ctx.policy.veilig_thuis.id:
        return None
    return (
        "Veilig Thuis still holds regie: monitoring follows the overdracht, and begins when "
        "the handover is accepted"
    )


def monitoring_finished(case: CaseState, ctx: DecisionContext) -> str | None:
    """Monitoring closes once the policy's last moment has come and every moment was carried
    out (a check in its window, see :class:`~phasedcare.domain.deadlines.MonitoringMoment`)
    or waived with a reason: judged on the open obligations, where a waived moment is not."""
    moments = monitoring_moments(case, ctx.policy) if case.vt_stage == "monitoring" else []
    if not moments:
        return None
    ends_on = moments[-1].due
    open_refs = {o.ref for o in ctx.open_obligations if o.kind == "monitoring"}
    undone = [m for m in moments if m.ref in open_refs]
    problems = [f"monitoring runs until {ends_on}"] if ctx.today < ends_on else []
    if undone:
        listed = ", ".join(f"{m.ref} (due {m.due}, a check from {m.opens})" for m in undone)
        problems.append(f"monitoring moments not carried out: {listed}")
    return "; ".join(problems) or None


def no_open_obligation(case: CaseState, ctx: DecisionContext) -> str | None:
    """A closure leaves no obligation open unless each was fulfilled or waived with a reason.

    Closing the Veilig Thuis track weighs Veilig Thuis's own obligations (the others' stay
    with the case); closing the case weighs all of them. A recurring duty not yet due (a
    condition's next check, :data:`~phasedcare.domain.obligations.STANDING`) does not hold a
    closure back: the closure ends it as moot. One that is overdue does.
    """
    closing_vt = case.vt_stage != "afgesloten"
    left = [
        o
        for o in ctx.open_obligations
        if (not closing_vt or o.responsible == ctx.policy.veilig_thuis.id)
        and (o.kind not in STANDING or o.overdue_on(ctx.today, ctx.now))
    ]
    if not left:
        return None
    listed = "; ".join(_obligation_line(o, ctx) for o in left)
    return f"open obligations: {listed} (fulfil each, or waive it with a reason)"


def _obligation_line(obligation: Obligation, ctx: DecisionContext) -> str:
    late = ", overdue" if obligation.overdue_on(ctx.today, ctx.now) else ""
    escalated = ", escalated" if obligation.escalated else ""
    return (
        f"{obligation.id} ({obligation.description}; {obligation.responsible}, due "
        f"{obligation.due}{late}{escalated})"
    )


CLOSURE_GUARDS: tuple[Rule, ...] = (no_open_handover, no_open_obligation)
"""The one place that says what must not be left open when a case or the Veilig Thuis track
closes (``afsluiten``, ``vt_afsluiten``): an open handover, an open obligation (issue 14:
"closing a track or a case with open obligations is refused with their list")."""

PHASE_RULES: dict[str, tuple[Rule, ...]] = {
    "start_directe_veiligheid": (is_melding, has_members),
    "naar_stabiele_veiligheid": (
        has_agreed_plan,
        has_condition,
        has_risk_assessment,
        has_regiehouder,
        conditions_checked_and_met,
    ),
    "naar_herstel": (stable_period_lasted, all_conditions_met),
    "terugval": (),
    "afsluiten": (*CLOSURE_GUARDS, vt_track_closed, closes_from_this_phase),
    "heropenen": (),
}

VT_RULES: dict[str, tuple[Rule, ...]] = {
    "start_veiligheidsbeoordeling": (has_members,),
    "omzetten_naar_melding": (),
    "advies_afronden": (),
    "besluit_overdracht": (has_condition,),
    "besluit_voorwaarden_en_vervolg": (has_condition,),
    "besluit_onderzoek": (),
    "besluit_verzoek_rvdk": (has_child,),
    "besluit_omzetten_naar_advies": (),
    "besluit_einde_bemoeienis": (),
    "start_monitoring": (has_condition, monitoring_has_begun),
    "vt_afsluiten": (monitoring_finished, *CLOSURE_GUARDS),
    "nieuwe_melding": (),
}


def failures(
    rules: tuple[Rule, ...], case: CaseState, ctx: DecisionContext
) -> list[tuple[str, str]]:
    """Every failing rule as ``(rule name, reason)``, in the order the rules are listed."""
    found = ((rule.__name__, rule(case, ctx)) for rule in rules)
    return [(name, reason) for name, reason in found if reason is not None]
