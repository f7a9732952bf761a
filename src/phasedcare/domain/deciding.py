"""What every decision shares: the event envelope, chart moves, terugval, closed cases."""

from __future__ import annotations

from typing import Any

from phasedcare.domain import events as ev
from phasedcare.domain.case import CaseState
from phasedcare.domain.charts import Taxatie, fire
from phasedcare.domain.context import DecisionContext
from phasedcare.domain.vt_outcome import OnderzoekGround
from phasedcare.errors import Refused

__all__ = ["PAST_DIRECTE_VEILIGHEID", "envelope", "refuse_when_closed", "terugval", "transition"]


PAST_DIRECTE_VEILIGHEID = frozenset({"stabiele_veiligheid", "herstel"})


def envelope(case: CaseState, ctx: DecisionContext) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "at": ctx.now,
        "actor": ctx.actor,
        "policy_version": ctx.policy.version,
    }


def transition(
    case: CaseState,
    ctx: DecisionContext,
    chart: str,
    event: str,
    reason: str,
    *,
    taxatie: Taxatie | None = None,
    ground: OnderzoekGround | None = None,
) -> ev.DomainEvent:
    """The event a chart move records; a Veilig Thuis move carries its taxatie and ground."""
    source, target = fire(chart, case, event, ctx, reason=reason, taxatie=taxatie, ground=ground)
    moved = {**envelope(case, ctx), "event": event, "source": source, "target": target}
    if chart == "phase":
        return ev.PhaseTransitioned(**moved, reason=reason)
    given = taxatie or Taxatie()
    return ev.VtStageTransitioned(
        **moved,
        reason=reason,
        acute_onveiligheid=given.acute_onveiligheid,
        structurele_onveiligheid=given.structurele_onveiligheid,
        onderzoek_ground=ground,
    )


def refuse_when_closed(case: CaseState, what: str) -> None:
    if case.phase == "afgesloten":
        raise Refused(
            f"the case is closed: reopen it before {what}", case_id=case.case_id, rule="case_closed"
        )


def terugval(case: CaseState, ctx: DecisionContext, reason: str) -> list[ev.DomainEvent]:
    """A terugval back to directe veiligheid when the case is past it, else nothing."""
    if case.phase not in PAST_DIRECTE_VEILIGHEID:
        return []
    return [transition(case, ctx, "phase", "terugval", reason)]
