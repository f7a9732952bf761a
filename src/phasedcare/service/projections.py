"""The read model: a case's projection row, computed from its state alone."""

from __future__ import annotations

from datetime import date

from phasedcare.domain.calendar import WorkingDayCalendar
from phasedcare.domain.case import CaseState
from phasedcare.domain.obligations import ObligationBook
from phasedcare.domain.policy import RegionalPolicy
from phasedcare.service.ports import CaseProjection, DeadlineRow, HandoverRow

__all__ = ["project"]


def _zicht_until(case: CaseState) -> date | None:
    """The last day zicht op veiligheid is arranged for every melding still waiting for its
    veiligheidsbeoordeling (None: none waits, or one waits without it)."""
    waiting = [m for m in case.assessments if not m.concluded]
    if not waiting or any(m.zicht is None for m in waiting):
        return None
    return min(m.zicht.until for m in waiting if m.zicht is not None)


def project(
    case: CaseState, policy: RegionalPolicy, calendar: WorkingDayCalendar, book: ObligationBook
) -> CaseProjection:
    """The projection row of ``case`` and its obligations ``book``: ids, phases, dates and
    organisations, never a name.

    Its deadline rows are the case's open obligations: what it runs against now and what it
    still owes after moving on without it (the sweep escalates from these rows, so a duty the
    case left behind overdue is escalated too); a waived or fulfilled one is not among them.
    The next deadline is the earliest open obligation.
    """
    if case.opened_at is None or case.updated_at is None:  # pragma: no cover - opened cases only
        msg = f"case {case.case_id} was never opened"
        raise ValueError(msg)
    owed = book.open
    first = owed[0] if owed else None
    return CaseProjection(
        case_id=case.case_id,
        region=case.region,
        opened_via=case.opened_via,
        acute=case.acute,
        phase=case.phase,
        vt_stage=case.vt_stage,
        regie_organisation=case.regie.organisation,
        casusregisseur=case.regie.casusregisseur,
        opened_at=case.opened_at,
        updated_at=case.updated_at,
        sequence=case.sequence,
        next_deadline=first.due if first else None,
        next_deadline_kind=first.kind if first else None,
        next_obligation=first.id if first else None,
        zicht_until=_zicht_until(case),
        deadlines=tuple(
            DeadlineRow(o.due, case.case_id, o.kind, o.ref, o.responsible, o.escalated, o.due_at)
            for o in owed
        ),
        handovers=tuple(
            HandoverRow(
                case_id=case.case_id,
                handover_id=h.handover_id,
                from_organisation=h.from_organisation,
                to_organisation=h.to_organisation,
                purpose=h.purpose,
                status=h.status,
                respond_by=h.respond_by,
                proposed_at=h.proposed_at,
            )
            for h in case.handovers.values()
        ),
    )
